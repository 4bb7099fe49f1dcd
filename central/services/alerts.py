"""The alerts inbox: kiosks report pairing refusals; staff acknowledge them
and add notes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from central.database import for_update
from central.errors import InvalidInput, NotFound
from central.schema import alert_notes, alerts, kiosks
from central.services.core import Central, audit
from central.services.scope import Scope
from device_security.text import printable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertReport:
    """What a kiosk says about a refusal (see device_security.alerts)."""

    uid: str
    reason: str
    detail: str
    tablet_serial: str | None
    resident_agency_id: str | None
    resident_name: str | None
    registered_owner: str | None
    raised_at: int


def record(c: Central, kiosk_id: str, report: AlertReport) -> int:
    """Store a kiosk's alert once (the uid makes a resend harmless)."""
    if not (8 <= len(report.uid) <= 64):
        raise InvalidInput("an alert uid is 8-64 characters")
    with c.db.write() as conn:
        return record_in(conn, kiosk_id, report)


def record_in(conn: Connection, kiosk_id: str, report: AlertReport) -> int:
    """:func:`record` inside the caller's transaction."""
    existing = conn.execute(select(alerts.c.id).where(
        alerts.c.kiosk_id == kiosk_id, alerts.c.uid == report.uid)).scalar()
    if existing is not None:
        return int(existing)
    location = conn.execute(select(kiosks.c.location_code)
                            .where(kiosks.c.id == kiosk_id)).scalar_one()
    try:
        with conn.begin_nested():
            alert_id = int(conn.execute(alerts.insert().values(
                uid=report.uid, kiosk_id=kiosk_id, location_code=location,
                reason=report.reason, detail=report.detail,
                tablet_serial=report.tablet_serial,
                resident_agency_id=report.resident_agency_id,
                resident_name=report.resident_name,
                registered_owner=report.registered_owner, raised_at=report.raised_at,
                status="open").returning(alerts.c.id)).scalar_one())
    except IntegrityError:
        return int(conn.execute(select(alerts.c.id).where(
            alerts.c.kiosk_id == kiosk_id, alerts.c.uid == report.uid)).scalar_one())
    log.warning("alert from kiosk %s at %s: %s (tablet %s)", printable(kiosk_id, 32),
                printable(location, 64), printable(report.reason, 64),
                printable(report.tablet_serial, 80))
    return alert_id


def inbox(c: Central, status: str | None = "open", limit: int = 100, *,
          scope: Scope) -> list[dict[str, Any]]:
    """Alerts raised at kiosks of the staff member's facilities, newest first."""
    query = select(alerts).join(kiosks, kiosks.c.id == alerts.c.kiosk_id).where(
        scope.units_clause(kiosks.c.unit_id)).order_by(
        alerts.c.raised_at.desc(), alerts.c.id.desc()).limit(limit)
    if status is not None:
        if status not in ("open", "acknowledged"):
            raise InvalidInput("status is open or acknowledged")
        query = query.where(alerts.c.status == status)
    with c.db.read() as conn:
        rows = conn.execute(query).all()
        out = []
        for r in rows:
            notes = conn.execute(select(alert_notes).where(alert_notes.c.alert_id == r.id)
                                 .order_by(alert_notes.c.id)).all()
            out.append({**r._asdict(), "notes": [{"staff_id": n.staff_id, "text": n.text,
                                                  "at": n.at} for n in notes]})
    return out


def _unit_of(conn: Any, kiosk_id: object) -> str | None:
    unit: str | None = conn.execute(select(kiosks.c.unit_id).where(
        kiosks.c.id == kiosk_id)).scalar()
    return unit


def _in_scope(conn: Any, alert_kiosk: object, scope: Scope) -> bool:
    return scope.covers_unit(_unit_of(conn, alert_kiosk))


def acknowledge(c: Central, alert_id: int, *, scope: Scope, note: str = "") -> None:
    staff_id = scope.staff_id
    with c.db.write() as conn:
        row = conn.execute(for_update(select(alerts).where(alerts.c.id == alert_id))).first()
        if row is None or not _in_scope(conn, row.kiosk_id, scope):
            raise NotFound(f"no alert {alert_id}")
        if row.status == "open":
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
                status="acknowledged", acknowledged_by=staff_id, acknowledged_at=c.clock()))
        if note:
            _note(conn, c, alert_id, staff_id, note)
        audit(conn, c, staff_id, "alert.acknowledge", f"alert:{alert_id}",
              unit=_unit_of(conn, row.kiosk_id), note=note)


def add_note(c: Central, alert_id: int, *, scope: Scope, text: str) -> None:
    with c.db.write() as conn:
        kiosk = conn.execute(select(alerts.c.kiosk_id).where(alerts.c.id == alert_id)).scalar()
        if kiosk is None or not _in_scope(conn, kiosk, scope):
            raise NotFound(f"no alert {alert_id}")
        _note(conn, c, alert_id, scope.staff_id, text)
        audit(conn, c, scope.staff_id, "alert.note", f"alert:{alert_id}",
              unit=_unit_of(conn, kiosk))


def _note(conn: Any, c: Central, alert_id: int, staff_id: int | None, text: str) -> None:
    if not (0 < len(text.strip()) <= 2000):
        raise InvalidInput("a note is 1-2000 characters")
    conn.execute(alert_notes.insert().values(alert_id=alert_id, staff_id=staff_id,
                                             text=text.strip(), at=c.clock()))
