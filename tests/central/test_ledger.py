"""The ledger: the pure rules, and property tests over random sequences of real
operations on SQLite and PostgreSQL: every posting balances, nothing that
holds a person's value goes negative, and replaying any operation changes
nothing."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from central import ledger
from central.errors import CentralError, InsufficientFunds
from central.schema import ledger_accounts, ledger_entries
from central.services import media, messaging, money
from central.services.media import Item
from tests.central.facility import SYSTEM, Facility

# -- the pure rules --------------------------------------------------------------


def _accounts(*accounts: ledger.Account) -> dict[str, ledger.Account]:
    return {a.id: a for a in accounts}


def test_a_posting_that_does_not_balance_is_refused() -> None:
    prepaid = ledger.Account("resident:1:prepaid", ledger.CENTS, False, 500)
    sales = ledger.agency_account("WA", "media-sales")
    posting = ledger.Posting("k-1", "media_sale", "", (ledger.Entry(prepaid.id, -100),
                                                       ledger.Entry(sales.id, 99)))
    with pytest.raises(ledger.LedgerError, match="does not balance"):
        ledger.apply(posting, _accounts(prepaid, sales))


def test_units_balance_separately() -> None:
    """Cents cannot pay for stamps' side of a posting, or the other way round."""
    stamps = ledger.stamp_account("resident:1")
    prepaid = ledger.Account("resident:1:prepaid", ledger.CENTS, False, 500)
    posting = ledger.Posting("k-1", "x", "", (ledger.Entry(prepaid.id, -5),
                                              ledger.Entry(stamps.id, 5)))
    with pytest.raises(ledger.LedgerError):
        ledger.apply(posting, _accounts(prepaid, stamps))


def test_a_persons_account_never_goes_negative() -> None:
    prepaid = ledger.Account("resident:1:prepaid", ledger.CENTS, False, 100)
    sales = ledger.agency_account("WA", "media-sales")
    posting = ledger.media_sale(key="k-1", agency="WA", resident_id=1, price_cents=129,
                                title="a song")
    with pytest.raises(InsufficientFunds):
        ledger.apply(posting, _accounts(prepaid, sales))


@pytest.mark.parametrize("bad", [
    (),
    ((("resident:1:prepaid", 0), ("agency:WA:media-sales", 0))),
    ((("resident:1:prepaid", -1), ("resident:1:prepaid", 1))),
    ((("resident:1:prepaid", -1), ("nobody", 1))),
])
def test_malformed_postings_are_refused(bad: tuple[tuple[str, int], ...]) -> None:
    prepaid = ledger.Account("resident:1:prepaid", ledger.CENTS, False, 100)
    sales = ledger.agency_account("WA", "media-sales")
    posting = ledger.Posting("k-1", "x", "", tuple(ledger.Entry(a, n) for a, n in bad))
    with pytest.raises(ledger.LedgerError):
        ledger.apply(posting, _accounts(prepaid, sales))


@given(st.lists(st.integers(min_value=1, max_value=50), max_size=6),
       st.integers(min_value=1, max_value=120), st.integers(min_value=0, max_value=100))
def test_drawing_stamps_takes_exactly_what_is_asked(lot_sizes: list[int], want: int,
                                                    now: int) -> None:
    lots = [ledger.Account(f"o:stamps:l{i}", ledger.STAMPS, False, n, expires_at=50 + i * 10,
                           owner="o") for i, n in enumerate(lot_sizes)]
    lots.append(ledger.Account("o:stamps", ledger.STAMPS, False, 7, owner="o"))
    live = ledger.stamp_balance(lots, now)
    if want > live:
        with pytest.raises(InsufficientFunds):
            ledger.draw_stamps(lots, want, now)
        return
    entries = ledger.draw_stamps(lots, want, now)
    assert -sum(e.amount for e in entries) == want
    by_id = {a.id: a for a in lots}
    for e in entries:
        lot = by_id[e.account]
        assert 0 < -e.amount <= lot.balance
        assert lot.expires_at is None or lot.expires_at > now  # never from an expired lot


# -- random sequences of real operations --------------------------------------------

OPERATIONS = ("transfer", "resident_stamps", "resident_plan", "family_stamps", "family_plan",
              "resident_message", "family_message", "buy_song", "buy_album", "time_passes",
              "sweep", "replay")


def _totals(f: Facility) -> tuple[dict[str, int], dict[str, int], list[tuple[str, int]]]:
    """Balances by unit; balances against the sum of each account's entries; negatives."""
    with f.central.db.read() as conn:
        units = dict(conn.execute(select(ledger_accounts.c.unit,
                                         func.sum(ledger_accounts.c.balance))
                                  .group_by(ledger_accounts.c.unit)).all())
        sums = dict(conn.execute(select(ledger_entries.c.account_id,
                                        func.sum(ledger_entries.c.amount))
                                 .group_by(ledger_entries.c.account_id)).all())
        rows = conn.execute(select(ledger_accounts)).all()
    mismatched = {r.id: r.balance for r in rows if r.balance != int(sums.get(r.id, 0))}
    negative = [(r.id, r.balance) for r in rows if r.balance < 0 and not r.may_go_negative]
    return {u: int(v) for u, v in units.items()}, mismatched, negative


