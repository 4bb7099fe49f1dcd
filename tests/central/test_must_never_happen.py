"""Money, authorization, screening and data-loss properties of the central
server, each stated as the correct behaviour, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from central import ledger
from central.database import for_update
from central.errors import CentralError, Conflict, InvalidInput
from central.pricing import PricingPolicy
from central.schema import agencies, entitlements, feed_records, ledger_accounts
from central.services import accounts, media, messaging, money, review, screening_lists
from central.services.archive import purge_expired
from central.services.media import Item
from central.services.messaging import Attachment, contact_owner
from tests.central.api_server import ApiServer
from tests.central.facility import SYSTEM, WASHINGTON, Facility
from tests.central.test_api import PHOTO, _admit, _approved_family

SONG = b"ID3 a song that costs money " * 200


# -- helpers ---------------------------------------------------------------------


def _blob(f: Facility, data: bytes, media_type: str, *, uploader: str = "staff:1",
          purpose: str = "media") -> str:
    stored = f.central.blobs.put([data], max_size=1 << 24)
    messaging.record_upload(f.central, stored.sha256, stored.size, media_type,
                            uploader=uploader, purpose=purpose)
    return stored.sha256


def _song(f: Facility, item_id: str = "song-1", price: int = 129) -> str:
    sha = _blob(f, item_id.encode() + SONG, "audio/mpeg")
    media.add_item(f.central, Item(item_id, "song", f"Title {item_id}", "The Lanterns", None,
                                   "Demo", price, sha, 200, False), scope=SYSTEM)
    return sha


def _funded(f: Facility, agency_id: str, cents: int = 2000) -> int:
    rid = f.admit(agency_id, f"Resident {agency_id}").id
    f.central.trust.set_balance(agency_id, 10_000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(f.central, rid, amount_cents=cents, key=f"fund-{agency_id}")
    return rid


def _prepaid(f: Facility, rid: int) -> int:
    return money.balances(f.central, f"resident:{rid}").prepaid_cents or 0


def _stamps(f: Facility, owner: str) -> int:
    return money.balances(f.central, owner).stamps


def _second_agency(f: Facility, agency: str, resident_agency_id: str) -> int:
    """Another agency with its own facility, unit and one resident."""
    c = f.central
    accounts.create_agency(c, agency, f"{agency} corrections", policy=WASHINGTON)
    accounts.create_facility(c, f"F-{agency}"[:32], agency, "Second", "staff@two.example")
    accounts.create_unit(c, f"U-{agency}"[:32], f"F-{agency}"[:32], "Second unit")
    new = accounts.create_resident(c, agency_id=resident_agency_id, agency=agency,
                                   name="Other Agency Resident",
                                   facility_id=f"F-{agency}"[:32], unit_id=f"U-{agency}"[:32],
                                   scope=SYSTEM)
    return new.id


def _approve(f: Facility, cid: int, resident_agency_id: str) -> None:
    """Approved by the other agency's own staff (here, the system stands in for them)."""
    approval = accounts.request_approval(f.central, cid, resident_agency_id, "brother")
    accounts.decide_approval(f.central, approval, approve=True, scope=SYSTEM)


def _card_charges(f: Facility) -> int:
    """Cents the card processor actually charged (the sandbox processor's own record)."""
    return sum(ch.amount_cents for ch in f.central.payments._charges.values())  # type: ignore[attr-defined]


def _wait_for_lock_waiters(f: Facility, count: int) -> None:
    """Until ``count`` other transactions wait on a row lock (PostgreSQL), or a
    moment for them to queue on the database lock (SQLite)."""
    if f.central.db.dialect != "postgresql":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with f.central.db.read() as conn:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")).scalar_one()
        if waiting >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} transactions never queued on the lock")


# -- 1. value without payment ------------------------------------------------------


