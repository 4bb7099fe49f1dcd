"""A purchase is verified only by a receipt its owner's tablet signed: a kiosk
forwards receipts but cannot make one up."""

from __future__ import annotations

import base64
import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from central.schema import tablets
from central.services import feeds, media, money
from device_security.ca_store import pem
from device_security.pki import Role
from sync.receipts import delivery_fields, statement_bytes
from tests.central.api_server import ApiServer
from tests.central.test_api import _admit, _approved_family

SONG = b"ID3" + b"a song" * 500


def _tablet(api: ApiServer, serial: str, resident_id: int) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    cert = api.ca.issue(key.public_key(), role=Role.TABLET, name=serial, serial=serial,
                        now=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1))
    tech = api.staff("technician")
    assert tech.post("/v1/staff/tablets", json={"serial": serial,
                                                "certificate": pem(cert).decode()}
                     ).status_code == 201
    assert tech.post(f"/v1/staff/tablets/{serial}/assignment",
                     json={"resident_id": resident_id}).status_code == 204
    return key


def _receipt(key: Ed25519PrivateKey, serial: str, sha: str) -> dict[str, str]:
    signature = key.sign(statement_bytes("blob", {"serial": serial, "sha": bytes.fromhex(sha)}))
    return {"serial": serial, "sha256": sha, "signature": base64.b64encode(signature).decode()}


def _bought_song(api: ApiServer, agency_id: str = "100001") -> tuple[dict[str, object], str, int]:
    new = _admit(api, agency_id)
    admin = api.staff("administrator")
    sha = admin.post("/v1/staff/blobs", data=SONG,
                     headers={"Content-Type": "audio/mpeg"}).json()["sha256"]
    admin.post("/v1/staff/catalog", json={
        "id": "song-1", "kind": "song", "title": "River Road", "artist": "The Lanterns",
        "label": "Demo", "price_cents": 129, "sha256": sha, "duration_s": 200})
    api.facility.central.trust.set_balance(agency_id, 10_000)  # type: ignore[attr-defined]
    me = api.resident("K-A2", agency_id, str(new["first_pin"]))
    me.post("/v1/resident/pin", json={"old_pin": new["first_pin"], "new_pin": "736192"})
    me.post("/v1/resident/transfers", json={"amount_cents": 500,
                                            "idempotency_key": "tr-0000001"})
    [ent] = me.post("/v1/resident/purchases", json={"item_id": "song-1",
                                                    "idempotency_key": "buy-song-01"}).json()
    return new, sha, int(ent["id"])


def test_the_owners_tablet_verifies_a_purchase(api: ApiServer) -> None:
    new, sha, ent_id = _bought_song(api)
    key = _tablet(api, "JP5S-000001", int(str(new["id"])))
    kiosk = api.session("K-A2")
    answer = kiosk.post("/v1/kiosk/receipts/blob", json=_receipt(key, "JP5S-000001", sha))
    assert answer.status_code == 200 and answer.json() == {"entitlements": [ent_id]}
    [ent] = media.entitlements_of(api.facility.central, int(str(new["id"])))
    assert ent.state == "verified"
    # Verified purchases are never refunded as undelivered.
    api.facility.clock.advance(30 * 86400)
    assert media.refund_undelivered(api.facility.central) == []


def test_a_receipt_the_tablet_did_not_sign_is_refused(api: ApiServer) -> None:
    new, sha, _ = _bought_song(api)
    _tablet(api, "JP5S-000001", int(str(new["id"])))
    kiosk = api.session("K-A2")
    forged = kiosk.post("/v1/kiosk/receipts/blob",
                        json=_receipt(Ed25519PrivateKey.generate(), "JP5S-000001", sha))
    assert forged.status_code == 403 and forged.json()["error"] == "bad_receipt"
    garbage = kiosk.post("/v1/kiosk/receipts/blob", json={
        "serial": "JP5S-000001", "sha256": sha, "signature": "bm90IGEgc2lnbmF0dXJl"})
    assert garbage.status_code == 403
    [ent] = media.entitlements_of(api.facility.central, int(str(new["id"])))
    assert ent.state == "paid"