def _snapshot(f: Facility) -> dict[str, int]:
    with f.central.db.read() as conn:
        return {r.id: r.balance for r in conn.execute(select(ledger_accounts))}


_examples = itertools.count()


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 3),
                          st.integers(1, 40)), min_size=5, max_size=30))
def test_random_operations_keep_the_ledger_whole(facility: Facility,
                                                 ops: list[tuple[str, int, int]]) -> None:
    f = facility
    run = next(_examples)
    residents = [f.admit(f"{run:03d}{i:04d}", f"Resident {i}") for i in range(2)]
    families = [f.family(f"fam{run}-{i}@example.org", f"Family {i}",
                         approved_for=residents[i].agency_id) for i in range(2)]
    for r in residents:
        f.central.trust.set_balance(r.agency_id, 50_000)  # type: ignore[attr-defined]
        money.transfer_to_prepaid(f.central, r.id, amount_cents=2000, key=f"seed-transfer-{r.id}")
        money.buy_stamps_for_resident(f.central, r.id, offer_id="bundle-20",
                                      key=f"seed-stamps-{r.id}")
    for sha in ["a" * 64] + [f"{t:x}" * 64 for t in range(3)]:
        messaging.record_upload(f.central, sha, 1000, "audio/mpeg", uploader="staff:1",
                                purpose="media")
    song = f"s{run}"
    media.add_item(f.central, Item(song, "song", "A Song", "An Artist", None, "Label", 129,
                                   "a" * 64, 200, False), scope=SYSTEM)
    album = f"a{run}"
    media.add_item(f.central, Item(album, "album", "An Album", "An Artist", None, "Label", 999,
                                   None, 0, False), scope=SYSTEM)
    for t in range(3):
        media.add_item(f.central, Item(f"{album}t{t}", "song", f"Track {t}", "An Artist", album,
                                       "Label", 129, f"{t:x}" * 64, 200, False), scope=SYSTEM)
    done: list[Callable[[], object]] = []
    keys = itertools.count()
    for name, who, amount in ops:
        r = residents[who % 2]
        c = families[who % 2]
        key = f"key-{run}-{next(keys):06d}"
        action: Callable[[], object] | None = {  # type: ignore[assignment]
            "transfer": lambda r=r, key=key, amount=amount: money.transfer_to_prepaid(
                f.central, r.id, amount_cents=500 * (amount % 4 + 1), key=key),
            "resident_stamps": lambda r=r, key=key: money.buy_stamps_for_resident(
                f.central, r.id, offer_id="bundle-20", key=key),
            "resident_plan": lambda r=r, key=key: money.buy_stamps_for_resident(
                f.central, r.id, offer_id="plan-30", key=key),
            "family_stamps": lambda r=r, c=c, key=key: money.buy_stamps_for_contact(
                f.central, c, resident_agency_id=r.agency_id, offer_id="bundle-35",
                card_token="tok_sandbox_visa", key=key),
            "family_plan": lambda r=r, c=c, key=key: money.buy_stamps_for_contact(
                f.central, c, resident_agency_id=r.agency_id, offer_id="plan-30",
                card_token="tok_sandbox_visa", key=key),
            "resident_message": lambda r=r, c=c, key=key: messaging.send_from_resident(
                f.central, r.id, uid=key, contact_id=c, body="hello"),
            "family_message": lambda r=r, c=c, key=key: messaging.send_from_contact(
                f.central, c, uid=key, resident_agency_id=r.agency_id, body="hello"),
            "buy_song": lambda r=r, key=key: media.purchase(f.central, r.id, song, key=key),
            "buy_album": lambda r=r, key=key: media.purchase(f.central, r.id, album, key=key),
        }.get(name)
        if name == "time_passes":
            f.clock.advance(amount * 86400)
            continue
        if name == "sweep":
            media.refund_undelivered(f.central)
            money.expire_stamps(f.central)
            continue
        if name == "replay":
            if done:
                before = _snapshot(f)
                # A replay may be refused (a refunded purchase); either way nothing changes.
                with contextlib.suppress(CentralError):
                    done[amount % len(done)]()
                assert _snapshot(f) == before, "replaying an operation changed a balance"
            continue
        assert action is not None
        try:
            action()
        except CentralError:
            continue  # refused (no money, already owned, ...): refused cleanly
        done.append(action)
        units, mismatched, negative = _totals(f)
        assert all(total == 0 for total in units.values()), units
        assert not mismatched, mismatched
        assert not negative, negative
