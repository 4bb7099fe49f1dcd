"""Writing postings: the thin shell around :mod:`central.ledger`.

:func:`post` runs inside the caller's write transaction. It locks the
accounts it touches, asks :func:`central.ledger.apply` for the new balances,
and writes the transaction, its entries and the balances together. The same
idempotency key again returns the first transaction and changes nothing; the
same key with different entries is a Conflict.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from central import ledger
from central.database import for_update, insert_ignore, now
from central.errors import Conflict
from central.schema import ledger_accounts, ledger_entries, ledger_transactions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Posted:
    transaction_id: int
    replayed: bool  # True when the key had been posted before: nothing changed


def ensure_accounts(conn: Connection, accounts: Iterable[ledger.Account]) -> None:
    """Create the accounts that do not exist yet, with a zero balance."""
    rows = [{"id": a.id, "unit": a.unit, "may_go_negative": a.may_go_negative, "balance": 0,
             "expires_at": a.expires_at, "owner": a.owner} for a in accounts]
    insert_ignore(conn, ledger_accounts, rows, ["id"])


def load_accounts(conn: Connection, ids: Iterable[str], *,
                  lock: bool = False) -> dict[str, ledger.Account]:
    query = select(ledger_accounts).where(ledger_accounts.c.id.in_(sorted(set(ids))))
    if lock:
        query = for_update(query.order_by(ledger_accounts.c.id))
    return {row.id: ledger.Account(row.id, row.unit, row.may_go_negative, row.balance,
                                   row.expires_at, row.owner)
            for row in conn.execute(query)}


def owner_accounts(conn: Connection, owner: str, unit: str, *,
                   lock: bool = False) -> list[ledger.Account]:
    query = select(ledger_accounts).where(ledger_accounts.c.owner == owner,
                                          ledger_accounts.c.unit == unit)
    if lock:
        query = for_update(query.order_by(ledger_accounts.c.id))
    return [ledger.Account(r.id, r.unit, r.may_go_negative, r.balance, r.expires_at, r.owner)
            for r in conn.execute(query)]


def find(conn: Connection, key: str) -> ledger.Posting | None:
    """The posting made under ``key``, if any."""
    row = conn.execute(select(ledger_transactions).where(
        ledger_transactions.c.idempotency_key == key)).first()
    if row is None:
        return None
    entries = conn.execute(select(ledger_entries.c.account_id, ledger_entries.c.amount)
                           .where(ledger_entries.c.transaction_id == row.id)
                           .order_by(ledger_entries.c.account_id)).all()
    return ledger.Posting(row.idempotency_key, row.kind, row.memo,
                          tuple(ledger.Entry(a, n) for a, n in entries))


def post(conn: Connection, posting: ledger.Posting) -> Posted:
    """Apply ``posting`` once. Raises InsufficientFunds, Conflict or LedgerError."""
    digest = posting.digest()
    existing = conn.execute(select(ledger_transactions.c.id, ledger_transactions.c.digest)
                            .where(ledger_transactions.c.idempotency_key == posting.key)).first()
    if existing is not None:
        if existing.digest != digest:
            raise Conflict(f"idempotency key {posting.key} was already used for another posting",
                           code="idempotency_key_reused")
        return Posted(existing.id, replayed=True)
    accounts = load_accounts(conn, (e.account for e in posting.entries), lock=True)
    balances = ledger.apply(posting, accounts)
    # whose posting it is: the person whose account it touches (a posting touches one
    # person's accounts at most), for reports that place money by person
    owner = min((a.owner for a in accounts.values() if a.owner), default=None)
    try:
        with conn.begin_nested():
            transaction_id = conn.execute(ledger_transactions.insert().values(
                idempotency_key=posting.key, kind=posting.kind, memo=posting.memo[:200],
                digest=digest, owner=owner, created_at=now())
                .returning(ledger_transactions.c.id)).scalar_one()
    except IntegrityError as e:  # the same key, committed meanwhile by another request
        raise Conflict(f"posting {posting.key} is being made by another request; retry",
                       code="retry") from e
    conn.execute(ledger_entries.insert(), [
        {"transaction_id": transaction_id, "account_id": e.account, "amount": e.amount}
        for e in posting.entries])
    for account_id, balance in balances.items():
        conn.execute(update(ledger_accounts).where(ledger_accounts.c.id == account_id)
                     .values(balance=balance))
    log.info("posted %s %s: %s", posting.kind, posting.key,
             ", ".join(f"{e.account} {e.amount:+d}" for e in posting.entries))
    return Posted(transaction_id, replayed=False)