def test_receipts_come_from_the_residents_own_unit_and_active_tablets(api: ApiServer) -> None:
    new, sha, _ = _bought_song(api)
    key = _tablet(api, "JP5S-000001", int(str(new["id"])))
    other_unit = api.session("K-B2").post("/v1/kiosk/receipts/blob",
                                          json=_receipt(key, "JP5S-000001", sha))
    assert other_unit.status_code == 404
    api.staff("technician").post("/v1/staff/tablets/JP5S-000001/status",
                                 json={"status": "lost"})
    lost = api.session("K-A2").post("/v1/kiosk/receipts/blob",
                                    json=_receipt(key, "JP5S-000001", sha))
    assert lost.status_code == 403


def test_a_certificate_must_be_the_tablets_own(api: ApiServer) -> None:
    key = Ed25519PrivateKey.generate()
    cert = api.ca.issue(key.public_key(), role=Role.TABLET, name="x", serial="JP5S-000002",
                        now=datetime.datetime.now(datetime.UTC))
    wrong = api.staff("technician").post("/v1/staff/tablets", json={
        "serial": "JP5S-000001", "certificate": pem(cert).decode()})
    assert wrong.status_code == 422 and wrong.json()["error"] == "wrong_certificate"
    junk = api.staff("technician").post("/v1/staff/tablets", json={
        "serial": "JP5S-000001", "certificate": "-----BEGIN CERTIFICATE-----\nxx\n"})
    assert junk.status_code == 422


def _draft(key: Ed25519PrivateKey, serial: str, uid: str, contact_id: int,
           body: str = "See you Sunday", resident: str = "100001") -> dict[str, object]:
    signature = key.sign(statement_bytes("draft", {
        "serial": serial, "uid": uid, "resident": resident, "contact": contact_id,
        "body": body, "attachments": []}))
    return {"serial": serial, "uid": uid, "resident_agency_id": resident,
            "contact_id": contact_id, "body": body,
            "signature": base64.b64encode(signature).decode()}


def test_a_tablet_draft_is_sent_once_and_only_if_signed(api: ApiServer) -> None:
    new = _admit(api)
    fam, contact_id = _approved_family(api)
    rid = int(str(new["id"]))
    key = _tablet(api, "JP5S-000001", rid)
    api.facility.central.trust.set_balance("100001", 10_000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(api.facility.central, rid, amount_cents=500, key="fund-000001")
    money.buy_stamps_for_resident(api.facility.central, rid, offer_id="bundle-20",
                                  key="stamps-000001")
    kiosk = api.session("K-A2")
    draft = _draft(key, "JP5S-000001", "tablet-draft-0001", contact_id)
    sent = [kiosk.post("/v1/kiosk/outbox", json=draft) for _ in range(3)]
    assert [s.status_code for s in sent] == [201, 201, 201]
    assert [s.json()["replayed"] for s in sent] == [False, True, True]
    assert money.balances(api.facility.central, f"resident:{rid}").stamps == 19
    bodies = [r["body"]["body"] for r in fam.get("/v1/family/feed").json()["records"]
              if r["kind"] == "message"]
    assert bodies == ["See you Sunday"]
    # A kiosk that changes the text, or signs it itself, is refused.
    tampered = {**draft, "uid": "tablet-draft-0002", "body": "Send money"}
    assert kiosk.post("/v1/kiosk/outbox", json=tampered).status_code == 403
    forged = _draft(Ed25519PrivateKey.generate(), "JP5S-000001", "tablet-draft-0003",
                    contact_id)
    assert kiosk.post("/v1/kiosk/outbox", json=forged).json()["error"] == "bad_signature"
    # Another resident's name on this tablet's draft, or another unit's kiosk: not found.
    assert kiosk.post("/v1/kiosk/outbox", json=_draft(
        key, "JP5S-000001", "tablet-draft-0004", contact_id, resident="200002")
    ).status_code == 404
    assert api.session("K-B2").post("/v1/kiosk/outbox", json=_draft(
        key, "JP5S-000001", "tablet-draft-0005", contact_id)).status_code == 404
    assert money.balances(api.facility.central, f"resident:{rid}").stamps == 19


SESSION = bytes(range(16))
BATCH = bytes(range(32, 64))


def _records(key: Ed25519PrivateKey, serial: str, through: int,
             session: bytes = SESSION) -> dict[str, object]:
    signature = key.sign(statement_bytes("records", {
        "serial": serial, "session": session, "through": through, "batch_digest": BATCH}))
    return {"serial": serial, "session": base64.b64encode(session).decode(),
            "through": through, "batch_digest": base64.b64encode(BATCH).decode(),
            "signature": base64.b64encode(signature).decode()}


def _resident_with_feed(api: ApiServer, records: int = 3) -> int:
    """A resident on unit U-A whose feed has ``records`` records."""
    rid = int(str(_admit(api)["id"]))
    central = api.facility.central
    with central.db.write() as conn:
        for n in range(records):
            feeds.append(conn, f"resident:{rid}", "notice", f"notice-{n}",
                         {"notice": "test", "text": f"notice {n}"}, central.clock())
    return rid


def _dock(api: ApiServer, serial: str) -> tuple[int, int | None, str | None]:
    """The tablet's feed_through, last_dock_at and last_dock_kiosk as stored."""
    with api.facility.central.db.read() as conn:
        row = conn.execute(select(tablets.c.feed_through, tablets.c.last_dock_at,
                                  tablets.c.last_dock_kiosk)
                           .where(tablets.c.serial == serial)).one()
    return int(row.feed_through), row.last_dock_at, row.last_dock_kiosk


def test_a_records_receipt_records_how_far_the_tablet_committed(api: ApiServer) -> None:
    key = _tablet(api, "JP5S-000001", _resident_with_feed(api))
    assert _dock(api, "JP5S-000001") == (0, None, None)
    at = api.facility.clock()
    answer = api.session("K-A2").post("/v1/kiosk/receipts/records",
                                      json=_records(key, "JP5S-000001", 2))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"serial": "JP5S-000001", "through": 2, "last_dock_at": at}
    assert _dock(api, "JP5S-000001") == (2, at, "K-A2")


