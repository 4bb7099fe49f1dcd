"""Stamps and money: bundles and plans, prepaid transfers from the trust
account, balances, and plan expiry. Every movement is a ledger posting
under an idempotency key (see :mod:`central.ledger`)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, update

from central import ledger
from central.errors import (
    CentralError,
    Conflict,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    PolicyRefused,
)
from central.pricing import check_transfer
from central.schema import ledger_accounts, ledger_entries, residents, transfers
from central.services.accounts import policy_of, require_approved, resident
from central.services.core import Central
from central.services.ledger_store import ensure_accounts, load_accounts, owner_accounts, post
from central.services.messaging import contact_owner

log = logging.getLogger(__name__)


def check_key(key: str) -> str:
    if not (8 <= len(key) <= 100) or not key.isascii() or not key.isprintable():
        raise InvalidInput("an idempotency key is 8-100 printable ASCII characters",
                           code="bad_idempotency_key")
    return key


def internal_key(prefix: str, owner: str, key: str) -> str:
    """The key a client's idempotency key becomes inside the server: scoped to
    its owner (one person's key never meets another's) and of fixed length
    (it fits every column and every system it is passed to)."""
    return f"{prefix}:{owner}:{hashlib.sha256(check_key(key).encode()).hexdigest()[:32]}"


@dataclass(frozen=True)
class StampPurchase:
    stamps: int
    price_cents: int
    expires_at: int | None
    replayed: bool


def _lot(owner: str, key: str, valid_days: int | None, at: int) -> ledger.Account:
    if valid_days is None:
        return ledger.stamp_account(owner)
    lot = "plan-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return ledger.stamp_account(owner, lot, at + valid_days * 86400)


def buy_stamps_for_contact(c: Central, contact_id: int, *, resident_agency_id: str,
                           offer_id: str, card_token: str, key: str) -> StampPurchase:
    """A family member buys stamps by card, to write to residents of one agency."""
    check_key(key)
    with c.db.read() as conn:
        res = resident(conn, agency_id=resident_agency_id)
        require_approved(conn, int(res.id), contact_id)
        agency = str(res.agency)
        offer = policy_of(conn, agency).offer(offer_id)
    owner = contact_owner(contact_id, agency)
    posting_key = internal_key("stamps", owner, key)
    charge = c.payments.charge(card_token, offer.price_cents, posting_key)
    if charge.amount_cents != offer.price_cents:
        raise Conflict("this payment key was used for another amount",
                       code="idempotency_key_reused")
    at = c.clock()
    lot = _lot(owner, key, offer.valid_days, at)
    with c.db.write() as conn:
        ensure_accounts(conn, [lot])
        source = ledger.agency_account(agency, "card-clearing")
        done = post(conn, ledger.stamp_sale(key=posting_key, agency=agency,
                                            buyer_lot=lot, source=source, stamps=offer.stamps,
                                            price_cents=offer.price_cents))
    return StampPurchase(offer.stamps, offer.price_cents, lot.expires_at, done.replayed)


def buy_stamps_for_resident(c: Central, resident_id: int, *, offer_id: str,
                            key: str) -> StampPurchase:
    """A resident buys stamps with prepaid money."""
    check_key(key)
    at = c.clock()
    with c.db.write() as conn:
        res = resident(conn, id=resident_id)
        agency = str(res.agency)
        offer = policy_of(conn, agency).offer(offer_id)
        owner = f"resident:{resident_id}"
        lot = _lot(owner, key, offer.valid_days, at)
        ensure_accounts(conn, [lot])
        done = post(conn, ledger.stamp_sale(
            key=internal_key("stamps", owner, key), agency=agency, buyer_lot=lot,
            source=ledger.prepaid_account(resident_id), stamps=offer.stamps,
            price_cents=offer.price_cents))
    return StampPurchase(offer.stamps, offer.price_cents, lot.expires_at, done.replayed)


@dataclass(frozen=True)
class Transfer:
    amount_cents: int
    prepaid_cents: int
    trust_cents: int | None  # None when this was a replay of a finished transfer
    replayed: bool


def transfer_to_prepaid(c: Central, resident_id: int, *, amount_cents: int,
                        key: str) -> Transfer:
    """Move money from the resident's trust account to their prepaid account.

    The transfer is recorded before the trust system is asked, and the debit
    carries the same key, so a retry after any failure finishes the same
    transfer: the trust account is debited once and the prepaid account
    credited once. Raises PolicyRefused outside the agency's limits,
    InsufficientFunds, UpstreamUnavailable.
    """
    key = internal_key("transfer", f"resident:{resident_id}", key)
    with c.db.write() as conn:
        res = resident(conn, id=resident_id)
        row = conn.execute(select(transfers).where(transfers.c.idempotency_key == key)).first()
        if row is None:  # the limits apply when a transfer starts, not when it is retried
            check_transfer(policy_of(conn, str(res.agency)), amount_cents)
            conn.execute(transfers.insert().values(
                idempotency_key=key, resident_id=resident_id, amount_cents=amount_cents,
                status="debiting", created_at=c.clock()))
        elif row.resident_id != resident_id or row.amount_cents != amount_cents:
            raise Conflict("this transfer key was used for another transfer",
                           code="idempotency_key_reused")
        elif row.status == "failed":
            raise Conflict("this transfer was refused; start a new one", code="transfer_failed")
        elif row.status == "completed":
            prepaid = load_accounts(conn, [ledger.prepaid_account(resident_id).id])
            return Transfer(amount_cents, prepaid[ledger.prepaid_account(resident_id).id].balance,
                            None, replayed=True)
    return _finish_transfer(c, resident_id, str(res.agency), str(res.agency_id), amount_cents,
                            key)


def _finish_transfer(c: Central, resident_id: int, agency: str, agency_id: str,
                     amount_cents: int, key: str) -> Transfer:
    trust_key = "prepaid-" + hashlib.sha256(key.encode()).hexdigest()[:40]
    try:
        debit = c.trust.debit(agency_id, amount_cents, trust_key,
                              "transfer to prepaid (Sallyport)")
    except (InsufficientFunds, PolicyRefused, NotFound):
        with c.db.write() as conn:  # refused for good: a new attempt needs a new key
            conn.execute(update(transfers).where(transfers.c.idempotency_key == key)
                         .values(status="failed"))
        raise
    with c.db.write() as conn:
        post(conn, ledger.prepaid_transfer(key=key, agency=agency,
                                           resident_id=resident_id, amount_cents=amount_cents))
        conn.execute(update(transfers).where(transfers.c.idempotency_key == key)
                     .values(status="completed", trust_debit_id=debit.debit_id))
        prepaid = load_accounts(conn, [ledger.prepaid_account(resident_id).id])
    return Transfer(amount_cents, prepaid[ledger.prepaid_account(resident_id).id].balance,
                    debit.balance_cents, replayed=False)


@dataclass(frozen=True)
class Balances:
    stamps: int
    prepaid_cents: int | None  # residents only
    next_expiry: int | None  # when the soonest plan stamps run out


def balances(c: Central, owner: str) -> Balances:
    at = c.clock()
    with c.db.read() as conn:
        lots = owner_accounts(conn, owner, ledger.STAMPS)
        prepaid = None
        if owner.startswith("resident:"):
            acct = conn.execute(select(ledger_accounts.c.balance).where(
                ledger_accounts.c.id == f"{owner}:prepaid")).scalar()
            if acct is None:
                raise NotFound(f"no prepaid account for {owner}")
            prepaid = int(acct)
    live = ledger.spendable(lots, at)
    expiries = [a.expires_at for a in live if a.expires_at is not None]
    return Balances(sum(a.balance for a in live), prepaid, min(expiries) if expiries else None)


def expire_stamps(c: Central) -> int:
    """Move the stamps of plans that ran out to the agency's expired account."""
    at = c.clock()
    count = 0
    with c.db.read() as conn:
        ids = conn.execute(select(ledger_accounts.c.id).where(
            ledger_accounts.c.expires_at.is_not(None), ledger_accounts.c.expires_at <= at,
            ledger_accounts.c.balance > 0)).scalars().all()
    for account_id in ids:  # one transaction a lot: one bad lot never stops the others
        try:
            with c.db.write() as conn:
                lot = load_accounts(conn, [account_id], lock=True)[account_id]
                if lot.balance <= 0:
                    continue
                agency = _agency_of_owner(conn, str(lot.owner), lot.id)
                # Named by the lot's last posting: stamps that came back to a lot that
                # ran out (a refund) expire under a key of their own, even within a second.
                last = conn.execute(select(func.max(ledger_entries.c.transaction_id)).where(
                    ledger_entries.c.account_id == lot.id)).scalar_one()
                post(conn, ledger.expiry(key=f"expire:{lot.id}:{last}", agency=agency,
                                         lot=lot))
                count += 1
        except CentralError:
            log.exception("could not expire stamp lot %s", account_id)
    return count


def finish_stalled_transfers(c: Central, older_than_s: int = 60) -> int:
    """Finish transfers left half-done (the trust account debited, or maybe not,
    when the request failed): the debit is retried under its key, so it
    happens once, and the prepaid account is credited once."""
    with c.db.read() as conn:
        rows = conn.execute(select(transfers, residents.c.agency, residents.c.agency_id)
                            .join(residents, residents.c.id == transfers.c.resident_id)
                            .where(transfers.c.status == "debiting",
                                   transfers.c.created_at <= c.clock() - older_than_s)).all()
    done = 0
    for r in rows:
        try:
            _finish_transfer(c, r.resident_id, r.agency, r.agency_id, r.amount_cents,
                             r.idempotency_key)
            done += 1
        except CentralError as e:
            log.warning("transfer %s still not finished: %s", r.idempotency_key, e.message)
    return done


def _agency_of_owner(conn: Connection, owner: str, account_id: str) -> str:
    parts = owner.split(":")
    if parts[0] == "contact" and len(parts) == 3:
        return parts[2]
    if parts[0] == "resident":
        return str(resident(conn, id=int(parts[1])).agency)
    raise NotFound(f"cannot tell the agency of {account_id}")