def test_card_payment_key_is_not_shared_between_agencies(facility: Facility) -> None:
    """Every stamp sale is backed by its own card charge: a family member who
    reuses one idempotency key to buy stamps at two agencies is charged twice
    (or refused), never given the second agency's stamps for free."""
    f = facility
    f.admit("100001", "Ann Example")
    _second_agency(f, "OR", "200001")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    _approve(f, cid, "200001")
    key = "same-key-0001"
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa", key=key)
    with contextlib.suppress(CentralError):  # refusing the reused key is also correct
        money.buy_stamps_for_contact(f.central, cid, resident_agency_id="200001",
                                     offer_id="bundle-20", card_token="tok_sandbox_visa",
                                     key=key)
    issued = _stamps(f, contact_owner(cid, "WA")) + _stamps(f, contact_owner(cid, "OR"))
    # 20 stamps cost $5.00: the stamps issued must all have been paid for by card.
    assert issued * 500 // 20 == _card_charges(f), (
        f"{issued} stamps issued but the card was charged {_card_charges(f)} cents")


def test_message_cannot_attach_catalog_media(api: ApiServer) -> None:
    """Only photos and videograms uploaded for messages can be attached. A
    resident who attaches a catalog song's hash (shown in the catalog) to a
    message is refused; otherwise the song reaches their own feed (and the
    family's) for the price of a photo stamp instead of the song's price."""
    new = _admit(api)
    fam, contact_id = _approved_family(api)
    api.facility.central.trust.set_balance("100001", 10_000)  # type: ignore[attr-defined]
    admin = api.staff("administrator")
    song_sha = admin.post("/v1/staff/blobs", data=SONG,
                          headers={"Content-Type": "audio/mpeg"}).json()["sha256"]
    assert admin.post("/v1/staff/catalog", json={
        "id": "song-1", "kind": "song", "title": "River Road", "artist": "The Lanterns",
        "label": "Demo", "price_cents": 129, "sha256": song_sha,
        "duration_s": 200}).status_code == 201
    me = api.resident("K-A2", "100001", str(new["first_pin"]))
    assert me.post("/v1/resident/pin", json={"old_pin": new["first_pin"],
                                             "new_pin": "736192"}).status_code == 204
    assert me.post("/v1/resident/transfers", json={
        "amount_cents": 500, "idempotency_key": "tr-0000001"}).status_code == 200
    assert me.post("/v1/resident/stamps", json={
        "offer_id": "bundle-20", "idempotency_key": "st-0000001"}).status_code == 200
    [item] = me.get("/v1/resident/catalog", params={"q": "river"}).json()
    sent = me.post("/v1/resident/messages", json={
        "uid": "draft-000001", "contact_id": contact_id, "body": "listen",
        "attachments": [{"kind": "photo", "sha256": item["sha256"]}]})
    feed = api.session("K-A2").get(f"/v1/kiosk/feeds/{new['id']}").json()["records"]
    in_feed = any(a["sha256"] == song_sha for r in feed for a in r["body"].get("attachments", []))
    download = fam.get(f"/v1/family/blobs/{song_sha}")
    assert sent.status_code == 422, (
        f"answered {sent.status_code}; song in the resident's own feed: {in_feed}; "
        f"family download of the song: {download.status_code}; price paid for it: "
        f"{sent.json().get('stamps')} stamps, $0.00 prepaid")


def test_attachment_kind_must_match_the_uploaded_file(facility: Facility) -> None:
    """A videogram costs 4 stamps and a photo 1. An MP4 sent as a 'photo' is
    refused, or else charged as the videogram it is: never 2 stamps for a
    message with a videogram."""
    f = facility
    f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    video = _blob(f, b"\x00\x00\x00\x18ftypmp42 a videogram" * 100, "video/mp4",
                  uploader=f"contact:{cid}", purpose="message")
    try:
        sent = messaging.send_from_contact(f.central, cid, uid=f.uid(),
                                           resident_agency_id="100001", body="see me",
                                           attached=[Attachment("photo", video)])
    except InvalidInput:
        return
    assert sent.stamps == 1 + 4, f"a videogram was delivered for {sent.stamps} stamps"


