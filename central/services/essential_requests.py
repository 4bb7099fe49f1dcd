"""Essential requests: medical, grievance, PREA report, legal and records.

A resident files one at a kiosk or drafts it on the tablet (sent up at the
next dock, signed by the tablet); each gets a receipt number to quote, the
agency's deadline for its type, a history the resident can follow, and is
escalated when the deadline passes unanswered. A uid made where it was
written makes every retry the same request.

A PREA report is read only by the staff the agency names in its policy
(``prea_readers``: an agency-level ``prea`` role, agency administrators),
never by a facility's staff: for everyone else it does not exist (NotFound,
and left out of every list).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from central.database import for_update
from central.errors import Conflict, InvalidInput, NotFound
from central.pricing import REQUEST_TYPES, PricingPolicy
from central.schema import essential_request_events, essential_requests, facilities
from central.services import feeds
from central.services.accounts import policy_of, resident
from central.services.core import Central, audit
from central.services.scope import ADMINISTRATOR, Scope

log = logging.getLogger(__name__)
PREA = "prea"
MAX_BODY = 4000
SOURCES = ("kiosk", "tablet")
_UID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_REFERENCE = re.compile(r"[A-Za-z0-9_-]{1,48}")
# Receipt numbers: no 0/O or 1/I/L to misread when a resident reads one aloud.
_RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TYPE_NAMES = {"medical": "medical request", "grievance": "grievance", "prea": "PREA report",
              "legal": "legal request", "records": "records request"}


@dataclass(frozen=True)
class RequestView:
    id: int
    uid: str
    receipt: str
    resident_id: int
    type: str
    body: str
    source: str
    kiosk_reference: str | None
    status: str
    written_at: int | None
    created_at: int
    due_at: int
    escalated_at: int | None
    resolved_at: int | None
    history: list[dict[str, Any]]


def may_read_prea(scope: Scope, policy: PricingPolicy) -> bool:
    """Whether this staff member is one the agency names to read PREA reports:
    pure. A facility's staff never are."""
    if scope.is_system:
        return True
    if scope.facility_id is not None:
        return False
    if scope.role == ADMINISTRATOR:
        return "agency_administrator" in policy.prea_readers
    return scope.role == PREA and PREA in policy.prea_readers


def new_receipt() -> str:
    """A receipt number like ``R-7KQ2-M9XD``: random, so it tells nobody how
    many requests there are, or of which type."""
    chars = "".join(secrets.choice(_RECEIPT_ALPHABET) for _ in range(8))
    return f"R-{chars[:4]}-{chars[4:]}"


def check_request(type_: str, body: str, uid: str) -> str:
    """The request's text, stripped. Raises InvalidInput."""
    if type_ not in REQUEST_TYPES:
        raise InvalidInput(f"a request is one of {', '.join(REQUEST_TYPES)}, not {type_!r}",
                           code="bad_request_type")
    if not _UID.fullmatch(uid):
        raise InvalidInput("a request uid is 8-64 letters, digits, '-' or '_'", code="bad_uid")
    text = body.strip()
    if not (0 < len(text) <= MAX_BODY):
        raise InvalidInput(f"write the request in 1-{MAX_BODY} characters", code="bad_length")
    return text


