"""The HTTP API end to end: a real server over TLS on loopback, kiosks with
client certificates, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from tests.central.api_server import ApiServer, Client

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # JPEG-ish bytes, 10 KiB


def _admit(api: ApiServer, agency_id: str = "100001", unit: str = "U-A") -> dict[str, object]:
    answer = api.staff("administrator").post("/v1/staff/residents", json={
        "agency_id": agency_id, "agency": "WA", "name": "Ann Example", "facility_id": "F1",
        "unit_id": unit, "language": "en"})
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


def _approved_family(api: ApiServer, agency_id: str = "100001") -> tuple[Client, int]:
    anon = api.session()
    assert anon.post("/v1/family/accounts", json={
        "email": "sis@example.org", "name": "Sis Example",
        "password": "family password 1"}).status_code == 201
    fam = api.family("sis@example.org")
    assert fam.post("/v1/family/approvals", json={"resident_agency_id": agency_id,
                                                  "relationship": "sister"}).status_code == 201
    # No resident's name before staff approve: an ID someone typed names nobody.
    [asked] = fam.get("/v1/family/approvals").json()
    assert (asked["status"], asked["resident_name"]) == ("pending", None)
    reviewer = api.staff("reviewer")
    [pending] = reviewer.get("/v1/staff/approvals").json()
    assert reviewer.post(f"/v1/staff/approvals/{pending['id']}/decision",
                         json={"approve": True}).status_code == 204
    [approved] = fam.get("/v1/family/approvals").json()
    assert approved["status"] == "approved" and approved["resident_name"]
    return fam, int(pending["contact_id"])


def test_family_to_resident_with_a_photo_and_a_held_message(api: ApiServer) -> None:
    resident = _admit(api)
    fam, _ = _approved_family(api)
    offers = fam.get("/v1/family/offers", params={"resident_agency_id": "100001"}).json()
    assert {(o["id"], o["stamps"], o["price_cents"]) for o in offers} >= {
        ("bundle-20", 20, 500), ("bundle-35", 35, 750), ("bundle-60", 60, 1000)}
    bought = fam.post("/v1/family/stamps", json={
        "resident_agency_id": "100001", "offer_id": "bundle-20",
        "card_token": "tok_sandbox_visa", "idempotency_key": "buy-0000001"})
    assert bought.status_code == 200 and bought.json()["stamps"] == 20
    uploaded = fam.post("/v1/family/blobs", data=PHOTO,
                        headers={"Content-Type": "image/jpeg"})
    assert uploaded.status_code == 201, uploaded.text
    sha = uploaded.json()["sha256"]
    assert sha == hashlib.sha256(PHOTO).hexdigest()
    sent = fam.post("/v1/family/messages", json={
        "uid": "fam-msg-00001", "resident_agency_id": "100001", "body": "Look at the garden",
        "attachments": [{"kind": "photo", "sha256": sha}]})
    assert sent.status_code == 201 and sent.json()["status"] == "delivered"

    kiosk = api.session("K-A2")
    page = kiosk.get(f"/v1/kiosk/feeds/{resident['id']}", params={"since": 0}).json()
    assert [r["kind"] for r in page["records"]] == ["message"]
    assert page["records"][0]["body"]["attachments"][0]["sha256"] == sha
    heads = kiosk.get("/v1/kiosk/heads").json()["heads"]
    assert heads[str(resident["id"])] == page["head"] == 1
    # Resuming a blob download from the middle (HTTP Range).
    part = kiosk.get(f"/v1/kiosk/blobs/{sha}", headers={"Range": "bytes=5000-"})
    assert part.status_code == 206 and part.content == PHOTO[5000:]
    nothing = kiosk.get(f"/v1/kiosk/feeds/{resident['id']}", params={"since": page["head"]})
    assert nothing.json() == {"head": 1, "records": []}

    # A keyword list catches the next one; a reviewer rejects it.
    reviewer = api.staff("reviewer")
    saved = reviewer.put("/v1/staff/keyword-lists", json={
        "scope": "unit", "scope_id": "U-A", "language": "en", "terms": ["burner phone"]})
    assert saved.status_code == 200 and saved.json()["version"] == 1
    held = fam.post("/v1/family/messages", json={
        "uid": "fam-msg-00002", "resident_agency_id": "100001",
        "body": "got you a B-U-R-N-E-R  phone"})
    assert held.json()["status"] == "held"
    [hold] = reviewer.get("/v1/staff/holds").json()
    detail = reviewer.get(f"/v1/staff/holds/{hold['hold_id']}").json()
    assert detail["hits"][0]["excerpt"] == "B-U-R-N-E-R  phone"
    assert detail["translation"]["status"] == "undetermined"
    bad = reviewer.post(f"/v1/staff/holds/{hold['hold_id']}/decision",
                        json={"approve": False, "reason_code": "made-up"})
    assert bad.status_code == 422 and bad.json()["error"] == "bad_reason"
    assert reviewer.post(f"/v1/staff/holds/{hold['hold_id']}/decision",
                         json={"approve": False, "reason_code": "contraband"}
                         ).status_code == 204
    family_notices = [r["body"] for r in fam.get("/v1/family/feed").json()["records"]
                      if r["kind"] == "notice"]
    assert [n["notice"] for n in family_notices] == ["message_held", "message_rejected"]
    later = kiosk.get(f"/v1/kiosk/feeds/{resident['id']}", params={"since": 1}).json()
    assert [(r["kind"], r["body"]["notice"]) for r in later["records"]] == [
        ("notice", "message_rejected")]
    assert fam.get("/v1/family/stamps", params={"resident_agency_id": "100001"}
                   ).json()["stamps"] == 18  # 2 for the photo message; the rejected one refunded
    # The family may fetch its own message's photo; a stranger may not.
    assert fam.get(f"/v1/family/blobs/{sha}").content == PHOTO
    api.session().post("/v1/family/accounts", json={
        "email": "other@example.org", "name": "Other", "password": "family password 2"})
    other = api.family("other@example.org", "family password 2")
    assert other.get(f"/v1/family/blobs/{sha}").status_code == 403


def test_a_resident_at_the_kiosk(api: ApiServer) -> None:
    new = _admit(api)
    _, contact_id = _approved_family(api)
    api.facility.central.trust.set_balance("100001", 10_000)  # type: ignore[attr-defined]
    login = api.session("K-A2").post("/v1/resident/sessions",
                                     json={"agency_id": "100001", "pin": new["first_pin"]})
    assert login.status_code == 200 and login.json()["must_change_pin"] is True
    me = api.session("K-A2", token=login.json()["token"])
    weak = me.post("/v1/resident/pin", json={"old_pin": new["first_pin"], "new_pin": "111111"})
    assert weak.status_code == 422
    assert me.post("/v1/resident/pin", json={"old_pin": new["first_pin"],
                                             "new_pin": "736192"}).status_code == 204
    out_of_limits = me.post("/v1/resident/transfers", json={"amount_cents": 725,
                                                            "idempotency_key": "tr-0000001"})
    assert out_of_limits.status_code == 403 and "$5.00 to $200.00" in out_of_limits.text
    moved = me.post("/v1/resident/transfers", json={"amount_cents": 2500,
                                                    "idempotency_key": "tr-0000002"})
    assert moved.status_code == 200 and moved.json()["trust_cents"] == 7500
    again = me.post("/v1/resident/transfers", json={"amount_cents": 2500,
                                                    "idempotency_key": "tr-0000002"})
    assert again.json()["replayed"] is True
    assert me.post("/v1/resident/stamps", json={"offer_id": "bundle-20",
                                                "idempotency_key": "st-0000001"}
                   ).status_code == 200
    for _ in range(3):  # a flaky network resends the same draft three times
        answer = me.post("/v1/resident/messages", json={
            "uid": "draft-000001", "contact_id": contact_id, "body": "See you Sunday"})
        assert answer.status_code == 201
    home = me.get("/v1/resident/home").json()
    assert (home["stamps"], home["prepaid_cents"], home["trust_cents"]) == (19, 2000, 7500)

    # A media purchase creates an entitlement with its delivery state.
    song = api.staff("administrator")
    uploaded = song.post("/v1/staff/blobs", data=b"ID3 a song" * 100,
                         headers={"Content-Type": "audio/mpeg"})
    assert uploaded.status_code == 201, uploaded.text
    assert song.post("/v1/staff/catalog", json={
        "id": "song-1", "kind": "song", "title": "River Road", "artist": "The Lanterns",
        "label": "Demo", "price_cents": 129, "sha256": uploaded.json()["sha256"],
        "duration_s": 200}).status_code == 201
    found = me.get("/v1/resident/catalog", params={"q": "river"}).json()
    assert [i["id"] for i in found] == ["song-1"]
    [ent] = me.post("/v1/resident/purchases", json={"item_id": "song-1",
                                                    "idempotency_key": "buy-song-01"}).json()
    assert (ent["state"], ent["price_cents"]) == ("paid", 129)
    dup = me.post("/v1/resident/purchases", json={"item_id": "song-1",
                                                  "idempotency_key": "buy-song-02"})
    assert dup.status_code == 403 and dup.json()["error"] == "already_owned"
    moved_on = api.session("K-A2").post(f"/v1/kiosk/entitlements/{ent['id']}/delivery",
                                        json={"state": "at_kiosk"})
    assert moved_on.json()["state"] == "at_kiosk"
    claim = api.session("K-A2").post(f"/v1/kiosk/entitlements/{ent['id']}/delivery",
                                     json={"state": "verified"})
    assert claim.status_code == 422  # only a receipt the tablet signed verifies delivery
    assert me.get("/v1/resident/home").json()["prepaid_cents"] == 2000 - 129

    # Trouble tickets: filed at the kiosk, answered by staff; a canned reply cannot close one.
    filed = me.post("/v1/resident/tickets", json={
        "uid": "ticket-00001", "category": "tablet_broken",
        "description": "The screen is cracked", "diagnostics": {"battery": 81}})
    assert filed.status_code == 201
    ticket = filed.json()
    assert ticket["due_at"] - ticket["created_at"] == 14 * 86400
    tech = api.staff("technician")
    canned_close = tech.post(f"/v1/staff/tickets/{ticket['id']}/replies",
                             json={"canned": "received", "resolve": True})
    assert canned_close.status_code == 403
    assert tech.post(f"/v1/staff/tickets/{ticket['id']}/replies",
                     json={"text": "Replaced the screen; tablet returned to you.",
                           "resolve": True}).status_code == 204
    mine = me.get(f"/v1/resident/tickets/{ticket['id']}").json()
    assert mine["status"] == "resolved"
    assert [h["kind"] for h in mine["history"]] == ["filed", "reply"]
    assert me.delete("/v1/resident/sessions").status_code == 204
    assert me.get("/v1/resident/home").status_code == 401


def test_who_may_call_what(api: ApiServer) -> None:
    new = _admit(api)
    _admit(api, "200002", unit="U-B")
    no_cert = api.session()
    answer = no_cert.get("/v1/kiosk/heads")
    assert answer.status_code == 401 and "certificate" in answer.json()["message"]
    assert api.session("stray").get("/v1/kiosk/heads").status_code == 401
    # A resident of unit A cannot log in at unit B's kiosk, and the answer is a
    # wrong PIN's, word for word: the right PIN tried elsewhere tells nothing ...
    wrong_unit = api.session("K-B2").post("/v1/resident/sessions",
                                          json={"agency_id": "100001", "pin": new["first_pin"]})
    wrong_pin = api.session("K-A2").post("/v1/resident/sessions",
                                         json={"agency_id": "100001", "pin": "000000"})
    assert wrong_unit.status_code == wrong_pin.status_code == 401
    assert wrong_unit.json() == wrong_pin.json()
    # ... nor use a session opened at one kiosk from another.
    me = api.resident("K-A2", "100001", str(new["first_pin"]))
    stolen = api.session("K-B2", token=str(me.http.headers["Authorization"]).split()[1])
    assert stolen.get("/v1/resident/home").status_code == 403
    # A kiosk sees only its own unit's residents.
    assert api.session("K-B2").get(f"/v1/kiosk/feeds/{new['id']}").status_code == 404
    # Staff roles.
    assert api.staff("reviewer").post("/v1/staff/residents", json={
        "agency_id": "300003", "agency": "WA", "name": "X", "facility_id": "F1",
        "unit_id": "U-A"}).status_code == 403
    assert api.staff("technician").get("/v1/staff/holds").status_code == 403
    assert api.staff("investigator").get("/v1/staff/audit").status_code == 200


def test_pin_lockout(api: ApiServer) -> None:
    new = _admit(api)
    kiosk = api.session("K-A2")
    for _ in range(5):
        assert kiosk.post("/v1/resident/sessions", json={
            "agency_id": "100001", "pin": "000000"}).status_code == 401
    locked = kiosk.post("/v1/resident/sessions", json={"agency_id": "100001",
                                                       "pin": new["first_pin"]})
    assert locked.status_code == 423 and "try again" in locked.json()["message"]
    api.facility.clock.advance(16 * 60)
    assert kiosk.post("/v1/resident/sessions", json={
        "agency_id": "100001", "pin": new["first_pin"]}).status_code == 200


def test_alerts_inbox(api: ApiServer) -> None:
    report = {"uid": "alert-000001", "reason": "wrong_owner", "detail": "tablet of another",
              "tablet_serial": "JP5S-000009", "resident_agency_id": "100001",
              "resident_name": "Ann Example", "registered_owner": "Bo Other (100002)",
              "raised_at": 1_790_000_000}
    kiosk = api.session("K-A2")
    first = kiosk.post("/v1/kiosk/alerts", json=report)
    again = kiosk.post("/v1/kiosk/alerts", json=report)
    assert first.status_code == 201 and first.json() == again.json()
    tech = api.staff("technician")
    [alert] = tech.get("/v1/staff/alerts").json()
    assert (alert["location_code"], alert["tablet_serial"]) == ("CC-A-HALL", "JP5S-000009")
    assert tech.post(f"/v1/staff/alerts/{alert['id']}/acknowledge",
                     json={"note": "Tablet collected from the dayroom"}).status_code == 204
    assert tech.get("/v1/staff/alerts").json() == []
    [done] = tech.get("/v1/staff/alerts", params={"status": "acknowledged"}).json()
    assert done["notes"][0]["text"] == "Tablet collected from the dayroom"
    audit = api.staff("investigator").get("/v1/staff/audit").json()
    assert audit[0]["action"] == "alert.acknowledge"


def test_archive_export(api: ApiServer) -> None:
    new = _admit(api)
    fam, _ = _approved_family(api)
    fam.post("/v1/family/stamps", json={
        "resident_agency_id": "100001", "offer_id": "bundle-20",
        "card_token": "tok_sandbox_visa", "idempotency_key": "buy-0000001"})
    sha = fam.post("/v1/family/blobs", data=PHOTO,
                   headers={"Content-Type": "image/jpeg"}).json()["sha256"]
    fam.post("/v1/family/messages", json={
        "uid": "fam-msg-00001", "resident_agency_id": "100001", "body": "hello",
        "attachments": [{"kind": "photo", "sha256": sha}]})
    answer = api.staff("investigator").get(f"/v1/staff/residents/{new['id']}/archive")
    assert answer.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    manifest = json.loads(archive.read("archive.json"))
    assert manifest["resident"]["agency_id"] == "100001"
    assert [m["body"] for m in manifest["messages"]] == ["hello"]
    assert archive.read(f"blobs/{sha}") == PHOTO


def test_malformed_requests_get_clear_4xx(api: ApiServer) -> None:
    anon = api.session()
    huge = anon.post("/v1/family/accounts", data=b"{" + b" " * (2 << 20) + b"}",
                     headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    garbage = anon.post("/v1/family/accounts", data=b"\xff\xfe not json",
                        headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400 and garbage.json()["error"] == "bad_request"
    extra = anon.post("/v1/family/accounts", json={"email": "a@b.example", "name": "A",
                                                   "password": "long enough pw", "admin": True})
    assert extra.status_code == 422 and "admin" in extra.json()["message"]
    assert anon.post("/v1/family/accounts", json={"email": "a@b.example", "name": "A",
                                                  "password": "long enough pw"}
                     ).status_code == 201
    nul = anon.post("/v1/family/accounts", json={"email": "n@b.example", "name": "A\x00B",
                                                 "password": "long enough pw"})
    assert nul.status_code == 422 and "NUL" in nul.json()["message"]
    stranger = api.family("a@b.example", "long enough pw")
    refused = stranger.post("/v1/family/blobs", data=PHOTO,
                            headers={"Content-Type": "image/jpeg"})
    assert refused.status_code == 403  # uploads are for approved contacts
    _admit(api)
    fam, _ = _approved_family(api)
    wrong_type = fam.post("/v1/family/blobs", data=b"MZ\x90\x00",
                          headers={"Content-Type": "application/x-msdownload"})
    assert wrong_type.status_code == 422 and wrong_type.json()["error"] == "bad_media_type"
    liar = fam.post("/v1/family/blobs", data=PHOTO, headers={
        "Content-Type": "image/jpeg", "X-Content-SHA256": "0" * 64})
    assert liar.status_code == 422 and liar.json()["error"] == "hash_mismatch"
    disguised = fam.post("/v1/family/blobs", data=b"MZ\x90\x00 not a jpeg",
                         headers={"Content-Type": "image/jpeg"})
    assert disguised.status_code == 422 and disguised.json()["error"] == "content_mismatch"
    assert not list((api.facility.central.blobs.directory).glob("*/*"))  # nothing kept


def test_the_agency_can_review_every_photo(api: ApiServer) -> None:
    _admit(api)
    fam, _ = _approved_family(api)
    admin = api.staff("administrator")
    policy = admin.get("/v1/staff/agencies/WA/policy").json()
    assert policy["review_attachments"] is False
    bad = admin.put("/v1/staff/agencies/WA/policy", json={**policy, "transfer_min_cents": 0})
    assert bad.status_code == 422
    assert admin.put("/v1/staff/agencies/WA/policy",
                     json={**policy, "review_attachments": True}).status_code == 204
    assert api.staff("reviewer").put("/v1/staff/agencies/WA/policy",
                                     json=policy).status_code == 403
    fam.post("/v1/family/stamps", json={
        "resident_agency_id": "100001", "offer_id": "bundle-20",
        "card_token": "tok_sandbox_visa", "idempotency_key": "buy-0000001"})
    sha = fam.post("/v1/family/blobs", data=PHOTO,
                   headers={"Content-Type": "image/jpeg"}).json()["sha256"]
    with_photo = fam.post("/v1/family/messages", json={
        "uid": "fam-msg-00001", "resident_agency_id": "100001", "body": "the garden",
        "attachments": [{"kind": "photo", "sha256": sha}]})
    text_only = fam.post("/v1/family/messages", json={
        "uid": "fam-msg-00002", "resident_agency_id": "100001", "body": "plain words"})
    assert (with_photo.json()["status"], text_only.json()["status"]) == ("held", "delivered")
    [hold] = api.staff("reviewer").get("/v1/staff/holds").json()
    assert hold["hits"] == [{"policy": "review_attachments",
                             "text": "the agency reviews every photo and videogram"}]
    changes = [a for a in api.staff("investigator").get("/v1/staff/audit").json()
               if a["action"] == "agency.policy"]
    assert len(changes) == 1 and '"review_attachments": true' in changes[0]["detail"]["new"]
