"""Messages, stamps and review through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from central.errors import (
    Conflict,
    Forbidden,
    InsufficientFunds,
    InvalidInput,
    PolicyRefused,
    UpstreamUnavailable,
)
from central.schema import audit_log, holds
from central.services import accounts, messaging, money, review, screening_lists
from central.services.messaging import Attachment, contact_owner
from central.trust_account import HttpTrustAccounts
from simulators.trust_account import TrustAccountSimulator
from tests.central.facility import Facility
from tests.central.facility import build as build_facility


def _stamps(f: Facility, cid: int) -> int:
    return money.balances(f.central, contact_owner(cid, "WA")).stamps


def _feed(f: Facility, feed: str) -> list[tuple[str, dict[str, object]]]:
    return [(r.kind, r.body) for r in messaging.feed_page(f.central, feed, 0)[1]]


def _photo(f: Facility, uploader: str, data: bytes = b"\xff\xd8\xff\xe0 a photo") -> str:
    stored = f.central.blobs.put([data], max_size=1 << 20)
    messaging.record_upload(f.central, stored.sha256, stored.size, "image/jpeg",
                            uploader=uploader, purpose="message")
    return stored.sha256


def test_family_registers_buys_and_sends_a_photo(facility: Facility) -> None:
    f = facility
    ann = f.admit("100001", "Ann Example")
    cid = accounts.register_contact(f.central, "Sis@Example.org", "Sis Example",
                                    "family password 1")
    approval = accounts.request_approval(f.central, cid, "100001", "sister")
    # Not approved yet: a message is refused and nothing is charged.
    with pytest.raises(Forbidden):
        messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                    body="hi")
    accounts.decide_approval(f.central, approval, approve=True, scope=f.scope("reviewer"))
    bought = money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                          offer_id="bundle-35", card_token="tok_sandbox_visa",
                                          key="purchase-0001")
    assert (bought.stamps, bought.price_cents) == (35, 750)
    sha = _photo(f, f"contact:{cid}")
    sent = messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                       body="Happy birthday! Here is the garden.",
                                       attached=[Attachment("photo", sha)])
    assert sent.status == "delivered" and sent.stamps == 2  # message + photo
    assert _stamps(f, cid) == 33
    kinds = _feed(f, f"resident:{ann.id}")
    assert [k for k, _ in kinds] == ["message"]
    body = kinds[0][1]
    assert body["body"] == "Happy birthday! Here is the garden."
    assert body["attachments"] == [{"kind": "photo", "sha256": sha, "size": 12,
                                    "media_type": "image/jpeg"}]
    assert [k for k, _ in _feed(f, f"contact:{cid}")] == ["message"]


def test_a_declined_card_buys_nothing(facility: Facility) -> None:
    f = facility
    f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    with pytest.raises(PolicyRefused):
        money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                     offer_id="bundle-20", card_token="tok_sandbox_declined",
                                     key="purchase-0001")
    assert _stamps(f, cid) == 0


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_a_held_message_is_reviewed_with_notices_to_both_sides(facility: Facility,
                                                               approve: bool) -> None:
    f = facility
    ann = f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    screening_lists.save_list(f.central, scope="facility", scope_id="F1", language="en",
                              terms=["meet at the fence"], reach=f.scope("reviewer"))
    sent = messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                       body="ok so MEET.AT the f-e-n-c-e at 9")
    assert sent.status == "held"
    assert _feed(f, f"resident:{ann.id}") == []  # nothing reaches the resident yet
    assert _feed(f, f"contact:{cid}")[0][1]["notice"] == "message_held"
    [hold] = review.list_holds(f.central, scope=f.scope("reviewer"))
    assert hold.hits[0]["term"] == "meet at the fence"
    assert hold.hits[0]["excerpt"] == "MEET.AT the f-e-n-c-e"
    with pytest.raises(InvalidInput):  # a rejection needs a reason code
        review.decide(f.central, hold.hold_id, scope=f.scope("reviewer"), approve=False)
    review.decide(f.central, hold.hold_id, scope=f.scope("reviewer"), approve=approve,
                  reason_code=None if approve else "escape", note="checked")
    resident_side = _feed(f, f"resident:{ann.id}")
    family_side = _feed(f, f"contact:{cid}")
    if approve:
        assert [k for k, _ in resident_side] == ["message"]
        assert family_side[-1][1]["notice"] == "message_approved"
        assert _stamps(f, cid) == 19
    else:
        assert resident_side == [("notice", resident_side[0][1])]
        assert resident_side[0][1]["reason_code"] == "escape"
        assert "ok so" not in str(resident_side)  # the recipient never sees the text
        assert family_side[-1][1]["notice"] == "message_rejected"
        assert family_side[-1][1]["reason_code"] == "escape"
        assert _stamps(f, cid) == 20  # the agency refunds rejected messages' stamps
    with pytest.raises(Conflict):
        review.decide(f.central, hold.hold_id, scope=f.scope("reviewer"), approve=True)
    with f.central.db.read() as conn:
        actions = [r.action for r in conn.execute(audit_log.select())]
        assert f"hold.{'approved' if approve else 'rejected'}" in actions
        assert conn.execute(holds.select()).one().reviewer_id == f.staff["reviewer"]


def test_a_residents_message_is_charged_once_when_sent_three_times(facility: Facility) -> None:
    f = facility
    ann = f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    _fund_resident(f, ann.id, 1000)
    money.buy_stamps_for_resident(f.central, ann.id, offer_id="bundle-20", key="stamps-0001")
    uid = f.uid("draft")
    results = [messaging.send_from_resident(f.central, ann.id, uid=uid, contact_id=cid,
                                            body="Call me Sunday") for _ in range(3)]
    assert [r.replayed for r in results] == [False, True, True]
    assert len({r.message_id for r in results}) == 1
    assert money.balances(f.central, f"resident:{ann.id}").stamps == 19
    assert [k for k, _ in _feed(f, f"contact:{cid}")] == ["message"]
    # The same uid with other text is refused, not sent as a second message.
    with pytest.raises(Conflict):
        messaging.send_from_resident(f.central, ann.id, uid=uid, contact_id=cid, body="other")


def test_concurrent_retries_of_one_message_charge_once(facility: Facility) -> None:
    f = facility
    ann = f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    _fund_resident(f, ann.id, 500)
    money.buy_stamps_for_resident(f.central, ann.id, offer_id="bundle-20", key="stamps-0001")
    uid = f.uid("draft")
    outcomes: list[object] = []

    def send() -> None:
        try:
            outcomes.append(messaging.send_from_resident(f.central, ann.id, uid=uid,
                                                         contact_id=cid, body="once"))
        except Conflict as e:  # lost the race: the client retries and gets the first result
            outcomes.append(e)
    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert money.balances(f.central, f"resident:{ann.id}").stamps == 19
    assert [k for k, _ in _feed(f, f"contact:{cid}")] == ["message"]


def test_no_stamps_no_message(facility: Facility) -> None:
    f = facility
    ann = f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    with pytest.raises(InsufficientFunds):
        messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                    body="hello")
    assert _feed(f, f"resident:{ann.id}") == []


def test_plan_stamps_are_spent_first_and_expire(facility: Facility) -> None:
    f = facility
    f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    for offer, key in (("bundle-20", "purchase-0001"), ("plan-30", "purchase-0002")):
        money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                     offer_id=offer, card_token="tok_sandbox_visa", key=key)
    assert _stamps(f, cid) == 50
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                body="one")
    f.clock.advance(31 * 86400)
    assert money.expire_stamps(f.central) == 1
    assert _stamps(f, cid) == 20  # the plan's 29 left expired; the bundle is whole


def test_limits_are_enforced(facility: Facility) -> None:
    f = facility
    f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    with pytest.raises(InvalidInput):
        messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                    body="x" * 6001)
    with pytest.raises(InvalidInput):
        messaging.send_from_contact(f.central, cid, uid="short", resident_agency_id="100001",
                                    body="hello")
    with pytest.raises(InvalidInput):  # an attachment that was never uploaded
        messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                    body="look", attached=[Attachment("photo", "0" * 64)])
    sha = _photo(f, f"contact:{cid}")
    with pytest.raises(InvalidInput):
        messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                    body="many", attached=[Attachment("photo", sha)] * 6)


def _fund_resident(f: Facility, resident_id: int, cents: int) -> None:
    trust = f.central.trust
    agency_id = next(r.agency_id for r in f.residents.values() if r.id == resident_id)
    trust.set_balance(agency_id, cents)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(f.central, resident_id, amount_cents=cents,
                              key=f"fund-{resident_id}-{cents}")


def test_a_transfer_through_the_agency_trust_system_survives_its_outage(
        database_url: str, tmp_path: Path, trust_simulator: TrustAccountSimulator) -> None:
    """The real adapter against the simulated trust-account system over HTTP:
    an outage fails the transfer cleanly, and the retry finishes it once."""
    f = build_facility(database_url, tmp_path,
                       trust=HttpTrustAccounts(trust_simulator.url, timeout=2.0))
    try:
        ann = f.admit("100001", "Ann Example")
        trust_simulator.set_balance("100001", 5000)
        trust_simulator.set_fault("unavailable")
        with pytest.raises(UpstreamUnavailable):
            money.transfer_to_prepaid(f.central, ann.id, amount_cents=2000, key="tr-0000001")
        assert money.balances(f.central, f"resident:{ann.id}").prepaid_cents == 0
        trust_simulator.set_fault("none")
        for _ in range(2):  # the kiosk retries, then retries again
            done = money.transfer_to_prepaid(f.central, ann.id, amount_cents=2000,
                                             key="tr-0000001")
        assert done.replayed and done.prepaid_cents == 2000
        assert HttpTrustAccounts(trust_simulator.url).balance("100001").balance_cents == 3000
        with pytest.raises(InsufficientFunds):
            money.transfer_to_prepaid(f.central, ann.id, amount_cents=5000, key="tr-0000002")
        assert money.balances(f.central, f"resident:{ann.id}").prepaid_cents == 2000
    finally:
        f.central.db.dispose()
