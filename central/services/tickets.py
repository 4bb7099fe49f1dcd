"""Trouble tickets filed by residents at kiosks: status and history visible to
the resident, a resolution clock that escalates before it runs out, and
answers from staff. A canned reply alone never closes a ticket."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, or_, select, update

from central import ledger
from central.database import for_update
from central.errors import CentralError, Conflict, InvalidInput, NotFound, PolicyRefused
from central.schema import residents, ticket_events, tickets
from central.services import feeds
from central.services.accounts import policy_of
from central.services.core import Central, audit
from central.services.ledger_store import ensure_accounts, post
from central.services.scope import Scope

log = logging.getLogger(__name__)
CATEGORIES = ("tablet_broken", "tablet_sync", "purchase_missing", "refund", "message_missing",
              "kiosk", "account", "other")
MAX_DIAGNOSTICS = 16_384
CANNED_REPLIES = {
    "received": "We received your ticket and are looking into it.",
    "need_tablet": "Please bring your tablet to the unit officer so a technician can check it.",
    "resync": "Please dock your tablet at the kiosk again; the missing item will be re-sent.",
}


@dataclass(frozen=True)
class TicketView:
    id: int
    uid: str
    resident_id: int
    category: str
    description: str
    status: str
    created_at: int
    due_at: int
    escalated_at: int | None
    resolved_at: int | None
    diagnostics: dict[str, Any]
    history: list[dict[str, Any]]
    # when the deadline was found passed unresolved, and the credit given then (0: none)
    lapsed_at: int | None = None
    credit_cents: int | None = None


def file(c: Central, resident_id: int, *, uid: str, category: str, description: str,
         diagnostics: dict[str, Any], kiosk_id: str | None) -> int:
    if category not in CATEGORIES:
        raise InvalidInput(f"category must be one of {', '.join(CATEGORIES)}")
    if not (0 < len(description.strip()) <= 4000):
        raise InvalidInput("describe the problem in 1-4000 characters")
    if not (8 <= len(uid) <= 64):
        raise InvalidInput("a ticket uid is 8-64 characters")
    blob = json.dumps(diagnostics, sort_keys=True)
    if len(blob) > MAX_DIAGNOSTICS:
        raise InvalidInput(f"diagnostics are at most {MAX_DIAGNOSTICS} bytes of JSON")
    at = c.clock()
    due = at + c.settings.ticket_resolution_days * 86400
    with c.db.write() as conn:
        existing = conn.execute(select(tickets).where(tickets.c.uid == uid)).first()
        if existing is not None:
            if existing.resident_id != resident_id:
                raise Conflict("this ticket uid is taken")
            return int(existing.id)
        ticket_id = int(conn.execute(tickets.insert().values(
            uid=uid, resident_id=resident_id, kiosk_id=kiosk_id, category=category,
            description=description.strip(), diagnostics=blob, status="open", created_at=at,
            due_at=due).returning(tickets.c.id)).scalar_one())
        _event(conn, ticket_id, at, f"resident:{resident_id}", "filed", description.strip(),
               "open")
        _tell(conn, resident_id, ticket_id, at,
              f"Ticket {ticket_id} filed. Staff must resolve it within "
              f"{c.settings.ticket_resolution_days} days.")
    return ticket_id


def _event(conn: Connection, ticket_id: int, at: int, actor: str, kind: str, text: str,
           status: str | None) -> None:
    conn.execute(ticket_events.insert().values(ticket_id=ticket_id, at=at, actor=actor,
                                               kind=kind, text=text, status=status))


def _tell(conn: Connection, resident_id: int, ticket_id: int, at: int, text: str) -> None:
    feeds.append(conn, f"resident:{resident_id}", "notice", f"ticket:{ticket_id}",
                 {"notice": "ticket", "ticket_id": ticket_id, "text": text}, at)


def view(c: Central, ticket_id: int, *, resident_id: int | None = None,
         scope: Scope | None = None) -> TicketView:
    """One ticket with its history; ``resident_id`` limits it to its owner,
    ``scope`` to a staff member's facilities."""
    with c.db.read() as conn:
        row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
        if row is None or (resident_id is not None and row.resident_id != resident_id) \
                or (scope is not None and not scope.covers_facility(conn.execute(
                    select(residents.c.facility_id).where(residents.c.id == row.resident_id)
                ).scalar())):
            raise NotFound(f"no ticket {ticket_id}")
        events = conn.execute(select(ticket_events).where(ticket_events.c.ticket_id == ticket_id)
                              .order_by(ticket_events.c.id)).all()
    return TicketView(row.id, row.uid, row.resident_id, row.category, row.description,
                      row.status, row.created_at, row.due_at, row.escalated_at, row.resolved_at,
                      json.loads(row.diagnostics),
                      [{"at": e.at, "actor": e.actor, "kind": e.kind, "text": e.text,
                        "status": e.status} for e in events],
                      row.lapsed_at, row.credit_cents)


