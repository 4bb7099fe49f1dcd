"""Staff review of held messages: approve or reject with a reason code, with
notices to both sides, the stamps refunded per the agency's policy, and
every decision audited. Reviewers see the original beside a translation."""

from __future__ import annotations

import datetime
import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, select, update

from central import ledger
from central.database import for_update
from central.errors import Conflict, InvalidInput, NotFound
from central.schema import holds, messages, residents
from central.services.accounts import policy_of
from central.services.core import Central, audit
from central.services.ledger_store import find, load_accounts, post
from central.services.messaging import deliver, message_record, notify_recipient, notify_sender
from central.services.scope import Scope

log = logging.getLogger(__name__)

# What a rejection can say, to the sender and the recipient alike.
REJECTION_REASONS = {
    "threat": "It threatens someone's safety.",
    "contraband": "It is about drugs, weapons or other contraband.",
    "escape": "It is about escape or the facility's security.",
    "gang": "It is about gang activity.",
    "sexual": "It has sexual content.",
    "victim": "It contacts a victim or a protected person.",
    "coded": "It uses code or language staff cannot read.",
    "rules": "It breaks the facility's messaging rules.",
}


@dataclass(frozen=True)
class HoldView:
    hold_id: int
    status: str
    message: dict[str, Any]
    hits: list[dict[str, Any]]
    held_at: int
    reason_code: str | None
    translation: dict[str, Any] | None


def _held(scope: Scope) -> Select[Any]:
    """Holds of messages to or from residents of the staff member's facilities."""
    return select(holds).join(messages, messages.c.id == holds.c.message_id).join(
        residents, residents.c.id == messages.c.resident_id).where(
        scope.facilities_clause(residents.c.facility_id))


def list_holds(c: Central, status: str = "open", limit: int = 100, *,
               scope: Scope) -> list[HoldView]:
    if status not in ("open", "approved", "rejected"):
        raise InvalidInput("status is open, approved or rejected")
    with c.db.read() as conn:
        rows = conn.execute(_held(scope).where(holds.c.status == status)
                            .order_by(holds.c.held_at, holds.c.id).limit(limit)).all()
        return [HoldView(r.id, r.status, message_record(conn, r.message_id), json.loads(r.hits),
                         r.held_at, r.reason_code, None) for r in rows]


def get_hold(c: Central, hold_id: int, *, scope: Scope, translate: bool = True) -> HoldView:
    """A hold with the message, the hits, and (for reviewers) a translation."""
    with c.db.read() as conn:
        row = conn.execute(_held(scope).where(holds.c.id == hold_id)).first()
        if row is None:
            raise NotFound(f"no hold {hold_id}")
        record = message_record(conn, row.message_id)
    translation = None
    if translate and c.translator is not None:
        t = c.translator.for_reviewer(record["body"])
        translation = {"source_language": t.source_language,
                       "target_language": t.target_language, "text": t.text,
                       "engine": t.engine, "status": t.status, "note": t.note}
    return HoldView(row.id, row.status, record, json.loads(row.hits), row.held_at,
                    row.reason_code, translation)


def _stamps_back(conn: Connection, charge: ledger.Posting, at: int, *,
                 key: str) -> tuple[ledger.Posting, int, int | None]:
    """The exact reversal of a message's charge: every stamp goes back to the
    lot it came from, as it was. A plan's stamps keep the plan's expiry, so
    stamps from a plan that has run out meanwhile come back expired (the next
    expiry sweep moves them out) and never become stamps that last for ever.
    Returns the posting, how many of its stamps came back expired, and when
    the latest of their plans ran out."""
    reversal = ledger.reversal(charge, key=key, kind="message_refund",
                               memo="stamps back for a rejected message")
    lots = load_accounts(conn, [e.account for e in reversal.entries])
    expired, ran_out = 0, None
    for entry in reversal.entries:
        expires_at = lots[entry.account].expires_at
        if entry.amount > 0 and expires_at is not None and expires_at <= at:
            expired += entry.amount
            ran_out = max(ran_out or 0, expires_at)
    return reversal, expired, ran_out


def decide(c: Central, hold_id: int, *, scope: Scope, approve: bool,
           reason_code: str | None = None, note: str = "") -> None:
    """Approve (deliver) or reject (with a reason code) a held message.

    Raises InvalidInput for a rejection without a known reason code and
    Conflict if the hold was already decided.
    """
    if not approve and reason_code not in REJECTION_REASONS:
        raise InvalidInput(f"a rejection needs a reason code: {', '.join(REJECTION_REASONS)}",
                           code="bad_reason")
    if len(note) > 1000:
        raise InvalidInput("a note is at most 1000 characters")
    staff_id = scope.staff_id
    with c.db.write() as conn:
        if conn.execute(_held(scope).where(holds.c.id == hold_id)).first() is None:
            raise NotFound(f"no hold {hold_id}")
        row = conn.execute(for_update(select(holds).where(holds.c.id == hold_id))).one()
        if row.status != "open":
            raise Conflict(f"hold {hold_id} was already {row.status}", code="already_decided")
        at = c.clock()
        status = "approved" if approve else "rejected"
        conn.execute(update(holds).where(holds.c.id == hold_id).values(
            status=status, reviewer_id=staff_id, reason_code=reason_code, note=note,
            decided_at=at))
        msg = conn.execute(select(messages).where(messages.c.id == row.message_id)).one()
        if approve:
            conn.execute(update(messages).where(messages.c.id == msg.id)
                         .values(status="delivered", decided_at=at))
            deliver(conn, c, msg.id)
            notify_sender(conn, c, msg.id, "message_approved",
                          "Your message was reviewed and delivered.")
        else:
            assert reason_code is not None
            conn.execute(update(messages).where(messages.c.id == msg.id)
                         .values(status="rejected", decided_at=at, reason_code=reason_code))
            agency = conn.execute(select(residents.c.agency)
                                  .where(residents.c.id == msg.resident_id)).scalar_one()
            refunded, expired, ran_out = 0, 0, None
            if policy_of(conn, agency).refund_rejected_stamps and msg.stamps:
                charge = find(conn, f"message:{msg.uid}")
                if charge is not None:
                    back, expired, ran_out = _stamps_back(conn, charge, at,
                                                          key=f"refund:message:{msg.uid}")
                    post(conn, back)
                    refunded = msg.stamps
            reason = REJECTION_REASONS[reason_code]
            said = f" {refunded} stamps were returned." if refunded else ""
            if expired:
                day = datetime.datetime.fromtimestamp(ran_out or at, datetime.UTC).date()
                said += (f" {expired} of them came from a plan that ran out on "
                         f"{day.isoformat()}, and have expired with it.")
            notify_sender(conn, c, msg.id, "message_rejected",
                          f"Your message was not delivered. {reason}{said}",
                          reason_code=reason_code, stamps_refunded=refunded,
                          stamps_expired=expired)
            notify_recipient(conn, c, msg.id, "message_rejected",
                             f"A message to you was not delivered. {reason}",
                             reason_code=reason_code)
        audit(conn, c, staff_id, f"hold.{status}", f"message:{msg.uid}",
              resident=msg.resident_id, hold=hold_id,
              reason_code=reason_code, note=note)
