"""A held message decided part by part: the text and each attachment
approved or rejected on their own, what was approved delivered, both sides
told what was withheld and why, stamps refunded per the agency's policy;
the review queue in one query a page. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from central import ledger
from central.errors import Conflict, InvalidInput, NotFound
from central.passwords import Passwords
from central.payments import SandboxCardPayments
from central.pricing import PricingPolicy, rejection_refund
from central.schema import (
    attachments,
    audit_log,
    blobs,
    ledger_accounts,
    ledger_entries,
    staff,
)
from central.services import accounts, messaging, money, prices, review
from central.services.core import Central
from central.services.messaging import Attachment, contact_owner
from central.services.review import Verdict
from central.services.scope import scope_of
from central.trust_account import InMemoryTrustAccounts
from tests.central.api_server import ApiServer
from tests.central.facility import (
    STAFF_PASSWORD,
    SYSTEM,
    WASHINGTON,
    Facility,
    unthrottled,
)

NO = Verdict(False, "sexual")
YES = Verdict(True)


def _policy(f: Facility, **changes: Any) -> None:
    accounts.set_policy(f.central, "WA", dataclasses.replace(
        WASHINGTON, **{"review_attachments": True, **changes}), scope=SYSTEM)


def _raise_price(f: Facility, target: str, value: int) -> None:
    """A price changes as it does for residents: proposed by one agency
    administrator, approved by another, applied when its time comes."""
    _policy(f, price_notice_days=0)
    second = accounts.create_staff(f.central, "admin-2", "Second Admin", "administrator",
                                   STAFF_PASSWORD, scope=SYSTEM, facility_id=None,
                                   agency_id="WA")
    change = prices.propose(f.central, target=target, new_value=value,
                            effective_at=f.clock(), scope=f.scope("administrator"),
                            agency_id="WA")
    with f.central.db.read() as conn:
        prices.approve(f.central, change.id, scope=scope_of(conn, second))
    assert prices.apply_due(f.central) == [change.id]


def _photo(f: Facility, uploader: str, tag: bytes) -> str:
    stored = f.central.blobs.put([b"\xff\xd8\xff\xe0 a photo " + tag], max_size=1 << 20)
    messaging.record_upload(f.central, stored.sha256, stored.size, "image/jpeg",
                            uploader=uploader, purpose="message")
    return stored.sha256


def _feed(f: Facility, feed: str) -> list[tuple[str, dict[str, Any]]]:
    return [(r.kind, r.body) for r in messaging.feed_page(f.central, feed, 0)[1]]


def _stamps(f: Facility, cid: int) -> int:
    return money.balances(f.central, contact_owner(cid, "WA")).stamps


def _balanced(f: Facility) -> None:
    """Every unit sums to zero, and every account's balance is the sum of its entries."""
    with f.central.db.read() as conn:
        sums = conn.execute(select(ledger_accounts.c.unit, func.sum(ledger_entries.c.amount))
                            .join(ledger_entries,
                                  ledger_entries.c.account_id == ledger_accounts.c.id)
                            .group_by(ledger_accounts.c.unit)).all()
        assert all(total == 0 for _, total in sums), sums
        for account in conn.execute(select(ledger_accounts)).all():
            entered = conn.execute(select(func.coalesce(func.sum(ledger_entries.c.amount), 0))
                                   .where(ledger_entries.c.account_id == account.id)
                                   ).scalar_one()
            assert account.balance == entered, account.id