def test_concurrent_purchases_of_one_song_charge_once(facility: Facility) -> None:
    """Buying a song already owned is refused (already_owned). Two purchases of
    the same song racing from a double-tapped kiosk (two keys) must also end
    with one entitlement and one charge, on PostgreSQL as on SQLite."""
    f = facility
    rid = _funded(f, "100001", 2000)
    _song(f)
    prepaid_id = ledger.prepaid_account(rid).id
    outcomes: list[object] = []

    def buy(key: str) -> None:
        try:
            outcomes.append(media.purchase(f.central, rid, "song-1", key=key))
        except CentralError as e:
            outcomes.append(e)

    threads = [threading.Thread(target=buy, args=(k,)) for k in ("tap-00000001", "tap-00000002")]
    with f.central.db.write() as conn:  # a third transaction holds the prepaid account a moment
        conn.execute(for_update(select(ledger_accounts.c.id)
                                .where(ledger_accounts.c.id == prepaid_id))).all()
        for t in threads:
            t.start()
        _wait_for_lock_waiters(f, 2)
    for t in threads:
        t.join(30)
    live = [e for e in media.entitlements_of(f.central, rid) if e.state != "refunded"]
    assert (len(live), _prepaid(f, rid)) == (1, 2000 - 129), (
        f"{len(live)} entitlements, charged {2000 - _prepaid(f, rid)} cents: {outcomes}")


def test_purchase_key_reused_for_another_item_is_a_conflict(facility: Facility) -> None:
    """The same idempotency key with other content is a 409 (docs/central.md,
    Money): a key reused for another song must not silently answer with the
    first song's entitlements as if the second had been bought."""
    f = facility
    rid = _funded(f, "100001", 2000)
    _song(f, "song-1")
    _song(f, "song-2")
    media.purchase(f.central, rid, "song-1", key="buy-key-0001")
    with pytest.raises(Conflict):
        got = media.purchase(f.central, rid, "song-2", key="buy-key-0001")
        print("answered with", [e.item_id for e in got])


# -- 2. refunds and sweeps ------------------------------------------------------------


def test_refund_into_an_expired_plan_lot_does_not_break_the_expiry_sweep(
        facility: Facility) -> None:
    """A rejected message's stamps come back. If they came from a plan lot that
    has since expired (and been swept), the next expiry sweep must still run:
    other residents' and families' plans keep expiring."""
    f = facility
    f.admit("100001", "Ann Example")
    screening_lists.save_list(f.central, scope="unit", scope_id="U-A", language="en",
                              terms=["burner phone"], reach=f.scope("reviewer"))
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="plan-30", card_token="tok_sandbox_visa",
                                 key="plan-key-0001")
    sent = messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                       body="bring a burner phone")
    assert sent.status == "held"
    f.clock.advance(31 * 86400)
    assert money.expire_stamps(f.central) == 1  # the plan's 29 left expire
    [hold] = review.list_holds(f.central, scope=f.scope("reviewer"))
    review.decide(f.central, hold.hold_id, scope=f.scope("reviewer"), approve=False,
                  reason_code="contraband")
    # Another family's plan, bought now, runs out 30 days later.
    other = f.family("bro@example.org", "Bro", approved_for="100001")
    money.buy_stamps_for_contact(f.central, other, resident_agency_id="100001",
                                 offer_id="plan-30", card_token="tok_sandbox_visa",
                                 key="plan-key-0002")
    f.clock.advance(31 * 86400)
    money.expire_stamps(f.central)  # must not raise
    assert _stamps(f, contact_owner(other, "WA")) == 0


def _held_from_plan(f: Facility) -> int:
    """A family member with a 30-day plan of 30 stamps and a bundle of 20, one
    of the plan's stamps spent on a message held for review."""
    f.admit("100001", "Ann Example")
    screening_lists.save_list(f.central, scope="unit", scope_id="U-A", language="en",
                              terms=["burner phone"], reach=f.scope("reviewer"))
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    for offer, key in (("plan-30", "plan-key-0001"), ("bundle-20", "bundle-key-001")):
        money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                     offer_id=offer, card_token="tok_sandbox_visa", key=key)
    sent = messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                       body="bring a burner phone")
    assert sent.status == "held" and _stamps(f, contact_owner(cid, "WA")) == 49
    return cid


def _lots(f: Facility, cid: int) -> dict[int | None, int]:
    """The family member's stamp balances by expiry (None: bundle stamps)."""
    with f.central.db.read() as conn:
        rows = conn.execute(select(ledger_accounts.c.expires_at, ledger_accounts.c.balance)
                            .where(ledger_accounts.c.owner == contact_owner(cid, "WA"))).all()
    return {r.expires_at: r.balance for r in rows}