def list_tickets(c: Central, *, resident_id: int | None = None,
                 status: str | None = None, scope: Scope | None = None) -> list[TicketView]:
    """A resident's tickets (``resident_id``), or those of the residents in a
    staff member's ``scope``; the ones due soonest first."""
    query = select(tickets.c.id).order_by(tickets.c.due_at, tickets.c.id)
    if scope is not None:
        query = query.join(residents, residents.c.id == tickets.c.resident_id).where(
            scope.facilities_clause(residents.c.facility_id))
    elif resident_id is None:
        raise ValueError("list_tickets needs a resident or a scope")
    if resident_id is not None:
        query = query.where(tickets.c.resident_id == resident_id)
    if status is not None:
        query = query.where(tickets.c.status == status)
    with c.db.read() as conn:
        ids = conn.execute(query.limit(500)).scalars().all()
    return [view(c, i) for i in ids]


def reply(c: Central, ticket_id: int, *, scope: Scope, text: str = "",
          canned: str | None = None, resolve: bool = False) -> None:
    """Answer a ticket. Resolving needs the staff member's own words: a canned
    reply alone cannot close a ticket (PolicyRefused)."""
    if canned is not None and canned not in CANNED_REPLIES:
        raise InvalidInput(f"canned replies: {', '.join(CANNED_REPLIES)}")
    if len(text) > 4000:
        raise InvalidInput("a reply is at most 4000 characters")
    if not text.strip() and canned is None:
        raise InvalidInput("a reply needs text or a canned reply")
    if resolve and not text.strip():
        raise PolicyRefused("a ticket is resolved with your own explanation of what was done; "
                            "a canned reply alone cannot close it", code="canned_cannot_close")
    at = c.clock()
    staff_id = scope.staff_id
    with c.db.write() as conn:
        row = conn.execute(for_update(select(tickets).where(tickets.c.id == ticket_id))).first()
        if row is None or not scope.covers_facility(conn.execute(select(
                residents.c.facility_id).where(residents.c.id == row.resident_id)).scalar()):
            raise NotFound(f"no ticket {ticket_id}")
        if row.status == "resolved":
            raise Conflict(f"ticket {ticket_id} is resolved", code="resolved")
        status = "resolved" if resolve else ("answered" if row.status == "open" else row.status)
        if canned is not None:
            _event(conn, ticket_id, at, f"staff:{staff_id}", "canned", CANNED_REPLIES[canned],
                   None)
        if text.strip():
            _event(conn, ticket_id, at, f"staff:{staff_id}", "reply", text.strip(), status)
        conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(
            status=status, resolved_at=at if resolve else None))
        _tell(conn, row.resident_id, ticket_id, at,
              f"Ticket {ticket_id}: {'resolved' if resolve else 'staff replied'}.")
        audit(conn, c, staff_id, "ticket.resolve" if resolve else "ticket.reply",
              f"ticket:{ticket_id}", resident=row.resident_id, canned=canned)