def _two_photos(f: Facility, *, language: str = "en", body: str = "Look: the garden and us",
                ) -> tuple[int, int, list[str], int]:
    """A family writes a two-photo message that is held; returns the resident,
    the family, the photos' hashes and the hold."""
    ann = accounts.create_resident(f.central, agency_id="100001", agency="WA",
                                   name="Ann Example", facility_id="F1", unit_id="U-A",
                                   language=language, scope=SYSTEM)
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    shas = [_photo(f, f"contact:{cid}", b"one"), _photo(f, f"contact:{cid}", b"two")]
    sent = messaging.send_from_contact(
        f.central, cid, uid=f.uid(), resident_agency_id="100001", body=body,
        attached=[Attachment("photo", s) for s in shas])
    assert (sent.status, sent.stamps) == ("held", 3)  # the message and two photos
    [hold] = review.list_holds(f.central, scope=f.scope("reviewer"))
    return ann.id, cid, shas, hold.hold_id


def test_one_photo_rejected_the_text_and_the_other_delivered(facility: Facility) -> None:
    f = facility
    _policy(f)
    rid, cid, (kept, withheld), hold_id = _two_photos(f)
    assert _stamps(f, cid) == 17
    reviewer = f.scope("reviewer")
    # The text and the first photo first: the hold stays open, nothing is delivered.
    first = review.decide_parts(f.central, hold_id, scope=reviewer, text=YES,
                                attachments={0: YES})
    assert first.status == "open" and first.stamps_refunded == 0
    assert [p.state for p in first.parts] == ["approved", "approved", "open"]
    assert _feed(f, f"resident:{rid}") == []
    [listed] = messaging.contact_messages(f.central, cid)  # the family's message list
    assert [p.state for p in listed.parts] == ["held"] * 3
    done = review.decide_parts(f.central, hold_id, scope=reviewer, attachments={1: NO},
                               note="second photo not allowed")
    [listed] = messaging.contact_messages(f.central, cid)
    assert listed.status == "delivered"
    assert [(p.kind, p.state, p.reason_code) for p in listed.parts] == [
        ("text", "delivered", None), ("photo", "delivered", None),
        ("photo", "rejected", "sexual")]
    assert listed.parts[2].reason == {"en": "It has sexual content.",
                                      "es": "Tiene contenido sexual."}
    assert (done.status, done.stamps_refunded) == ("partial", 1)
    assert [(p.state, p.reason_code) for p in done.parts] == [
        ("approved", None), ("approved", None), ("rejected", "sexual")]
    assert _stamps(f, cid) == 18  # the rejected photo's own stamp came back

    # The resident gets the text and the first photo, and is told what was withheld.
    resident_side = _feed(f, f"resident:{rid}")
    assert [k for k, _ in resident_side] == ["message", "notice"]
    record, notice = resident_side[0][1], resident_side[1][1]
    assert record["body"] == "Look: the garden and us"
    assert [a["sha256"] for a in record["attachments"]] == [kept]
    assert record["withheld"] == [{"part": "photo", "position": 1, "reason_code": "sexual",
                                   "reason": {"en": "It has sexual content.",
                                              "es": "Tiene contenido sexual."}}]
    assert withheld not in json.dumps(resident_side)  # never the withheld file's hash
    assert notice["notice"] == "message_part_withheld"
    assert notice["text"] == ("A message to you was delivered without photo 2: "
                              "It has sexual content.")
    assert "stamps_refunded" not in notice
    # The family sees the same record, and a notice with the reason and the refund.
    family_side = _feed(f, f"contact:{cid}")
    assert [b.get("notice", k) for k, b in family_side] == [
        "message_held", "message", "message_part_withheld"]
    said = family_side[-1][1]
    assert said["withheld"][0]["reason_code"] == "sexual"
    assert said["stamps_refunded"] == 1
    assert said["texts"]["es"] == ("Su mensaje fue entregado, pero el personal retuvo la "
                                   "foto 2: Tiene contenido sexual. Se le devolvieron 1 "
                                   "estampillas.")
    assert family_side[1][1]["withheld"] == record["withheld"]

    # Nothing more can be decided, and nothing is refunded twice.
    with pytest.raises(Conflict):
        review.decide_parts(f.central, hold_id, scope=reviewer, attachments={1: YES})
    with pytest.raises(Conflict):
        review.decide(f.central, hold_id, scope=reviewer, approve=True)
    assert _stamps(f, cid) == 18
    _balanced(f)
    with f.central.db.read() as conn:
        states = conn.execute(select(attachments.c.state).order_by(attachments.c.position)
                              ).scalars().all()
        assert states == ["delivered", "rejected"]
        entries = conn.execute(select(audit_log.c.action, audit_log.c.staff_id,
                                      audit_log.c.detail)).all()
    actions = [(a, s) for a, s, _ in entries]
    assert ("hold.parts", f.staff["reviewer"]) in actions
    assert ("hold.partial", f.staff["reviewer"]) in actions
    closing = json.loads(next(d for a, _, d in entries if a == "hold.partial"))
    assert closing["withheld"] == [{"part": "attachment", "position": 1,
                                    "reason_code": "sexual"}]
    # The archive an investigator exports keeps what was withheld, marked so.
    view = review.get_hold(f.central, hold_id, scope=reviewer)
    assert view.status == "partial"
    assert [(a["sha256"], a["state"]) for a in view.message["attachments"]] == [
        (kept, "approved"), (withheld, "rejected")]