def test_refunded_stamps_of_an_expired_plan_come_back_expired(facility: Facility) -> None:
    """A message paid with a plan's stamp is rejected after the plan ran out.
    The stamp comes back to the plan, with the plan's expiry, and expires
    with it: a refund never turns a plan's stamp into one that never expires."""
    f = facility
    cid = _held_from_plan(f)
    expiry = next(e for e in _lots(f, cid) if e is not None)
    f.clock.advance(31 * 86400)
    assert money.expire_stamps(f.central) == 1  # the plan's 29 left expire
    [hold] = review.list_holds(f.central, scope=f.scope("reviewer"))
    review.decide(f.central, hold.hold_id, scope=f.scope("reviewer"), approve=False,
                  reason_code="contraband")
    assert _stamps(f, contact_owner(cid, "WA")) == 20  # the bundle alone: nothing new to spend
    assert _lots(f, cid) == {None: 20, expiry: 1}  # back in the plan, as it was
    _, records = messaging.feed_page(f.central, f"contact:{cid}", 0)
    [notice] = [r.body for r in records if r.body.get("notice") == "message_rejected"]
    assert (notice["stamps_refunded"], notice["stamps_expired"]) == (1, 1)
    assert "ran out" in notice["text"]
    assert money.expire_stamps(f.central) == 1  # the sweep takes it, as it took the rest
    assert _lots(f, cid) == {None: 20, expiry: 0}
    # Spending now draws on the bundle only.
    messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                body="hello")
    assert _lots(f, cid) == {None: 19, expiry: 0}


def test_refunded_stamps_of_a_live_plan_keep_its_expiry(facility: Facility) -> None:
    f = facility
    cid = _held_from_plan(f)
    expiry = next(e for e in _lots(f, cid) if e is not None)
    f.clock.advance(10 * 86400)
    [hold] = review.list_holds(f.central, scope=f.scope("reviewer"))
    review.decide(f.central, hold.hold_id, scope=f.scope("reviewer"), approve=False,
                  reason_code="contraband")
    assert _lots(f, cid) == {None: 20, expiry: 30}
    assert money.balances(f.central, contact_owner(cid, "WA")).next_expiry == expiry
    f.clock.advance(21 * 86400)
    money.expire_stamps(f.central)
    assert _lots(f, cid) == {None: 20, expiry: 0}


def test_refund_sweep_survives_a_long_purchase_key(facility: Facility) -> None:
    """Purchase keys may be up to 100 characters. The refund of an undelivered
    purchase made with such a key must go through, and must not stop the
    refunds of every other resident's undelivered purchases."""
    f = facility
    ann = _funded(f, "100001", 2000)
    bo = _funded(f, "100002", 2000)
    _song(f)
    [long_ent] = media.purchase(f.central, ann, "song-1", key="k" * 100)
    [short_ent] = media.purchase(f.central, bo, "song-1", key="buy-0000001")
    f.clock.advance(15 * 86400)
    refunded = media.refund_undelivered(f.central)
    assert sorted(refunded) == sorted([long_ent.id, short_ent.id])
    assert (_prepaid(f, ann), _prepaid(f, bo)) == (2000, 2000)


def test_family_stamp_purchase_with_a_long_key_charges_only_with_stamps(
        facility: Facility) -> None:
    """An idempotency key of up to 100 characters is accepted (the API says
    8-100). At an agency with a longer id, buying stamps with such a key must
    give the stamps; it must never charge the card and then fail."""
    f = facility
    _second_agency(f, "CEDAR-COUNTY-JAIL", "300001")
    cid = f.family("sis@example.org", "Sis")
    _approve(f, cid, "300001")
    try:
        bought = money.buy_stamps_for_contact(f.central, cid, resident_agency_id="300001",
                                              offer_id="bundle-20",
                                              card_token="tok_sandbox_visa", key="k" * 100)
    except CentralError as e:
        pytest.fail(f"refused with {e.status} {e.code} after the card was charged "
                    f"{_card_charges(f)} cents")
    assert bought.stamps == 20
    assert _stamps(f, contact_owner(cid, "CEDAR-COUNTY-JAIL")) == 20


