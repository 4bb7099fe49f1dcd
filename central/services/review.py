"""Staff review of held messages: approve or reject with a reason code, with
notices to both sides, the stamps refunded per the agency's policy, and
every decision audited. Reviewers see the original beside a translation."""

from __future__ import annotations

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
from central.services.ledger_store import ensure_accounts, find, load_accounts, post
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


def _refund_to_live_lots(conn: Connection, charge: ledger.Posting, at: int, *,
                         key: str) -> ledger.Posting:
    """The reversal of a message's charge, with stamps that came from a plan
    lot that has since run out returned to the owner's bundle stamps instead:
    a refund is never lost to an expiry that already happened."""
    reversal = ledger.reversal(charge, key=key, kind="message_refund",
                               memo="stamps back for a rejected message")
    accounts = load_accounts(conn, [e.account for e in reversal.entries])
    amounts: dict[str, int] = {}
    for entry in reversal.entries:
        account = accounts[entry.account]
        target = account
        if account.expires_at is not None and account.expires_at <= at and account.owner:
            target = ledger.stamp_account(account.owner)
            ensure_accounts(conn, [target])
        amounts[target.id] = amounts.get(target.id, 0) + entry.amount
    return ledger.Posting(reversal.key, reversal.kind, reversal.memo,
                          tuple(ledger.Entry(a, n) for a, n in amounts.items() if n))


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
            refunded = 0
            if policy_of(conn, agency).refund_rejected_stamps and msg.stamps:
                charge = find(conn, f"message:{msg.uid}")
                if charge is not None:
                    post(conn, _refund_to_live_lots(conn, charge, at, key=f"refund:message:"
                                                    f"{msg.uid}"))
                    refunded = msg.stamps
            reason = REJECTION_REASONS[reason_code]
            notify_sender(conn, c, msg.id, "message_rejected",
                          f"Your message was not delivered. {reason}"
                          + (f" {refunded} stamps were returned." if refunded else ""),
                          reason_code=reason_code, stamps_refunded=refunded)
            notify_recipient(conn, c, msg.id, "message_rejected",
                             f"A message to you was not delivered. {reason}",
                             reason_code=reason_code)
        audit(conn, c, staff_id, f"hold.{status}", f"message:{msg.uid}",
              resident=msg.resident_id, hold=hold_id,
              reason_code=reason_code, note=note)