def test_a_spanish_speaking_resident_reads_the_reason_in_spanish(facility: Facility) -> None:
    f = facility
    _policy(f)
    rid, _, _, hold_id = _two_photos(f, language="es")
    review.decide_parts(f.central, hold_id, scope=f.scope("reviewer"), text=YES,
                        attachments={0: Verdict(False, "identifying"), 1: YES})
    [notice] = [b for k, b in _feed(f, f"resident:{rid}") if k == "notice"]
    assert notice["text"] == ("Un mensaje para usted fue entregado sin la foto 1: Muestra a "
                              "otro residente, a un empleado o el centro.")


def test_every_part_rejected_is_a_rejected_message_with_all_its_stamps_back(
        facility: Facility) -> None:
    f = facility
    _policy(f)
    rid, cid, _, hold_id = _two_photos(f)
    reviewer = f.scope("reviewer")
    review.decide_parts(f.central, hold_id, scope=reviewer, attachments={0: NO, 1: NO})
    done = review.decide_parts(f.central, hold_id, scope=reviewer,
                               text=Verdict(False, "threat"))
    assert (done.status, done.stamps_refunded) == ("rejected", 3)
    assert _stamps(f, cid) == 20
    resident_side = _feed(f, f"resident:{rid}")
    assert [(k, b["notice"]) for k, b in resident_side] == [("notice", "message_rejected")]
    assert resident_side[0][1]["reason_code"] == "threat"
    assert "garden" not in json.dumps(resident_side)
    assert _feed(f, f"contact:{cid}")[-1][1]["notice"] == "message_rejected"
    [listed] = messaging.contact_messages(f.central, cid)
    assert listed.status == "rejected" and listed.body == "Look: the garden and us"
    assert [(p.state, p.reason_code) for p in listed.parts] == [
        ("rejected", "threat"), ("rejected", "sexual"), ("rejected", "sexual")]
    _balanced(f)


def test_rejected_text_with_delivered_photos_refunds_nothing(facility: Facility) -> None:
    f = facility
    _policy(f)
    rid, cid, shas, hold_id = _two_photos(f, body="meet me by the fence")
    done = review.decide_parts(f.central, hold_id, scope=f.scope("reviewer"),
                               text=Verdict(False, "escape"), attachments={0: YES, 1: YES})
    assert (done.status, done.stamps_refunded) == ("partial", 0)
    record = _feed(f, f"resident:{rid}")[0][1]
    assert record["body"] == ""
    assert [a["sha256"] for a in record["attachments"]] == shas
    assert record["withheld"][0]["part"] == "text"
    assert "fence" not in json.dumps(_feed(f, f"resident:{rid}"))
    assert _stamps(f, cid) == 17


