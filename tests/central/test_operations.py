"""Tickets and their clock, refunds of undelivered purchases, keyword list
versions, retention, and what reviewers see of a foreign-language message."""

from __future__ import annotations

import pytest

from central.errors import Conflict, InvalidInput, PolicyRefused
from central.services import media, messaging, money, review, screening_lists, tickets
from central.services.archive import purge_expired
from central.services.media import Item
from central.translation import ReviewTranslator
from tests.central.facility import SYSTEM, Facility


def _song(f: Facility, item_id: str = "song-1", price: int = 129) -> str:
    stored = f.central.blobs.put([item_id.encode() * 100], max_size=1 << 20)
    messaging.record_upload(f.central, stored.sha256, stored.size, "audio/mpeg",
                            uploader="staff:1", purpose="media")
    media.add_item(f.central, Item(item_id, "song", "River Road", "The Lanterns", None, "Demo",
                                   price, stored.sha256, 200, False), scope=SYSTEM)
    return stored.sha256


def _funded(f: Facility, agency_id: str = "100001") -> int:
    r = f.admit(agency_id, "Ann Example")
    f.central.trust.set_balance(agency_id, 10_000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(f.central, r.id, amount_cents=1000, key=f"fund-{agency_id}")
    return r.id


def _prepaid(f: Facility, rid: int) -> int:
    return money.balances(f.central, f"resident:{rid}").prepaid_cents or 0


def test_a_ticket_escalates_before_its_clock_runs_out(facility: Facility) -> None:
    f = facility
    rid = f.admit("100001", "Ann Example").id
    ticket_id = tickets.file(f.central, rid, uid="ticket-0001", category="tablet_broken",
                             description="It will not charge", diagnostics={"battery": 3},
                             kiosk_id="K-A1")
    f.clock.advance(10 * 86400)
    assert tickets.escalate_due(f.central) == []  # 4 days left: not yet
    f.clock.advance(1 * 86400 + 1)
    assert tickets.escalate_due(f.central) == [ticket_id]  # 3 days left: escalated
    assert tickets.escalate_due(f.central) == []  # once
    seen = tickets.view(f.central, ticket_id, resident_id=rid)
    assert seen.status == "escalated"
    assert [h["kind"] for h in seen.history] == ["filed", "escalated"]
    # The resident hears about it in their feed.
    notices = [r.body["text"] for r in messaging.feed_page(f.central, f"resident:{rid}", 0)[1]]
    assert any("escalated" in n for n in notices)
    with pytest.raises(PolicyRefused):  # a canned reply alone does not close it
        tickets.reply(f.central, ticket_id, scope=f.scope("technician"), canned="resync",
                      resolve=True)
    tickets.reply(f.central, ticket_id, scope=f.scope("technician"), canned="need_tablet")
    tickets.reply(f.central, ticket_id, scope=f.scope("technician"),
                  text="Battery replaced; returned to the resident.", resolve=True)
    with pytest.raises(Conflict):
        tickets.reply(f.central, ticket_id, scope=f.scope("technician"), text="again")
    with pytest.raises(InvalidInput):
        tickets.file(f.central, rid, uid="ticket-0002", category="other", description="x",
                     diagnostics={"log": "x" * 20_000}, kiosk_id=None)


def test_an_undelivered_purchase_is_refunded_and_can_be_bought_again(facility: Facility) -> None:
    f = facility
    rid = _funded(f)
    _song(f)
    [ent] = media.purchase(f.central, rid, "song-1", key="buy-000001")
    assert (ent.state, _prepaid(f, rid)) == ("paid", 871)
    assert media.purchase(f.central, rid, "song-1", key="buy-000001") == [ent]  # a replay
    assert _prepaid(f, rid) == 871
    media.advance(f.central, ent.id, "at_kiosk")
    f.clock.advance(13 * 86400)
    assert media.refund_undelivered(f.central) == []  # inside the 14-day window
    f.clock.advance(2 * 86400)
    assert media.refund_undelivered(f.central) == [ent.id]
    assert media.refund_undelivered(f.central) == []  # refunded once
    assert _prepaid(f, rid) == 1000
    [after] = media.entitlements_of(f.central, rid)
    assert after.state == "refunded"
    notices = [r.body for r in messaging.feed_page(f.central, f"resident:{rid}", 0)[1]
               if r.kind == "notice"]
    assert notices[-1]["notice"] == "purchase_refunded"
    with pytest.raises(Conflict):  # delivery news after a refund changes nothing
        media.advance(f.central, ent.id, "on_tablet")
    [again] = media.purchase(f.central, rid, "song-1", key="buy-000002")
    assert again.state == "paid" and _prepaid(f, rid) == 871


def test_delivery_state_only_moves_forward(facility: Facility) -> None:
    f = facility
    rid = _funded(f)
    _song(f)
    [ent] = media.purchase(f.central, rid, "song-1", key="buy-000001")
    assert media.advance(f.central, ent.id, "on_tablet").state == "on_tablet"
    assert media.advance(f.central, ent.id, "at_kiosk").state == "on_tablet"
    with pytest.raises(InvalidInput):
        media.advance(f.central, ent.id, "verified")  # needs the tablet's signed receipt


def test_an_album_buys_every_track_for_its_price(facility: Facility) -> None:
    f = facility
    rid = _funded(f)
    media.add_item(f.central, Item("album-1", "album", "North Windows", "Harbor Street", None,
                                   "Demo", 500, None, 0, False), scope=SYSTEM)
    for n in range(3):
        stored = f.central.blobs.put([f"track {n}".encode()], max_size=100)
        messaging.record_upload(f.central, stored.sha256, stored.size, "audio/mpeg",
                                uploader="staff:1", purpose="media")
        media.add_item(f.central, Item(f"track-{n}", "song", f"Track {n}", "Harbor Street",
                                       "album-1", "Demo", 129, stored.sha256, 100, False),
                       scope=SYSTEM)
    ents = media.purchase(f.central, rid, "album-1", key="buy-album-1")
    assert sorted(e.item_id for e in ents) == ["track-0", "track-1", "track-2"]
    assert sum(e.price_cents for e in ents) == 500 and _prepaid(f, rid) == 500


def test_keyword_lists_are_versioned(facility: Facility) -> None:
    f = facility
    admin = f.scope("administrator")  # an agency's own list is its administrators' to change
    first = screening_lists.save_list(f.central, scope="agency", scope_id="WA", language="en",
                                      terms=["drop spot"], reach=admin)
    second = screening_lists.save_list(f.central, scope="agency", scope_id="WA", language="en",
                                       terms=["drop spot", "burner phone"], reach=admin,
                                       expected_version=1)
    assert (first.version, second.version) == (1, 2)
    with pytest.raises(Conflict):  # someone else saved version 2 meanwhile
        screening_lists.save_list(f.central, scope="agency", scope_id="WA", language="en",
                                  terms=["x"], reach=admin, expected_version=1)
    reviewer = f.scope("reviewer")  # who reads every list of the agency
    assert screening_lists.get_list(f.central, first.id, 1, reach=reviewer).terms == (
        "drop spot",)
    assert screening_lists.get_list(f.central, first.id, reach=reviewer).terms == (
        "burner phone", "drop spot")
    with pytest.raises(InvalidInput):
        screening_lists.save_list(f.central, scope="galaxy", scope_id="x", language="en",
                                  terms=[], reach=admin)
    with pytest.raises(InvalidInput, match="staff member"):  # a list's history names who
        screening_lists.save_list(f.central, scope="facility", scope_id="F1", language="en",
                                  terms=["x"], reach=SYSTEM)
    # The new version applies to the next message at once.
    f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    held = messaging.send_from_contact(f.central, cid, uid=f.uid(),
                                       resident_agency_id="100001", body="a burner phone")
    assert held.status == "held"
    [hold] = review.list_holds(f.central, scope=f.scope("reviewer"))
    assert hold.hits[0]["list_version"] == 2


def test_a_reviewer_sees_spanish_beside_its_english_translation(facility: Facility) -> None:
    f = facility
    f.central.translator = ReviewTranslator(working_language="en")
    f.admit("100001", "Lucía Ramos")
    cid = f.family("ana@example.org", "Ana", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    screening_lists.save_list(f.central, scope="agency", scope_id="WA", language="es",
                              terms=["punto de entrega"], reach=f.scope("administrator"))
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                body="Hola hermana, el punto de entrega es el mismo de "
                                "siempre. Te quiero mucho.")
    [hold] = review.list_holds(f.central, scope=f.scope("reviewer"))
    seen = review.get_hold(f.central, hold.hold_id, scope=f.scope("reviewer"))
    assert seen.translation is not None
    assert seen.translation["source_language"] == "es"
    assert seen.translation["status"] == "translated"
    assert "point of delivery" in seen.translation["text"].lower()
    assert seen.message["body"].startswith("Hola hermana")  # the original stays beside it


def test_retention_removes_old_messages_but_not_money(facility: Facility) -> None:
    f = facility
    rid = f.admit("100001", "Ann Example").id
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                body="old news")
    f.clock.advance(3000 * 86400)
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                body="recent news")
    f.clock.advance(700 * 86400)  # the first is now past the 3650-day retention period
    assert purge_expired(f.central) == 1
    bodies = [r.body["body"] for r in messaging.feed_page(f.central, f"resident:{rid}", 0)[1]]
    assert bodies == ["recent news"]
    assert money.balances(f.central, messaging.contact_owner(cid, "WA")).stamps == 18
