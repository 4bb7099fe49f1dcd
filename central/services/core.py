"""What every service needs: the database, the blob store, the adapters, the clock."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, and_, false, or_, select, true

from central.blobs import BlobStore
from central.database import Database, now
from central.passwords import Passwords
from central.payments import CardPayments
from central.schema import audit_log, facilities, residents, units
from central.throttle import LoginThrottle
from central.trust_account import TrustAccounts
from device_security.text import printable

if TYPE_CHECKING:
    from central.services.scope import Scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """Rules that are the facility's choice rather than the agency's prices."""

    session_hours: int = 12
    resident_session_minutes: int = 30
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    retention_days: int = 3650
    ticket_resolution_days: int = 14
    ticket_escalate_days_before: int = 3
    max_photo_bytes: int = 10_000_000
    max_videogram_bytes: int = 60_000_000
    max_media_bytes: int = 500_000_000


@dataclass
class Central:
    """The server's parts, passed to every service function."""

    db: Database
    blobs: BlobStore
    trust: TrustAccounts
    payments: CardPayments
    passwords: Passwords
    translator: Any  # central.translation.ReviewTranslator; Any keeps lingua out of imports
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], int] = now
    # compiled keyword screens by (list id, version) tuples; rebuilt when a list changes
    screens: dict[tuple[tuple[int, int], ...], Any] = field(default_factory=dict)
    # raised when a kiosk is retired: kiosk identities verified before then are checked again
    kiosks_changed: int = 0
    logins: LoginThrottle = field(default_factory=LoginThrottle)  # per kiosk, address, account
    # the legal-mail key (device_security.at_rest.Sealer); only central.services.legal_mail
    # uses it, on the delivery path
    legal_seal: Any = None


def audit_visible(scope: Scope) -> ColumnElement[bool]:
    """The audit entries a staff member may read: what happened at their
    facilities, and what concerns their whole agency; an agency administrator
    reads everything of the agency, and what concerns no agency (the catalog,
    which every agency shares)."""
    if scope.is_system:
        return true()
    here = audit_log.c.facility_id.in_(sorted(scope.facility_ids)) if scope.facility_ids \
        else false()
    agency = and_(audit_log.c.facility_id.is_(None), audit_log.c.agency_id == scope.agency_id)
    if scope.agency_wide:
        return or_(here, agency, and_(audit_log.c.facility_id.is_(None),
                                      audit_log.c.agency_id.is_(None)))
    return or_(here, agency)


def audit(conn: Connection, central: Central, staff_id: int | None, action: str, target: str,
          *, facility: str | None = None, agency: str | None = None, unit: str | None = None,
          resident: int | None = None, **detail: Any) -> None:
    """Record a staff action (or a system action when ``staff_id`` is None),
    with where it happened: a ``resident``'s, a ``unit``'s or a ``facility``'s,
    or an ``agency``'s as a whole (none: everyone's, like the catalog)."""
    if resident is not None and facility is None:
        facility = conn.execute(select(residents.c.facility_id).where(
            residents.c.id == resident)).scalar()
    if unit is not None and facility is None:
        facility = conn.execute(select(units.c.facility_id).where(units.c.id == unit)).scalar()
    if facility is not None and agency is None:
        agency = conn.execute(select(facilities.c.agency_id).where(
            facilities.c.id == facility)).scalar()
    conn.execute(audit_log.insert().values(at=central.clock(), staff_id=staff_id, action=action,
                                           target=target, facility_id=facility, agency_id=agency,
                                           detail=json.dumps(detail, sort_keys=True,
                                                             default=str)))
    log.info("audit: staff %s %s %s at %s %s", staff_id, action, printable(target, 200),
             facility or agency or "-", printable(detail, 1000))