def test_an_agency_that_keeps_rejected_attachments_stamps(facility: Facility) -> None:
    f = facility
    _policy(f, refund_rejected_attachments=False)
    _, cid, _, hold_id = _two_photos(f)
    done = review.decide_parts(f.central, hold_id, scope=f.scope("reviewer"), text=YES,
                               attachments={0: YES, 1: NO})
    assert (done.status, done.stamps_refunded) == ("partial", 0)
    assert _stamps(f, cid) == 17


def test_an_attachment_refunds_what_it_cost_when_sent(facility: Facility) -> None:
    """The price goes up after sending: the refund is what was paid, not the new price."""
    f = facility
    _policy(f)
    _, cid, _, hold_id = _two_photos(f)
    _raise_price(f, "stamps:stamps_per_photo", 5)
    review.decide_parts(f.central, hold_id, scope=f.scope("reviewer"), text=YES,
                        attachments={0: NO, 1: NO})
    assert _stamps(f, cid) == 19  # 3 paid, 2 back


def test_bad_decisions_change_nothing(facility: Facility) -> None:
    f = facility
    _policy(f)
    _, cid, _, hold_id = _two_photos(f)
    reviewer = f.scope("reviewer")
    with pytest.raises(InvalidInput) as no_reason:
        review.decide_parts(f.central, hold_id, scope=reviewer, attachments={0: YES, 1: Verdict(
            False, "made-up")})
    assert no_reason.value.code == "bad_reason"
    with pytest.raises(InvalidInput):
        review.decide_parts(f.central, hold_id, scope=reviewer, attachments={0: YES, 7: YES})
    with pytest.raises(InvalidInput):
        review.decide_parts(f.central, hold_id, scope=reviewer)
    view = review.get_hold(f.central, hold_id, scope=reviewer)
    assert [p["state"] for p in view.parts] == ["open", "open", "open"]  # nothing half-saved
    assert _stamps(f, cid) == 17


def test_a_reviewer_of_another_facility_cannot_see_or_decide(facility: Facility) -> None:
    f = facility
    _policy(f)
    rid, cid, _, hold_id = _two_photos(f)
    accounts.create_facility(f.central, "F2", "WA", "Pine Ridge", "staff@pine.example")
    other_id = accounts.create_staff(f.central, "reviewer2", "Other Reviewer", "reviewer",
                                     "correct horse battery", facility_id="F2",
                                     agency_id="WA", scope=SYSTEM)
    with f.central.db.read() as conn:
        other = scope_of(conn, other_id)
        assert review.review_queue(conn, other, page=1, per_page=10).items == ()
    with pytest.raises(NotFound):
        review.decide_parts(f.central, hold_id, scope=other, attachments={1: NO})
    with pytest.raises(NotFound):
        review.decide(f.central, hold_id, scope=other, approve=True)
    with pytest.raises(NotFound):
        review.attachment_file(f.central, hold_id, 0, scope=other)
    with pytest.raises(NotFound):
        review.get_hold(f.central, hold_id, scope=other)
    view = review.get_hold(f.central, hold_id, scope=f.scope("reviewer"))
    assert (view.status, [p["state"] for p in view.parts]) == ("open", ["open"] * 3)
    assert _feed(f, f"resident:{rid}") == []
    with f.central.db.read() as conn:
        assert other_id not in conn.execute(select(audit_log.c.staff_id)).scalars().all()
        assert conn.execute(select(staff.c.facility_id).where(staff.c.id == other_id)
                            ).scalar_one() == "F2"
    # The agency administrator reaches both facilities.
    assert review.decide_parts(f.central, hold_id, scope=f.scope("administrator"),
                               text=YES, attachments={0: YES, 1: YES}).status == "approved"
    assert _stamps(f, cid) == 17