def test_a_replayed_or_older_records_receipt_never_moves_the_tablet_back(
        api: ApiServer) -> None:
    key = _tablet(api, "JP5S-000001", _resident_with_feed(api))
    kiosk = api.session("K-A2")
    receipt = _records(key, "JP5S-000001", 3)
    assert kiosk.post("/v1/kiosk/receipts/records", json=receipt).status_code == 200
    # The same receipt again: only the dock time moves.
    api.facility.clock.advance(60)
    again = kiosk.post("/v1/kiosk/receipts/records", json=receipt)
    assert again.status_code == 200 and again.json()["through"] == 3
    assert _dock(api, "JP5S-000001") == (3, api.facility.clock(), "K-A2")
    # An earlier session's receipt, forwarded late, does not lower it.
    api.facility.clock.advance(60)
    older = kiosk.post("/v1/kiosk/receipts/records",
                       json=_records(key, "JP5S-000001", 1, session=bytes(16)))
    assert older.status_code == 200 and older.json()["through"] == 3
    assert _dock(api, "JP5S-000001") == (3, api.facility.clock(), "K-A2")


def test_a_records_receipt_the_tablet_did_not_sign_is_refused(api: ApiServer) -> None:
    key = _tablet(api, "JP5S-000001", _resident_with_feed(api))
    kiosk = api.session("K-A2")
    forged = kiosk.post("/v1/kiosk/receipts/records",
                        json=_records(Ed25519PrivateKey.generate(), "JP5S-000001", 2))
    assert forged.status_code == 403 and forged.json()["error"] == "bad_receipt"
    # The tablet's own signature over other values is refused too.
    altered = {**_records(key, "JP5S-000001", 1), "through": 2}
    assert kiosk.post("/v1/kiosk/receipts/records", json=altered).status_code == 403
    assert _dock(api, "JP5S-000001") == (0, None, None)


def test_a_records_receipt_beyond_the_feeds_head_is_refused(api: ApiServer) -> None:
    key = _tablet(api, "JP5S-000001", _resident_with_feed(api, records=3))
    beyond = api.session("K-A2").post("/v1/kiosk/receipts/records",
                                      json=_records(key, "JP5S-000001", 4))
    assert beyond.status_code == 422 and beyond.json()["error"] == "through_beyond_head"
    assert _dock(api, "JP5S-000001") == (0, None, None)


