"""The double-entry ledger's rules: pure functions over values, no I/O.

Every movement of money (cents) or stamps is a :class:`Posting`: entries
whose amounts sum to zero per unit, under an idempotency key. Accounts that
hold a person's value may never go below zero; only the agency's clearing
and issue accounts, which stand for value arriving from outside (a trust
account debited, a card charged), may. :func:`apply` checks a posting
against the accounts and returns their new balances, or raises;
:mod:`central.services.ledger` writes the result in one transaction.

Account ids::

    resident:<id>:prepaid          cents, a resident's spendable money
    resident:<id>:stamps           stamps bought as bundles (never expire)
    resident:<id>:stamps:<lot>     stamps of a plan, expiring with the lot
    contact:<id>:stamps[:<lot>]    the same for a family member
    agency:<a>:trust-clearing      cents that came from residents' trust accounts
    agency:<a>:card-clearing       cents paid by card from outside
    agency:<a>:stamp-sales         cents, revenue from stamps
    agency:<a>:media-sales         cents, revenue from media
    agency:<a>:tablet-sales        cents, revenue from tablets given to residents
    agency:<a>:ticket-credits      cents the agency credits residents whose trouble
                                   ticket passed its deadline (its own money: negative)
    agency:<a>:stamp-issue         stamps put into circulation by a sale
    agency:<a>:stamps-used         stamps spent on messages
    agency:<a>:stamps-expired      plan stamps that ran out
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from central.errors import CentralError, InsufficientFunds

CENTS = "cents"
STAMPS = "stamps"

# Agency accounts that may go negative: each stands for value arriving from outside
# (ticket-credits: from the agency's own funds, what it owes residents for late tickets).
_SOURCES = ("trust-clearing", "card-clearing", "stamp-issue", "ticket-credits")
_AGENCY_ACCOUNTS = {
    "trust-clearing": CENTS, "card-clearing": CENTS, "stamp-sales": CENTS,
    "media-sales": CENTS, "tablet-sales": CENTS, "stamp-issue": STAMPS, "stamps-used": STAMPS,
    "stamps-expired": STAMPS, "payouts": CENTS, "payout-fees": CENTS, "ticket-credits": CENTS,
}


class LedgerError(CentralError):
    """A posting that breaks the ledger's rules: a bug in the caller, never user input."""

    status = 500
    code = "ledger_error"


@dataclass(frozen=True)
class Account:
    id: str
    unit: str
    may_go_negative: bool
    balance: int = 0
    expires_at: int | None = None
    owner: str | None = None


@dataclass(frozen=True)
class Entry:
    account: str
    amount: int


@dataclass(frozen=True)
class Posting:
    key: str  # idempotency key: the same key twice is the same posting
    kind: str
    memo: str
    entries: tuple[Entry, ...]

    def digest(self) -> str:
        """A hash of what the posting does, to tell a replay from a different posting."""
        text = "|".join([self.kind] + [f"{e.account}={e.amount}"
                                       for e in sorted(self.entries, key=lambda e: e.account)])
        return hashlib.sha256(text.encode()).hexdigest()


# -- accounts ------------------------------------------------------------------


def agency_account(agency: str, name: str) -> Account:
    """One of the agency's own accounts (see the module docstring)."""
    if name not in _AGENCY_ACCOUNTS:
        raise LedgerError(f"no agency account {name!r}")
    return Account(f"agency:{agency}:{name}", _AGENCY_ACCOUNTS[name],
                   may_go_negative=name in _SOURCES)


def prepaid_account(resident_id: int) -> Account:
    return Account(f"resident:{resident_id}:prepaid", CENTS, False,
                   owner=f"resident:{resident_id}")


def stamp_account(owner: str, lot: str | None = None, expires_at: int | None = None) -> Account:
    """A stamp account of ``owner`` (``resident:<id>`` or ``contact:<id>``).

    Without ``lot`` it holds bundle stamps; with one, a plan's stamps that
    expire at ``expires_at``.
    """
    if (lot is None) != (expires_at is None):
        raise LedgerError("a plan's stamp lot needs an expiry, and only a lot has one")
    suffix = f":{lot}" if lot else ""
    return Account(f"{owner}:stamps{suffix}", STAMPS, False, expires_at=expires_at, owner=owner)


# -- checking ------------------------------------------------------------------


