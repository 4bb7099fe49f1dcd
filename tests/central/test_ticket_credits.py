"""A trouble ticket past its deadline unresolved: the credit the agency's
policy gives, once and only once, from the agency to the resident's prepaid
money, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import threading

from sqlalchemy import func, select

from central import ledger
from central.database import for_update
from central.schema import audit_log, ledger_accounts, ledger_entries, ledger_transactions
from central.schema import tickets as ticket_rows
from central.services import accounts, messaging, money, tickets
from tests.central.api_server import ApiServer
from tests.central.facility import SYSTEM, WASHINGTON, Facility
from tests.central.test_essential_requests import _resident
from tests.central.test_must_never_happen import _wait_for_lock_waiters

DAY = 86400
CREDIT = 500


def _credit_policy(f: Facility, cents: int = CREDIT) -> None:
    accounts.set_policy(f.central, "WA", dataclasses.replace(
        WASHINGTON, ticket_late_credit_cents=cents), scope=SYSTEM)


def _ticket(f: Facility, rid: int, uid: str = "ticket-0001") -> int:
    return tickets.file(f.central, rid, uid=uid, category="tablet_broken",
                        description="It will not charge", diagnostics={}, kiosk_id="K-A1")


def _prepaid(f: Facility, rid: int) -> int:
    return money.balances(f.central, f"resident:{rid}").prepaid_cents or 0


def _balances(f: Facility) -> dict[str, int]:
    with f.central.db.read() as conn:
        return {r.id: int(r.balance) for r in conn.execute(select(ledger_accounts))}


def _credits(f: Facility) -> list[tuple[str, str | None]]:
    with f.central.db.read() as conn:
        return [(r.idempotency_key, r.owner) for r in conn.execute(
            select(ledger_transactions).where(ledger_transactions.c.kind == "ticket_credit"))]


def _ledger_is_whole(f: Facility) -> None:
    with f.central.db.read() as conn:
        assert conn.execute(select(func.coalesce(func.sum(ledger_entries.c.amount), 0))
                            ).scalar_one() == 0
        assert conn.execute(select(func.sum(ledger_accounts.c.balance))).scalar_one() == 0


def test_a_ticket_past_its_deadline_is_credited_once(facility: Facility) -> None:
    f = facility
    _credit_policy(f)
    rid = f.admit("100001", "Ann Example").id
    ticket_id = _ticket(f, rid)
    f.clock.advance(14 * DAY - 1)
    tickets.escalate_due(f.central)
    assert tickets.credit_overdue(f.central) == []  # a second before the deadline
    f.clock.advance(1)
    assert tickets.credit_overdue(f.central) == [ticket_id]
    assert tickets.credit_overdue(f.central) == []  # once
    f.clock.advance(30 * DAY)
    assert tickets.credit_overdue(f.central) == []  # and never again

    assert _prepaid(f, rid) == CREDIT
    balances = _balances(f)
    assert balances[ledger.agency_account("WA", "ticket-credits").id] == -CREDIT
    # the posting names its owner, as the monthly report places money by person
    assert _credits(f) == [(f"ticket-credit:{ticket_id}", f"resident:{rid}")]
    _ledger_is_whole(f)

    seen = tickets.view(f.central, ticket_id, resident_id=rid)
    assert (seen.credit_cents, seen.lapsed_at) == (CREDIT, seen.due_at)
    assert [h["kind"] for h in seen.history] == ["filed", "escalated", "credited"]
    assert "$5.00" in seen.history[-1]["text"]
    notices = [r.body for r in messaging.feed_page(f.central, f"resident:{rid}", 0)[1]
               if r.body.get("notice") == "ticket_credit"]
    assert [(n["ticket_id"], n["credit_cents"]) for n in notices] == [(ticket_id, CREDIT)]
    assert "$5.00 was added to your prepaid account" in notices[0]["text"]
    with f.central.db.read() as conn:
        [entry] = conn.execute(select(audit_log).where(audit_log.c.action == "ticket.credit"))
    assert (entry.staff_id, entry.target, entry.facility_id) == (None, f"ticket:{ticket_id}",
                                                                 "F1")
    assert json.loads(entry.detail)["cents"] == CREDIT

    # resolving it afterwards leaves the credit: it was owed when the clock ran out
    tickets.reply(f.central, ticket_id, scope=f.scope("technician"),
                  text="Battery replaced.", resolve=True)
    assert tickets.credit_overdue(f.central) == []
    assert _prepaid(f, rid) == CREDIT


def test_resolved_in_time_is_not_credited_but_resolved_late_is(facility: Facility) -> None:
    f = facility
    _credit_policy(f)
    in_time = f.admit("100001", "Ann Example").id
    late = f.admit("100002", "Bo Example").id
    on_time_ticket = _ticket(f, in_time, "ticket-0001")
    late_ticket = _ticket(f, late, "ticket-0002")
    f.clock.advance(13 * DAY)
    tickets.reply(f.central, on_time_ticket, scope=f.scope("technician"),
                  text="Fixed in time.", resolve=True)
    f.clock.advance(1 * DAY + 3600)
    # resolved an hour after its deadline, before any sweep ran out its clock
    tickets.reply(f.central, late_ticket, scope=f.scope("technician"),
                  text="Fixed, but late.", resolve=True)
    f.clock.advance(3600)
    assert tickets.credit_overdue(f.central) == [late_ticket]
    assert (_prepaid(f, in_time), _prepaid(f, late)) == (0, CREDIT)
    assert tickets.view(f.central, on_time_ticket).credit_cents is None
    assert tickets.view(f.central, late_ticket).credit_cents == CREDIT


def test_an_agency_that_gives_no_credit_records_the_lapse_and_moves_no_money(
        facility: Facility) -> None:
    f = facility
    rid = f.admit("100001", "Ann Example").id
    ticket_id = _ticket(f, rid)
    before = _balances(f)
    f.clock.advance(15 * DAY)
    assert tickets.credit_overdue(f.central) == []  # the default: no credit
    seen = tickets.view(f.central, ticket_id)
    assert (seen.credit_cents, seen.lapsed_at) == (0, f.clock())
    assert seen.history[-1]["kind"] == "lapsed"
    assert _balances(f) == before and _credits(f) == []
    with f.central.db.read() as conn:
        assert conn.execute(select(audit_log.c.target).where(
            audit_log.c.action == "ticket.lapsed")).scalars().all() == [f"ticket:{ticket_id}"]
    # a credit chosen later is not paid on a clock that ran out before it
    _credit_policy(f)
    f.clock.advance(DAY)
    assert tickets.credit_overdue(f.central) == []
    assert _prepaid(f, rid) == 0


def test_two_runs_racing_credit_a_ticket_once(facility: Facility) -> None:
    """Two servers' sweeps (or a sweep and a staff page) run out the same
    ticket's clock at once: one credit."""
    f = facility
    _credit_policy(f)
    rid = f.admit("100001", "Ann Example").id
    ticket_ids = [_ticket(f, rid, f"ticket-{n:04d}") for n in range(1, 4)]
    f.clock.advance(15 * DAY)
    results: list[list[int]] = []
    failures: list[Exception] = []

    def run() -> None:
        try:
            results.append(tickets.credit_overdue(f.central))
        except Exception as e:  # noqa: BLE001 (a failure in a thread is the test's to report)
            failures.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    with f.central.db.write() as conn:  # a third transaction holds the first ticket a moment
        conn.execute(for_update(select(ticket_rows.c.id).where(
            ticket_rows.c.id == ticket_ids[0]))).all()
        for t in threads:
            t.start()
        _wait_for_lock_waiters(f, 2)
    for t in threads:
        t.join(60)
    assert not failures, failures
    assert sorted(i for r in results for i in r) == ticket_ids  # each credited by one run
    assert _prepaid(f, rid) == 3 * CREDIT
    assert sorted(k for k, _ in _credits(f)) == sorted(f"ticket-credit:{i}" for i in ticket_ids)
    _ledger_is_whole(f)
    for ticket_id in ticket_ids:
        kinds = [h["kind"] for h in tickets.view(f.central, ticket_id).history]
        assert kinds.count("credited") == 1