def test_the_review_queue_is_one_query_a_page(facility: Facility) -> None:
    f = facility
    _policy(f)
    f.admit("100001", "Ann Example")
    f.admit("100002", "Bo Example", unit="U-B")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-60", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    from central.services import screening_lists
    screening_lists.save_list(f.central, scope="facility", scope_id="F1", language="en",
                              terms=["burner phone"], reach=f.scope("reviewer"))
    photo = _photo(f, f"contact:{cid}", b"queue")
    for i in range(4):
        messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                    body=f"note {i}: get a burner phone",
                                    attached=[Attachment("photo", photo)] if i % 2 else [])
    _policy(f, review_attachments=False)
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                body="all is well")  # delivered, never queued
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = f.central.db.engine
    reviewer = f.scope("reviewer")
    with f.central.db.read() as conn:
        event.listen(engine, "before_cursor_execute", count)
        try:
            first = review.review_queue(conn, reviewer, page=1, per_page=3)
            assert len(statements) == 1, statements
            second = review.review_queue(conn, reviewer, page=2, per_page=3)
            assert len(statements) == 2, statements
        finally:
            event.remove(engine, "before_cursor_execute", count)
        past = review.review_queue(conn, reviewer, page=9, per_page=3)
        with pytest.raises(InvalidInput):
            review.review_queue(conn, reviewer, page=0, per_page=3)
        with pytest.raises(InvalidInput):
            review.review_queue(conn, reviewer, page=1, per_page=101)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (4, 2, 3, 1)
    assert past.items == () and past.pages == 1
    items = first.items + second.items
    assert [i.body for i in items] == [f"note {i}: get a burner phone" for i in range(4)]
    hit = items[0].hits[0]
    assert (hit.field, hit.term) == ("body", "burner phone")
    assert items[0].body[hit.start:hit.end] == "burner phone"  # where to highlight
    assert items[1].hits[-1].policy == "review_attachments"
    assert [len(i.attachments) for i in items] == [0, 1, 0, 1]
    assert (items[1].attachments[0].kind, items[1].attachments[0].state) == ("photo", "open")
    assert items[0].translation is not None  # made when the message was held
    assert items[0].translation["status"] == "undetermined"
    assert (items[0].resident_name, items[0].contact_name, items[0].text.state) == (
        "Ann Example", "Sis", "open")


# -- the pure rules ------------------------------------------------------------------


def test_a_partial_refund_goes_back_to_the_lots_spent_last() -> None:
    plan = ledger.stamp_account("contact:1", "plan-1", expires_at=1000)
    bundle = ledger.stamp_account("contact:1")
    charge = ledger.message_charge(key="message:m1", agency="WA", draws=[
        ledger.Entry(plan.id, -2), ledger.Entry(bundle.id, -1)])
    lots = {plan.id: plan, bundle.id: bundle}
    back = ledger.partial_reversal(charge, lots, 2, key="refund:message:m1:parts",
                                   kind="message_refund", memo="back")
    assert set(back.entries) == {ledger.Entry(bundle.id, 1), ledger.Entry(plan.id, 1),
                                 ledger.Entry("agency:WA:stamps-used", -2)}
    for too_many in (0, 4):
        with pytest.raises(ledger.LedgerError):
            ledger.partial_reversal(charge, lots, too_many, key="k", kind="message_refund",
                                    memo="")


def test_the_refund_rules() -> None:
    policy = PricingPolicy()
    assert rejection_refund(policy, message_stamps=6, delivered=False,
                            rejected_attachment_stamps=[1, 4]).stamps == 6
    assert rejection_refund(policy, message_stamps=6, delivered=True,
                            rejected_attachment_stamps=[4]).stamps == 4
    assert rejection_refund(policy, message_stamps=6, delivered=True,
                            rejected_attachment_stamps=[]).stamps == 0
    keeps = PricingPolicy(refund_rejected_stamps=False, refund_rejected_attachments=False)
    assert rejection_refund(keeps, message_stamps=6, delivered=False,
                            rejected_attachment_stamps=[4]).stamps == 0
    assert rejection_refund(keeps, message_stamps=6, delivered=True,
                            rejected_attachment_stamps=[4]).stamps == 0
    with pytest.raises(InvalidInput):
        rejection_refund(policy, message_stamps=6, delivered=True,
                         rejected_attachment_stamps=[-1])