def file(c: Central, resident_id: int, *, uid: str, type_: str, body: str, source: str,
         kiosk_id: str | None = None, tablet_serial: str | None = None,
         kiosk_reference: str | None = None, written_at: int | None = None) -> RequestView:
    """File a request (or find the one filed under ``uid`` before). Raises
    InvalidInput, NotFound (no such resident), Conflict (the uid is another
    request's)."""
    text = check_request(type_, body, uid)
    if source not in SOURCES:
        raise InvalidInput(f"source is one of {', '.join(SOURCES)}")
    if kiosk_reference is not None and not _REFERENCE.fullmatch(kiosk_reference):
        raise InvalidInput("a kiosk reference is 1-48 letters, digits, '-' or '_'")
    at = c.clock()
    if written_at is not None and not (0 < written_at <= at + 86400):
        raise InvalidInput("written_at is a time in the past", code="bad_time")
    digest = hashlib.sha256(json.dumps([resident_id, type_, text]).encode()).hexdigest()
    with c.db.write() as conn:
        res = resident(conn, id=resident_id)
        existing = conn.execute(select(essential_requests).where(
            essential_requests.c.uid == uid)).first()
        if existing is not None:
            if existing.request_digest != digest:
                raise Conflict(f"request {uid} was already filed with other content",
                               code="uid_reused")
            request_id = int(existing.id)
        else:
            policy = policy_of(conn, str(res.agency))
            days = policy.request_deadline_days[type_]
            due = at + days * 86400
            try:
                with conn.begin_nested():
                    request_id = int(conn.execute(essential_requests.insert().values(
                        uid=uid, receipt=new_receipt(), resident_id=resident_id,
                        facility_id=res.facility_id, type=type_, body=text,
                        request_digest=digest, source=source, kiosk_id=kiosk_id,
                        tablet_serial=tablet_serial, kiosk_reference=kiosk_reference,
                        status="filed", written_at=written_at, created_at=at, due_at=due,
                    ).returning(essential_requests.c.id)).scalar_one())
            except IntegrityError as e:  # the same uid (or receipt) committed meanwhile
                raise Conflict(f"request {uid} is being filed by another request; retry",
                               code="retry") from e
            _event(conn, request_id, at, f"resident:{resident_id}", "filed", text, "filed")
            row = conn.execute(select(essential_requests).where(
                essential_requests.c.id == request_id)).one()
            receipt = row.receipt
            _tell(conn, row, at, "filed",
                  f"Your {TYPE_NAMES[type_]} was received: receipt {receipt}. Staff must "
                  f"answer within {days} days.")
            log.info("request %s (%s) filed for resident %s from the %s", receipt, type_,
                     resident_id, source)
    return _view(c, request_id)


def _event(conn: Connection, request_id: int, at: int, actor: str, kind: str, text: str,
           status: str | None) -> None:
    conn.execute(essential_request_events.insert().values(
        request_id=request_id, at=at, actor=actor, kind=kind, text=text, status=status))


def _tell(conn: Connection, row: Any, at: int, status: str, text: str) -> None:
    """A notice in the resident's feed: the request's uid (the tablet matches
    its draft by it), receipt, type, status and deadline, and a sentence."""
    feeds.append(conn, f"resident:{row.resident_id}", "notice", f"request:{row.id}",
                 {"notice": "request", "request_id": row.id, "uid": row.uid,
                  "receipt": row.receipt, "type": row.type, "status": status,
                  "due_at": row.due_at, "text": text}, at)


def _view(c: Central, request_id: int) -> RequestView:
    with c.db.read() as conn:
        row = conn.execute(select(essential_requests).where(
            essential_requests.c.id == request_id)).one()
        events = conn.execute(select(essential_request_events).where(
            essential_request_events.c.request_id == request_id)
            .order_by(essential_request_events.c.id)).all()
    return RequestView(row.id, row.uid, row.receipt, row.resident_id, row.type, row.body,
                       row.source, row.kiosk_reference, row.status, row.written_at,
                       row.created_at, row.due_at, row.escalated_at, row.resolved_at,
                       [{"at": e.at, "actor": e.actor, "kind": e.kind, "text": e.text,
                         "status": e.status} for e in events])


def _where(row: Any) -> dict[str, Any]:
    """Where an audit entry about a request happened: a PREA report's entries
    belong to no facility (only agency administrators read them), so a
    facility's staff do not learn from the audit log that one exists."""
    if row.type == PREA:
        return {"facility": None, "agency": None}
    return {"facility": row.facility_id, "type": row.type}


def _reachable(conn: Connection, scope: Scope, row: Any) -> bool:
    """Whether a staff member may see this request at all: their facility's,
    and a PREA report only for the readers the agency names."""
    if not scope.covers_facility(row.facility_id):
        return False
    if row.type != PREA:
        return True
    agency = conn.execute(select(facilities.c.agency_id).where(
        facilities.c.id == row.facility_id)).scalar_one()
    return may_read_prea(scope, policy_of(conn, str(agency)))