def escalate_due(c: Central) -> list[int]:
    """Escalate open tickets whose clock is about to run out."""
    at = c.clock()
    soon = at + c.settings.ticket_escalate_days_before * 86400
    with c.db.write() as conn:
        rows = conn.execute(for_update(select(tickets).where(
            tickets.c.status.in_(("open", "answered")), tickets.c.due_at <= soon))).all()
        for r in rows:
            conn.execute(update(tickets).where(tickets.c.id == r.id)
                         .values(status="escalated", escalated_at=at))
            left = max(0, (r.due_at - at) // 86400)
            _event(conn, r.id, at, "system", "escalated",
                   f"Escalated to supervisors: {left} days left of "
                   f"{c.settings.ticket_resolution_days}.", "escalated")
            _tell(conn, r.resident_id, r.id, at,
                  f"Ticket {r.id} was escalated to supervisors.")
            log.warning("ticket %s escalated (%d days left)", r.id, left)
    return [int(r.id) for r in rows]


def _lapsed(at: int) -> tuple[ColumnElement[bool], ...]:
    """Tickets whose deadline passed (by ``at``) before they were resolved, and
    that the clock has not yet been run out on: a ticket resolved after its
    deadline is still owed what the agency gives for a late one."""
    return (tickets.c.lapsed_at.is_(None), tickets.c.due_at <= at,
            or_(tickets.c.resolved_at.is_(None), tickets.c.resolved_at > tickets.c.due_at))


def credit_overdue(c: Central) -> list[int]:
    """Run out the clock on every ticket past its deadline unresolved: once per
    ticket, the credit the resident's agency gives for a late ticket
    (``PricingPolicy.ticket_late_credit_cents``; none when it is 0) goes from
    the agency's ticket-credits account to the resident's prepaid money, the
    ticket's history, the resident and the audit log are told. Returns the
    tickets credited.

    Once and only once: the ticket is marked by a compare-and-set (``UPDATE ...
    WHERE lapsed_at IS NULL``), which a second run, here or on another
    server, waits on and then finds already done; the posting's idempotency
    key is the ticket's, so even a second posting would change nothing. A
    ticket resolved after its deadline keeps its credit: it was owed when
    the clock ran out."""
    at = c.clock()
    with c.db.read() as conn:
        ids = conn.execute(select(tickets.c.id).where(*_lapsed(at))
                           .order_by(tickets.c.due_at, tickets.c.id)).scalars().all()
    credited: list[int] = []
    for ticket_id in ids:  # one transaction a ticket: one failure never stops the others
        try:
            with c.db.write() as conn:
                if _run_out(conn, c, int(ticket_id), at):
                    credited.append(int(ticket_id))
        except CentralError:
            log.exception("could not run out the clock on ticket %s", ticket_id)
    return credited


def _run_out(conn: Connection, c: Central, ticket_id: int, at: int) -> bool:
    """One ticket's deadline passed: True when a credit was given."""
    owner = conn.execute(select(tickets.c.resident_id, residents.c.agency).join(
        residents, residents.c.id == tickets.c.resident_id).where(
        tickets.c.id == ticket_id)).first()
    if owner is None:
        return False
    agency, resident_id = str(owner.agency), int(owner.resident_id)
    cents = policy_of(conn, agency).ticket_late_credit_cents
    marked = conn.execute(update(tickets).where(tickets.c.id == ticket_id, *_lapsed(at))
                          .values(lapsed_at=at, credit_cents=cents)
                          .returning(tickets.c.id)).first()
    if marked is None:  # run out meanwhile by another run, or resolved in time
        return False
    days = c.settings.ticket_resolution_days
    if not cents:
        _event(conn, ticket_id, at, "system", "lapsed",
               f"The {days}-day deadline passed before the ticket was resolved.", None)
        audit(conn, c, None, "ticket.lapsed", f"ticket:{ticket_id}", resident=resident_id)
        log.warning("ticket %s passed its deadline (the agency gives no credit)", ticket_id)
        return False
    posting = ledger.ticket_credit(agency=agency, resident_id=resident_id,
                                   ticket_id=ticket_id, cents=cents)
    ensure_accounts(conn, [ledger.agency_account(agency, "ticket-credits"),
                           ledger.prepaid_account(resident_id)])
    posted = post(conn, posting)
    amount = f"${cents / 100:,.2f}"
    _event(conn, ticket_id, at, "system", "credited",
           f"The {days}-day deadline passed before the ticket was resolved: {amount} "
           "was credited to the resident's prepaid account.", None)
    feeds.append(conn, f"resident:{resident_id}", "notice", f"ticket-credit:{ticket_id}",
                 {"notice": "ticket_credit", "ticket_id": ticket_id, "credit_cents": cents,
                  "text": f"Ticket {ticket_id} was not resolved within {days} days: "
                          f"{amount} was added to your prepaid account."}, at)
    audit(conn, c, None, "ticket.credit", f"ticket:{ticket_id}", resident=resident_id,
          cents=cents, transaction=posted.transaction_id, posting=posting.key)
    log.warning("ticket %s passed its deadline: %s credited to resident %s", ticket_id,
                amount, resident_id)
    return True