# -- over HTTP -------------------------------------------------------------------------


def test_over_http_the_kiosk_gets_the_message_without_the_withheld_photo(
        api: ApiServer) -> None:
    f = api.facility
    _policy(f)
    ann = f.admit("100001", "Ann Example")
    f.family("sis@example.org", "Sis", approved_for="100001")
    fam = api.family("sis@example.org")
    assert fam.post("/v1/family/stamps", json={
        "resident_agency_id": "100001", "offer_id": "bundle-20",
        "card_token": "tok_sandbox_visa", "idempotency_key": "buy-0000001"}).status_code == 200
    shas = []
    for tag in (b"one", b"two"):
        up = fam.post("/v1/family/blobs", data=b"\xff\xd8\xff\xe0 photo " + tag * 100,
                      headers={"Content-Type": "image/jpeg"})
        assert up.status_code == 201, up.text
        shas.append(up.json()["sha256"])
    sent = fam.post("/v1/family/messages", json={
        "uid": "fam-msg-00001", "resident_agency_id": "100001", "body": "Two of us",
        "attachments": [{"kind": "photo", "sha256": s} for s in shas]})
    assert sent.json()["status"] == "held"

    reviewer = api.staff("reviewer")
    queue = reviewer.get("/v1/staff/review-queue", params={"per_page": 10}).json()
    assert queue["total"] == 1
    [item] = queue["items"]
    assert [(a["kind"], a["state"]) for a in item["attachments"]] == [("photo", "open")] * 2
    hold_id = item["hold_id"]
    seen = reviewer.get(f"/v1/staff/holds/{hold_id}/attachments/1")
    assert seen.status_code == 200 and seen.content.endswith(b"two" * 100)
    spanish = reviewer.get("/v1/staff/rejection-reasons", params={"language": "es"}).json()
    assert spanish["sexual"] == "Tiene contenido sexual."

    # Another facility's reviewer can neither see nor decide it.
    accounts.create_facility(f.central, "F2", "WA", "Pine Ridge", "staff@pine.example")
    accounts.create_staff(f.central, "reviewer2", "Other", "reviewer", STAFF_PASSWORD,
                          facility_id="F2", agency_id="WA", scope=SYSTEM)
    token = api.session().post("/v1/staff/sessions", json={
        "username": "reviewer2", "password": STAFF_PASSWORD}).json()["token"]
    other = api.session(token=token)
    assert other.get("/v1/staff/review-queue").json()["items"] == []
    assert other.get(f"/v1/staff/holds/{hold_id}/attachments/1").status_code == 404
    assert other.post(f"/v1/staff/holds/{hold_id}/parts", json={
        "attachments": [{"position": 1, "approve": True}]}).status_code == 404

    bad = reviewer.post(f"/v1/staff/holds/{hold_id}/parts", json={
        "attachments": [{"position": 1, "approve": False}]})
    assert bad.status_code == 422 and bad.json()["error"] == "bad_reason"
    twice = reviewer.post(f"/v1/staff/holds/{hold_id}/parts", json={
        "attachments": [{"position": 1, "approve": True}, {"position": 1, "approve": True}]})
    assert twice.status_code == 422
    done = reviewer.post(f"/v1/staff/holds/{hold_id}/parts", json={
        "text": {"approve": True},
        "attachments": [{"position": 0, "approve": True},
                        {"position": 1, "approve": False, "reason_code": "sexual"}]})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["stamps_refunded"]) == ("partial", 1)

    kiosk = api.session("K-A2")
    page = kiosk.get(f"/v1/kiosk/feeds/{ann.id}", params={"since": 0}).json()
    [message] = [r["body"] for r in page["records"] if r["kind"] == "message"]
    assert [a["sha256"] for a in message["attachments"]] == [shas[0]]
    assert message["withheld"][0]["reason_code"] == "sexual"
    [notice] = [r["body"] for r in page["records"] if r["kind"] == "notice"]
    assert "photo 2" in notice["text"] and "sexual" in notice["text"]
    assert kiosk.get(f"/v1/kiosk/blobs/{shas[0]}").status_code == 200
    assert kiosk.get(f"/v1/kiosk/blobs/{shas[1]}").status_code == 404  # never the withheld one
    assert fam.get(f"/v1/family/blobs/{shas[0]}").status_code == 200
    assert fam.get(f"/v1/family/blobs/{shas[1]}").status_code == 403
    family_notices = [r["body"] for r in fam.get("/v1/family/feed").json()["records"]
                      if r["kind"] == "notice"]
    assert family_notices[-1]["withheld"][0]["reason"]["es"] == "Tiene contenido sexual."
    assert fam.get("/v1/family/stamps", params={"resident_agency_id": "100001"}
                   ).json()["stamps"] == 18
    [mine] = fam.get("/v1/family/messages").json()
    assert [(p["state"], p["reason_code"]) for p in mine["parts"]] == [
        ("delivered", None), ("delivered", None), ("rejected", "sexual")]