def test_the_resident_and_staff_see_the_credit_through_the_api(api: ApiServer) -> None:
    f = api.facility
    _credit_policy(f)
    me, rid = _resident(api)
    filed = me.post("/v1/resident/tickets", json={
        "uid": "ticket-api-0001", "category": "purchase_missing",
        "description": "My song never came.", "diagnostics": {}})
    assert filed.status_code == 201, filed.text
    assert (filed.json()["credit_cents"], filed.json()["lapsed_at"]) == (None, None)
    f.clock.advance(14 * DAY)
    technician = api.staff("technician")
    [listed] = technician.get("/v1/staff/tickets").json()  # the list runs the clock out
    assert listed["credit_cents"] == CREDIT
    me = api.resident("K-A2", "100001", "736192")  # a new login: sessions are short
    [mine] = me.get("/v1/resident/tickets").json()
    assert (mine["credit_cents"], mine["lapsed_at"]) == (CREDIT, mine["due_at"])
    # what the kiosk shows of a ticket: its history's last line
    assert mine["history"][-1]["kind"] == "credited"
    assert "$5.00 was credited" in mine["history"][-1]["text"]
    assert me.get("/v1/resident/home").json()["prepaid_cents"] == CREDIT
    assert _prepaid(f, rid) == CREDIT