def test_transfer_with_a_long_key(facility: Facility) -> None:
    """A transfer key of up to 100 characters is accepted by the API; such a
    transfer completes (it is not refused by the trust adapter and left
    'debiting')."""
    f = facility
    rid = f.admit("100001", "Ann Example").id
    f.central.trust.set_balance("100001", 10_000)  # type: ignore[attr-defined]
    done = money.transfer_to_prepaid(f.central, rid, amount_cents=2500, key="t" * 100)
    assert done.prepaid_cents == 2500


def test_a_served_server_does_not_sell_stamps_for_sandbox_cards(tmp_path: Path) -> None:
    """``sallyport central serve`` charges real cards through the agency's
    processor. The sandbox processor (which accepts any ``tok_sandbox_``
    token and moves no money) belongs to the demo and tests; a server built
    from a deployment's configuration must not accept its tokens."""
    from central.config import CentralConfig
    from central.server import build_central
    config = CentralConfig(state_dir=tmp_path / "central", password_cost="low")
    central = build_central(config, translator=object())
    with pytest.raises(CentralError):
        central.payments.charge("tok_sandbox_visa", 1000, "stamps:1:probe-0001")


# -- 3. authorization -------------------------------------------------------------


def test_kiosk_cannot_fetch_blobs_of_another_unit(api: ApiServer) -> None:
    """A kiosk caches its own unit's residents' feeds and blobs. A photo sent to
    a resident of unit A is not served to unit B's kiosk."""
    _admit(api)
    fam, _ = _approved_family(api)
    fam.post("/v1/family/stamps", json={
        "resident_agency_id": "100001", "offer_id": "bundle-20",
        "card_token": "tok_sandbox_visa", "idempotency_key": "buy-0000001"})
    sha = fam.post("/v1/family/blobs", data=PHOTO,
                   headers={"Content-Type": "image/jpeg"}).json()["sha256"]
    assert fam.post("/v1/family/messages", json={
        "uid": "fam-msg-00001", "resident_agency_id": "100001", "body": "the garden",
        "attachments": [{"kind": "photo", "sha256": sha}]}).status_code == 201
    assert api.session("K-A2").get(f"/v1/kiosk/blobs/{sha}").status_code == 200
    other_unit = api.session("K-B2").get(f"/v1/kiosk/blobs/{sha}")
    assert other_unit.status_code in (403, 404), other_unit.status_code


def test_reviewer_cannot_handle_alerts(api: ApiServer) -> None:
    """Alerts belong to technicians, investigators and administrators
    (docs/central.md, staff roles); a reviewer (holds, keyword lists,
    approvals) may neither read nor acknowledge them."""
    kiosk = api.session("K-A2")
    created = kiosk.post("/v1/kiosk/alerts", json={
        "uid": "alert-000001", "reason": "wrong_owner", "detail": "tablet of another",
        "tablet_serial": "JP5S-000009", "raised_at": 1_790_000_000})
    assert created.status_code == 201
    reviewer = api.staff("reviewer")
    assert reviewer.get("/v1/staff/alerts").status_code == 403
    assert reviewer.post(f"/v1/staff/alerts/{created.json()['id']}/acknowledge",
                         json={"note": "seen"}).status_code == 403


def test_alerts_of_two_kiosks_with_the_same_uid_are_both_kept(api: ApiServer) -> None:
    """An alert's uid is made at the kiosk that raised it; a resend from that
    kiosk is stored once. Another kiosk's refusal that happens to carry the
    same uid is a different alert: it is stored too (or refused so the kiosk
    can resend it), never silently answered with the first kiosk's alert."""
    report = {"uid": "alert-000001", "reason": "wrong_owner", "detail": "tablet of another",
              "tablet_serial": "JP5S-000009", "raised_at": 1_790_000_000}
    first = api.session("K-A2").post("/v1/kiosk/alerts", json=report)
    assert first.status_code == 201
    second = api.session("K-B2").post("/v1/kiosk/alerts", json={
        **report, "reason": "clone_counter", "tablet_serial": "JP5S-000777"})
    inbox = api.staff("technician").get("/v1/staff/alerts").json()
    if second.status_code == 201:
        assert {a["tablet_serial"] for a in inbox} == {"JP5S-000009", "JP5S-000777"}, (
            f"unit B's alert was answered with unit A's id {second.json()} and dropped")
    else:
        assert second.status_code == 409