def apply(posting: Posting, accounts: Mapping[str, Account]) -> dict[str, int]:
    """The balances of the posting's accounts after it, or an exception.

    Raises LedgerError if the posting is malformed (fewer than two entries,
    a zero amount, an account twice, an unknown account, or amounts that do
    not sum to zero per unit), and InsufficientFunds if an account that may
    not go negative would.
    """
    if len(posting.entries) < 2:
        raise LedgerError(f"posting {posting.key}: fewer than two entries")
    if not posting.key or len(posting.key) > 128:
        raise LedgerError("an idempotency key must be 1-128 characters")
    seen: set[str] = set()
    sums: dict[str, int] = {}
    after: dict[str, int] = {}
    for entry in posting.entries:
        if entry.amount == 0:
            raise LedgerError(f"posting {posting.key}: a zero entry on {entry.account}")
        if entry.account in seen:
            raise LedgerError(f"posting {posting.key}: {entry.account} appears twice")
        seen.add(entry.account)
        account = accounts.get(entry.account)
        if account is None:
            raise LedgerError(f"posting {posting.key}: unknown account {entry.account}")
        sums[account.unit] = sums.get(account.unit, 0) + entry.amount
        after[account.id] = account.balance + entry.amount
    unbalanced = {unit: total for unit, total in sums.items() if total}
    if unbalanced:
        raise LedgerError(f"posting {posting.key} does not balance: {unbalanced}")
    for account_id, balance in after.items():
        account = accounts[account_id]
        if balance < 0 and not account.may_go_negative and balance < account.balance:
            raise InsufficientFunds(
                f"{_describe(account)} holds {_amount(account.balance, account.unit)}; "
                f"this needs {_amount(account.balance - balance, account.unit)}")
    return after


def _amount(value: int, unit: str) -> str:
    return f"${value / 100:.2f}" if unit == CENTS else f"{value} stamps"


def _describe(account: Account) -> str:
    if account.id.endswith(":prepaid"):
        return "the prepaid account"
    if account.unit == STAMPS:
        return "the stamp balance"
    return account.id


def spendable(lots: Iterable[Account], now: int) -> list[Account]:
    """Stamp lots that can be spent now, in the order they are spent.

    Plan stamps that expire soonest go first; bundle stamps (which never
    expire) last.
    """
    usable = [a for a in lots if a.balance > 0 and (a.expires_at is None or a.expires_at > now)]
    return sorted(usable, key=lambda a: (a.expires_at is None, a.expires_at or 0, a.id))


def stamp_balance(lots: Iterable[Account], now: int) -> int:
    return sum(a.balance for a in spendable(lots, now))


def draw_stamps(lots: Sequence[Account], stamps: int, now: int) -> list[Entry]:
    """Debit entries taking ``stamps`` from ``lots``. Raises InsufficientFunds."""
    entries: list[Entry] = []
    remaining = stamps
    for lot in spendable(lots, now):
        if remaining == 0:
            break
        take = min(lot.balance, remaining)
        entries.append(Entry(lot.id, -take))
        remaining -= take
    if remaining:
        have = stamps - remaining
        raise InsufficientFunds(f"this needs {stamps} stamps; the stamp balance is {have}",
                                code="insufficient_stamps")
    return entries


# -- the postings each operation makes ------------------------------------------


def stamp_sale(*, key: str, agency: str, buyer_lot: Account, source: Account, stamps: int,
               price_cents: int) -> Posting:
    """Stamps bought with money from ``source`` (prepaid or card clearing)."""
    return Posting(key, "stamp_sale", f"{stamps} stamps for {_amount(price_cents, CENTS)}", (
        Entry(source.id, -price_cents),
        Entry(agency_account(agency, "stamp-sales").id, price_cents),
        Entry(agency_account(agency, "stamp-issue").id, -stamps),
        Entry(buyer_lot.id, stamps),
    ))


def message_charge(*, key: str, agency: str, draws: Sequence[Entry]) -> Posting:
    stamps = -sum(e.amount for e in draws)
    return Posting(key, "message", f"{stamps} stamps for a message", (
        *draws, Entry(agency_account(agency, "stamps-used").id, stamps)))


def prepaid_transfer(*, key: str, agency: str, resident_id: int, amount_cents: int) -> Posting:
    """Money debited from the trust account arrives in the prepaid account."""
    return Posting(key, "prepaid_transfer", f"{_amount(amount_cents, CENTS)} from trust", (
        Entry(agency_account(agency, "trust-clearing").id, -amount_cents),
        Entry(prepaid_account(resident_id).id, amount_cents),
    ))