def test_a_family_never_lists_a_residents_withheld_words(facility: Facility) -> None:
    f = facility
    ann = f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    from central.services import screening_lists
    screening_lists.save_list(f.central, scope="facility", scope_id="F1", language="en",
                              terms=["burner phone"], reach=f.scope("reviewer"))
    f.central.trust.set_balance("100001", 1000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(f.central, ann.id, amount_cents=1000, key="fund-0000001")
    money.buy_stamps_for_resident(f.central, ann.id, offer_id="bundle-20", key="stamps-0001")
    for words in ("send the burner phone", "bring a burner phone"):
        sent = messaging.send_from_resident(f.central, ann.id, uid=f.uid(), contact_id=cid,
                                            body=words)
        assert sent.status == "held"
    first, second = review.list_holds(f.central, scope=f.scope("reviewer"))
    review.decide(f.central, first.hold_id, scope=f.scope("reviewer"), approve=False,
                  reason_code="contraband")
    assert messaging.contact_messages(f.central, cid) == ()
    review.decide(f.central, second.hold_id, scope=f.scope("reviewer"), approve=True)
    [listed] = messaging.contact_messages(f.central, cid)
    assert (listed.direction, listed.body, listed.stamps) == (
        "from_resident", "bring a burner phone", 0)


def test_holds_from_before_part_by_part_review_are_migrated_and_decided(
        database_url: str, tmp_path: Path) -> None:
    """A database at 0009 (the one before part-by-part review) with a held
    two-photo message and a rejected one: the
    migration gives each attachment its message's state, each hold its text's;
    the held one is then decided part by part, refunding the current price of
    a photo sent before prices were recorded per attachment."""
    from sqlalchemy import text

    from central import migrate
    from central.blobs import BlobStore
    from central.database import Database
    from central.schema import contacts, feeds, holds
    from tests.central.facility import Clock, WordTranslator
    db = Database(database_url)
    migrate.upgrade(db, "0009")
    central = Central(db=db, blobs=BlobStore(tmp_path / "blobs"),
                      trust=InMemoryTrustAccounts(), payments=SandboxCardPayments(),
                      passwords=Passwords("low"), translator=WordTranslator(),
                      clock=Clock(), logins=unthrottled())
    try:
        accounts.create_agency(central, "WA", "Washington", policy=WASHINGTON)
        accounts.create_facility(central, "F1", "WA", "Cedar Creek", "staff@cedar.example")
        accounts.create_unit(central, "U-A", "F1", "A unit")
        rid = accounts.create_resident(central, agency_id="100001", agency="WA", name="Ann",
                                       facility_id="F1", unit_id="U-A", scope=SYSTEM).id
        reviewer_id = accounts.create_staff(central, "reviewer", "R", "reviewer",
                                            STAFF_PASSWORD, facility_id="F1", scope=SYSTEM)
        with db.write() as conn:  # as accounts made before identity fields (0011) were
            conn.execute(text(
                "INSERT INTO contacts (email, name, password_hash, status, failed_logins, "
                "locked_until, created_at) VALUES ('sis@example.org', 'Sis', 'x', 'active', "
                "0, 0, 1)"))
            cid = int(conn.execute(select(contacts.c.id)).scalar_one())
            conn.execute(feeds.insert().values(feed=f"contact:{cid}", head=0))
        approval = accounts.request_approval(central, cid, "100001", "sister")
        accounts.decide_approval(central, approval, approve=True, scope=SYSTEM)
        money.buy_stamps_for_contact(central, cid, resident_agency_id="100001",
                                     offer_id="bundle-20", card_token="tok_sandbox_visa",
                                     key="purchase-0001")
        owner = contact_owner(cid, "WA")
        with db.write() as conn:
            from central.services.ledger_store import owner_accounts, post
            lots = owner_accounts(conn, owner, ledger.STAMPS, lock=True)
            post(conn, ledger.message_charge(key="message:old-held-01", agency="WA",
                                             draws=ledger.draw_stamps(lots, 3, 1)))
            conn.execute(blobs.insert(), [
                {"sha256": c * 64, "size": 10, "media_type": "image/jpeg", "created_at": 1}
                for c in "ab"])
            for n, (uid, status) in enumerate((("old-held-01", "held"),
                                               ("old-rejected-01", "rejected")), 1):
                # as messages were before legal mail (0013)
                conn.execute(text(
                    "INSERT INTO messages (id, uid, resident_id, contact_id, direction, body, "
                    "status, stamps, request_digest, created_at, reason_code) VALUES (:id, "
                    ":uid, :rid, :cid, 'to_resident', 'old words', :status, :stamps, :digest, "
                    "1, :reason)"), {"id": n, "uid": uid, "rid": rid, "cid": cid,
                                     "status": status, "stamps": 3 if n == 1 else 0,
                                     "digest": "0" * 64,
                                     "reason": None if n == 1 else "gang"})
                conn.execute(attachments.insert(), [
                    {"message_id": n, "position": i, "kind": "photo", "blob_sha256": c * 64}
                    for i, c in enumerate("ab")])
                conn.execute(holds.insert().values(
                    id=n, message_id=n, hits="[]", status="open" if n == 1 else "rejected",
                    held_at=1, note="", reason_code=None if n == 1 else "gang",
                    reviewer_id=None if n == 1 else reviewer_id))
        migrate.upgrade(db)
        with db.read() as conn:
            assert conn.execute(select(attachments.c.message_id, attachments.c.state,
                                       attachments.c.reason_code, attachments.c.stamps)
                                .order_by(attachments.c.message_id, attachments.c.position)
                                ).all() == [(1, "held", None, None), (1, "held", None, None),
                                            (2, "rejected", "gang", None),
                                            (2, "rejected", "gang", None)]
            assert conn.execute(select(holds.c.text_status, holds.c.text_reason_code)
                                .order_by(holds.c.id)).all() == [("open", None),
                                                                 ("rejected", "gang")]
            scope = scope_of(conn, reviewer_id)
        done = review.decide_parts(central, 1, scope=scope, text=YES,
                                   attachments={0: YES, 1: NO})
        assert (done.status, done.stamps_refunded) == ("partial", 1)
        assert money.balances(central, owner).stamps == 18
    finally:
        db.dispose()