def test_staff_can_log_out(api: ApiServer) -> None:
    """Every caller with a bearer token can end its session; a staff session
    (12 hours, with review and administration powers) is no exception."""
    reviewer = api.staff("reviewer")
    assert reviewer.delete("/v1/staff/sessions").status_code == 204
    assert reviewer.get("/v1/staff/holds").status_code == 401


def test_first_pin_must_be_changed_before_anything_else(api: ApiServer) -> None:
    """A resident's first PIN (shown to staff) must be changed at first login:
    until it is, the session can change the PIN and log out, nothing else."""
    new = _admit(api)
    api.facility.central.trust.set_balance("100001", 10_000)  # type: ignore[attr-defined]
    me = api.resident("K-A2", "100001", str(new["first_pin"]))
    assert me.get("/v1/resident/home").status_code == 403
    assert me.post("/v1/resident/transfers", json={
        "amount_cents": 500, "idempotency_key": "tr-0000001"}).status_code == 403


# -- 4. screening -------------------------------------------------------------------


def test_family_display_name_is_screened(facility: Facility) -> None:
    """Every message record carries the sender's display name to the resident.
    That name is text the family chose, so it is screened like the body: a
    name with a listed term holds the message for review."""
    f = facility
    rid = f.admit("100001", "Ann Example").id
    screening_lists.save_list(f.central, scope="unit", scope_id="U-A", language="en",
                              terms=["burner phone"], reach=f.scope("reviewer"))
    cid = f.family("deals@example.org", "Burner Phone Drop Gate 3", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    sent = messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                       body="hello")
    names = [r.body.get("contact_name") for r in
             messaging.feed_page(f.central, f"resident:{rid}", 0)[1] if r.kind == "message"]
    assert sent.status == "held", f"delivered to the resident with contact_name {names}"


# -- 5. data loss and unbounded work ------------------------------------------------


def test_retention_purge_handles_a_large_backlog(facility: Facility) -> None:
    """The retention purge removes every message past the period, however many
    there are (the first purge after ten years finds years of messages)."""
    f = facility
    free = PricingPolicy(stamps_per_message=0, offers=WASHINGTON.offers)
    with f.central.db.write() as conn:  # this agency's policy: messages cost no stamps
        conn.execute(update(agencies).where(agencies.c.id == "WA").values(policy=free.to_json()))
    f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    count = 1100
    for i in range(count):
        messaging.send_from_contact(f.central, cid, uid=f"old-{i:08d}",
                                    resident_agency_id="100001", body=f"note {i}")
    f.clock.advance(3651 * 86400)
    assert purge_expired(f.central) == count


def test_retention_purge_keeps_purchases_in_the_feed(facility: Facility) -> None:
    """Purging an old message removes that message's feed records only. An
    entitlement record whose ref happens to equal the message's uid (refs of
    entitlements are their ids) stays, so a replacement tablet still restores
    the purchase."""
    f = facility
    rid = _funded(f, "100001", 2000)
    _song(f)
    [ent] = media.purchase(f.central, rid, "song-1", key="buy-0000001")
    ent_ref = "12345678"
    # An agency this size has entitlement ids of eight digits and more.
    with f.central.db.write() as conn:
        conn.execute(update(entitlements).where(entitlements.c.id == ent.id)
                     .values(id=int(ent_ref)))
        conn.execute(update(feed_records).where(feed_records.c.kind == "entitlement",
                                                feed_records.c.ref == str(ent.id))
                     .values(ref=ent_ref))
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    messaging.send_from_contact(f.central, cid, uid=ent_ref, resident_agency_id="100001",
                                body="an old message")
    f.clock.advance(3651 * 86400)
    assert purge_expired(f.central) == 1
    kinds = [r.kind for r in messaging.feed_page(f.central, f"resident:{rid}", 0)[1]]
    assert "entitlement" in kinds, kinds