def media_sale(*, key: str, agency: str, resident_id: int, price_cents: int,
               title: str) -> Posting:
    return Posting(key, "media_sale", title[:200], (
        Entry(prepaid_account(resident_id).id, -price_cents),
        Entry(agency_account(agency, "media-sales").id, price_cents),
    ))


def tablet_sale(*, key: str, agency: str, resident_id: int, price_cents: int,
                serial: str) -> Posting:
    """A tablet given to a resident, at the agency's price, from their prepaid money."""
    return Posting(key, "tablet_sale", f"tablet {serial}"[:200], (
        Entry(prepaid_account(resident_id).id, -price_cents),
        Entry(agency_account(agency, "tablet-sales").id, price_cents),
    ))


def media_refund(*, key: str, agency: str, resident_id: int, cents: int, memo: str) -> Posting:
    """Money back for the files of a purchase that were never delivered: the
    caller passes what those files cost, never what was delivered."""
    return Posting(key, "media_refund", memo[:200], (
        Entry(agency_account(agency, "media-sales").id, -cents),
        Entry(prepaid_account(resident_id).id, cents),
    ))


def ticket_credit(*, agency: str, resident_id: int, ticket_id: int, cents: int) -> Posting:
    """The agency's credit to a resident whose trouble ticket passed its
    deadline unresolved: from the agency's ticket-credits account to their
    prepaid money, once per ticket (the key is the ticket's)."""
    if cents <= 0:
        raise LedgerError(f"a ticket credit is positive, not {cents}")
    return Posting(f"ticket-credit:{ticket_id}", "ticket_credit",
                   f"ticket {ticket_id} passed its deadline", (
                       Entry(agency_account(agency, "ticket-credits").id, -cents),
                       Entry(prepaid_account(resident_id).id, cents),
                   ))


def release_payout(*, key: str, agency: str, resident_id: int, net_cents: int,
                   fee_cents: int, option: str) -> Posting:
    """A released resident's prepaid balance leaves by the option they chose:
    what they receive to the agency's payouts account (paid out from there by
    the agency), the option's fee to its fees account."""
    entries = [Entry(prepaid_account(resident_id).id, -(net_cents + fee_cents))]
    if net_cents:
        entries.append(Entry(agency_account(agency, "payouts").id, net_cents))
    if fee_cents:
        entries.append(Entry(agency_account(agency, "payout-fees").id, fee_cents))
    return Posting(key, "release_payout", f"released: {option}"[:200], tuple(entries))


def reversal(original: Posting, *, key: str, kind: str, memo: str) -> Posting:
    """The exact opposite of ``original``: a refund never gives back more than was paid."""
    return Posting(key, kind, memo[:200],
                   tuple(Entry(e.account, -e.amount) for e in original.entries))


def partial_reversal(original: Posting, lots: Mapping[str, Account], stamps: int, *,
                     key: str, kind: str, memo: str) -> Posting:
    """Give back ``stamps`` of the stamps a charge (``original``, drawn by
    :func:`draw_stamps`) took: each to a lot it came from, never more than
    that lot gave, the lots spent last first. What stays charged is then
    what the message would have cost without the part refunded, drawn as it
    would have been, so a plan's stamps never come back as bundle stamps.

    Raises LedgerError for a refund of nothing, of more than was charged, or
    a charge whose lots are not in ``lots``."""
    draws = [e for e in original.entries if e.amount < 0]
    charged = -sum(e.amount for e in draws)
    sinks = [e for e in original.entries if e.amount > 0]
    if not 0 < stamps <= charged or len(sinks) != 1:
        raise LedgerError(f"posting {original.key}: cannot give back {stamps} of "
                          f"{charged} stamps")
    missing = [e.account for e in draws if e.account not in lots]
    if missing:
        raise LedgerError(f"posting {original.key}: unknown lots {missing}")
    order = sorted(draws, key=lambda e: (lots[e.account].expires_at is None,
                                         lots[e.account].expires_at or 0, e.account),
                   reverse=True)
    entries: list[Entry] = []
    remaining = stamps
    for draw in order:
        if remaining == 0:
            break
        back = min(-draw.amount, remaining)
        entries.append(Entry(draw.account, back))
        remaining -= back
    return Posting(key, kind, memo[:200], (*entries, Entry(sinks[0].account, -stamps)))


def expiry(*, key: str, agency: str, lot: Account) -> Posting:
    return Posting(key, "stamp_expiry", f"{lot.balance} plan stamps expired", (
        Entry(lot.id, -lot.balance),
        Entry(agency_account(agency, "stamps-expired").id, lot.balance),
    ))