def test_records_receipts_come_from_the_residents_own_unit(api: ApiServer) -> None:
    key = _tablet(api, "JP5S-000001", _resident_with_feed(api))
    other_unit = api.session("K-B2").post("/v1/kiosk/receipts/records",
                                          json=_records(key, "JP5S-000001", 2))
    assert other_unit.status_code == 404
    malformed = api.session("K-A2").post("/v1/kiosk/receipts/records", json={
        **_records(key, "JP5S-000001", 2), "session": base64.b64encode(bytes(15)).decode()})
    assert malformed.status_code == 422
    assert _dock(api, "JP5S-000001") == (0, None, None)


def test_a_tablet_given_to_another_resident_starts_its_feed_again(api: ApiServer) -> None:
    key = _tablet(api, "JP5S-000001", _resident_with_feed(api))
    api.session("K-A2").post("/v1/kiosk/receipts/records", json=_records(key, "JP5S-000001", 3))
    assert _dock(api, "JP5S-000001")[0] == 3
    tech = api.staff("technician")
    other = int(str(_admit(api, "100002")["id"]))
    # Assigning it to the same resident again keeps its place.
    assert tech.post("/v1/staff/tablets/JP5S-000001/assignment",
                     json={"resident_id": _dock_owner(api)}).status_code == 204
    assert _dock(api, "JP5S-000001")[0] == 3
    assert tech.post("/v1/staff/tablets/JP5S-000001/assignment",
                     json={"resident_id": other}).status_code == 204
    assert _dock(api, "JP5S-000001")[0] == 0


def test_a_tablet_is_assigned_by_the_residents_agency_id(api: ApiServer) -> None:
    _tablet(api, "JP5S-000001", _resident_with_feed(api))
    other = int(str(_admit(api, "100002")["id"]))
    tech = api.staff("technician")
    assert tech.post("/v1/staff/tablets/JP5S-000001/assignment",
                     json={"resident_agency_id": "100002"}).status_code == 204
    assert _dock_owner(api) == other
    for body in ({}, {"resident_id": other, "resident_agency_id": "100002"}):
        assert tech.post("/v1/staff/tablets/JP5S-000001/assignment",
                         json=body).status_code == 422, body
    assert tech.post("/v1/staff/tablets/JP5S-000001/assignment",
                     json={"resident_agency_id": "999999"}).status_code == 404


def _dock_owner(api: ApiServer) -> int:
    with api.facility.central.db.read() as conn:
        return int(conn.execute(select(tablets.c.resident_id)
                                .where(tablets.c.serial == "JP5S-000001")).scalar_one())


# -- a receipt names the owner and the purchase it verifies ------------------------------------


def _delivery(key: Ed25519PrivateKey, serial: str, owner: str, sha: str,
              ids: list[int]) -> dict[str, object]:
    fields = delivery_fields(serial=serial, owner=owner, sha=bytes.fromhex(sha),
                             entitlements=ids)
    signature = key.sign(statement_bytes("delivery", fields))
    return {"serial": serial, "owner": owner, "sha256": sha, "entitlements": ids,
            "signature": base64.b64encode(signature).decode()}