def view(c: Central, request_id: int, *, resident_id: int | None = None,
         scope: Scope | None = None) -> RequestView:
    """One request with its history: the resident's own (``resident_id``) or
    one in a staff member's reach (``scope``). Raises NotFound otherwise; a
    staff member's reading is audited."""
    with c.db.read() as conn:
        row = conn.execute(select(essential_requests).where(
            essential_requests.c.id == request_id)).first()
        if row is None or (resident_id is not None and row.resident_id != resident_id) \
                or (scope is not None and not _reachable(conn, scope, row)) \
                or (resident_id is None and scope is None):
            raise NotFound(f"no request {request_id}")
    if scope is not None:
        with c.db.write() as conn:
            audit(conn, c, scope.staff_id, "request.read", f"request:{request_id}",
                  **_where(row))
    return _view(c, request_id)


def list_for_resident(c: Central, resident_id: int) -> list[RequestView]:
    with c.db.read() as conn:
        ids = conn.execute(select(essential_requests.c.id).where(
            essential_requests.c.resident_id == resident_id)
            .order_by(essential_requests.c.id.desc()).limit(500)).scalars().all()
    return [_view(c, i) for i in ids]


def list_for_staff(c: Central, *, scope: Scope, status: str | None = None
                   ) -> list[RequestView]:
    """The requests in a staff member's reach, due soonest first; PREA
    reports only for the readers the agency names."""
    query = select(essential_requests).where(
        scope.facilities_clause(essential_requests.c.facility_id))
    if status is not None:
        query = query.where(essential_requests.c.status == status)
    with c.db.read() as conn:
        rows = conn.execute(query.order_by(essential_requests.c.due_at,
                                           essential_requests.c.id).limit(500)).all()
        ids = [r.id for r in rows if _reachable(conn, scope, r)]
    return [_view(c, i) for i in ids]


def reply(c: Central, request_id: int, *, scope: Scope, text: str,
          resolve: bool = False) -> RequestView:
    """Answer a request (and resolve it); audited. Raises NotFound out of
    reach, Conflict when it is resolved already."""
    words = text.strip()
    if not (0 < len(words) <= MAX_BODY):
        raise InvalidInput(f"a reply is 1-{MAX_BODY} characters")
    at = c.clock()
    with c.db.write() as conn:
        row = conn.execute(for_update(select(essential_requests).where(
            essential_requests.c.id == request_id))).first()
        if row is None or not _reachable(conn, scope, row):
            raise NotFound(f"no request {request_id}")
        if row.status == "resolved":
            raise Conflict(f"request {row.receipt} is resolved", code="resolved")
        status = "resolved" if resolve else "answered"
        conn.execute(update(essential_requests).where(essential_requests.c.id == request_id)
                     .values(status=status, resolved_at=at if resolve else None))
        _event(conn, request_id, at, f"staff:{scope.staff_id}", "reply", words, status)
        _tell(conn, row, at, status,
              f"Request {row.receipt}: {'resolved' if resolve else 'staff answered'}.")
        audit(conn, c, scope.staff_id, "request.resolve" if resolve else "request.reply",
              f"request:{request_id}", **_where(row))
    return _view(c, request_id)


def escalate_due(c: Central) -> list[int]:
    """Escalate every request past its deadline and not resolved (once)."""
    at = c.clock()
    with c.db.write() as conn:
        rows = conn.execute(for_update(select(essential_requests).where(
            essential_requests.c.status.in_(("filed", "answered")),
            essential_requests.c.due_at <= at))).all()
        for r in rows:
            conn.execute(update(essential_requests).where(essential_requests.c.id == r.id)
                         .values(status="escalated", escalated_at=at))
            late = (at - r.due_at) // 86400
            _event(conn, r.id, at, "system", "escalated",
                   f"Past its deadline ({late} days late): escalated to supervisors.",
                   "escalated")
            _tell(conn, r, at, "escalated",
                  f"Request {r.receipt} passed its deadline and was escalated to "
                  f"supervisors.")
            audit(conn, c, None, "request.escalate", f"request:{r.id}", **_where(r))
            log.warning("request %s escalated past its deadline", r.receipt)
    return [int(r.id) for r in rows]