def _buy(api: ApiServer, rid: int, agency_id: str, key: str) -> int:
    central = api.facility.central
    central.trust.set_balance(agency_id, 10_000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(central, rid, amount_cents=500, key=f"fund-{agency_id}-{key}")
    [ent] = media.purchase(central, rid, "song-1", key=key)
    return ent.id


def _state(api: ApiServer, rid: int, ent_id: int) -> str:
    return {e.id: e.state for e in media.entitlements_of(api.facility.central, rid)}[ent_id]


def test_a_receipt_from_before_a_reassignment_verifies_nothing_of_the_new_owner(
        api: ApiServer) -> None:
    """The tablet was Ann's, and signed for her song. Given to Bo, who buys the
    same song, the receipts it signed for Ann (either kind: kept at a kiosk,
    or replayed by one) must not mark Bo's purchase delivered: he would never
    get the song, nor his money back."""
    ann, sha, ann_ent = _bought_song(api)
    ann_id = int(str(ann["id"]))
    key = _tablet(api, "JP5S-000001", ann_id)
    kiosk = api.session("K-A2")
    old_blob = _receipt(key, "JP5S-000001", sha)
    old_delivery = _delivery(key, "JP5S-000001", "100001", sha, [ann_ent])
    answer = kiosk.post("/v1/kiosk/receipts/delivery", json=old_delivery)
    assert answer.status_code == 200 and answer.json() == {"entitlements": [ann_ent]}
    # The tablet goes to Bo, on the same unit; he buys the same song.
    bo_id = int(str(_admit(api, "100002")["id"]))
    assert api.staff("technician").post("/v1/staff/tablets/JP5S-000001/assignment",
                                        json={"resident_id": bo_id}).status_code == 204
    bo_ent = _buy(api, bo_id, "100002", "buy-bo-00001")
    replayed = kiosk.post("/v1/kiosk/receipts/blob", json=old_blob)
    assert replayed.status_code == 403
    assert replayed.json()["error"] == "receipt_names_no_owner"
    replayed = kiosk.post("/v1/kiosk/receipts/delivery", json=old_delivery)
    assert replayed.status_code == 403
    assert replayed.json()["error"] == "receipt_for_another_owner"
    # Ann's receipt with Bo's purchase written in: the tablet did not sign that.
    edited = {**old_delivery, "entitlements": [bo_ent]}
    assert kiosk.post("/v1/kiosk/receipts/delivery", json=edited).json()["error"] == (
        "bad_receipt")
    assert _state(api, bo_id, bo_ent) == "paid"
    # Not delivered, so refunded in time.
    api.facility.clock.advance(15 * 86400)
    assert media.refund_undelivered(api.facility.central) == [bo_ent]
    assert _state(api, ann_id, ann_ent) == "verified"


def test_a_delivery_receipt_verifies_the_owners_named_purchase_only(api: ApiServer) -> None:
    ann, sha, ann_ent = _bought_song(api)
    ann_id = int(str(ann["id"]))
    bo_id = int(str(_admit(api, "100002")["id"]))
    bo_ent = _buy(api, bo_id, "100002", "buy-bo-00001")
    key = _tablet(api, "JP5S-000001", bo_id)
    kiosk = api.session("K-A2")
    # Bo's tablet, signing (honestly or not) for Ann's purchase of the same song.
    for owner, ids in (("100002", [ann_ent]), ("100002", [ann_ent, bo_ent])):
        refused = kiosk.post("/v1/kiosk/receipts/delivery",
                             json=_delivery(key, "JP5S-000001", owner, sha, ids))
        assert refused.status_code == 403 and refused.json()["error"] == "receipt_mismatch"
    refused = kiosk.post("/v1/kiosk/receipts/delivery",
                         json=_delivery(key, "JP5S-000001", "100001", sha, [ann_ent]))
    assert refused.json()["error"] == "receipt_for_another_owner"
    # Another file's hash for his own purchase: a mismatch too.
    other = "ab" * 32
    refused = kiosk.post("/v1/kiosk/receipts/delivery",
                         json=_delivery(key, "JP5S-000001", "100002", other, [bo_ent]))
    assert refused.json()["error"] == "receipt_mismatch"
    assert _state(api, ann_id, ann_ent) == _state(api, bo_id, bo_ent) == "paid"
    # A list out of order or repeated is malformed, not a different receipt.
    unsorted = _delivery(key, "JP5S-000001", "100002", sha, [bo_ent])
    unsorted["entitlements"] = [bo_ent, bo_ent]
    assert kiosk.post("/v1/kiosk/receipts/delivery", json=unsorted).status_code == 422
    # His own receipt for his own purchase: verified, once however often it comes.
    mine = _delivery(key, "JP5S-000001", "100002", sha, [bo_ent])
    assert kiosk.post("/v1/kiosk/receipts/delivery", json=mine).json() == {
        "entitlements": [bo_ent]}
    assert kiosk.post("/v1/kiosk/receipts/delivery", json=mine).json() == {"entitlements": []}
    assert api.session("K-B2").post("/v1/kiosk/receipts/delivery",
                                    json=mine).status_code == 404
    assert _state(api, bo_id, bo_ent) == "verified"
    assert _state(api, ann_id, ann_ent) == "paid"
