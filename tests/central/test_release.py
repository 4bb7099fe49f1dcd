"""A resident's release on both databases through the real server: the account
moves to released (the kiosk refuses it), the named family member and the
resident's own claimed login download the whole archive as a streamed zip
holding every message and photo, strangers and the expired cannot, and the
prepaid balance leaves once by an option whose fee was shown first."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from central import ledger
from central.services import money
from central.services.ledger_store import load_accounts
from tests.central.api_server import ApiServer, Client
from tests.central.test_api import PHOTO, _approved_family
from tests.central.test_essential_requests import _resident

DAY = 86400


def _family_writes(fam: Client, count: int) -> tuple[list[str], str]:
    assert fam.post("/v1/family/stamps", json={
        "resident_agency_id": "100001", "offer_id": "bundle-20",
        "card_token": "tok_sandbox_visa", "idempotency_key": "buy-0000001"}).status_code == 200
    sha = fam.post("/v1/family/blobs", data=PHOTO,
                   headers={"Content-Type": "image/jpeg"}).json()["sha256"]
    uids = []
    for i in range(count):
        uid = f"fam-msg-{i:05d}"
        sent = fam.post("/v1/family/messages", json={
            "uid": uid, "resident_agency_id": "100001", "body": f"Letter number {i}",
            "attachments": [{"kind": "photo", "sha256": sha}] if i == 0 else []})
        assert sent.status_code == 201 and sent.json()["status"] == "delivered", sent.text
        uids.append(uid)
    return uids, sha


def _zip(answer: object) -> tuple[dict[str, object], dict[str, bytes]]:
    content = answer.content  # type: ignore[attr-defined]
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    return json.loads(files.pop("archive.json")), files


def test_a_released_residents_family_downloads_every_message_and_photo(
        api: ApiServer) -> None:
    me, rid = _resident(api)
    fam, contact_id = _approved_family(api)
    uids, sha = _family_writes(fam, 3)
    c = api.facility.central
    c.trust.set_balance("100001", 10_000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(c, rid, amount_cents=1000, key="fund-000001")
    # Only an approved contact can be named; a facility reviewer cannot release.
    assert api.staff("reviewer").post(f"/v1/staff/residents/{rid}/release",
                                      json={}).status_code == 403
    assert api.staff("administrator").post(f"/v1/staff/residents/{rid}/release", json={
        "designee_contact_id": 999}).json()["error"] == "not_a_contact"
    released = api.staff("administrator").post(f"/v1/staff/residents/{rid}/release", json={
        "designee_contact_id": contact_id})
    assert released.status_code == 201, released.text
    code = released.json()["claim_code"]
    assert released.json()["retain_until"] - released.json()["released_at"] == 365 * DAY
    assert api.staff("administrator").post(f"/v1/staff/residents/{rid}/release",
                                           json={}).status_code == 409
    # The resident's kiosk session ended, and the kiosk refuses their PIN.
    assert me.get("/v1/resident/home").status_code == 401
    assert api.session("K-A2").post("/v1/resident/sessions", json={
        "agency_id": "100001", "pin": "736192"}).status_code in (401, 403)
    # The named family member downloads it: every message, every photo.
    answer = fam.get("/v1/family/released/100001/archive")
    assert answer.status_code == 200, answer.text
    manifest, blobs = _zip(answer)
    assert [m["uid"] for m in manifest["messages"]] == uids  # type: ignore[attr-defined]
    assert blobs == {f"blobs/{sha}": PHOTO}
    assert hashlib.sha256(blobs[f"blobs/{sha}"]).hexdigest() == sha
    # A stranger, and another approved family member not named, get nothing.
    api.session().post("/v1/family/accounts", json={
        "email": "other@example.org", "name": "Other", "password": "family password 1"})
    stranger = api.family("other@example.org")
    assert stranger.get("/v1/family/released/100001/archive").status_code == 404
    assert stranger.post("/v1/family/released/claim", json={
        "agency_id": "100001", "code": "AAAA-BBBB-CCCC"}).status_code == 404
    # The resident claims a login of their own, once, and chooses a payout.
    api.session().post("/v1/family/accounts", json={
        "email": "ann.free@example.org", "name": "Ann Example",
        "password": "family password 1"})
    own = api.family("ann.free@example.org")
    assert own.post("/v1/family/released/claim", json={
        "agency_id": "100001", "code": code}).status_code == 200
    assert stranger.post("/v1/family/released/claim", json={
        "agency_id": "100001", "code": code}).status_code == 404
    assert _zip(own.get("/v1/family/released/100001/archive"))[0]["messages"]
    assert fam.get("/v1/family/released/100001/payout").status_code == 403
    offered = own.get("/v1/family/released/100001/payout").json()
    assert offered["balance_cents"] == 1000
    fees = {o["option"]: (o["fee_cents"], o["net_cents"]) for o in offered["options"]}
    assert fees == {"trust": (0, 1000), "check": (0, 1000), "release-card": (295, 705)}
    wrong_fee = own.post("/v1/family/released/100001/payout",
                         json={"option": "release-card", "expected_fee_cents": 0})
    assert wrong_fee.status_code == 409 and wrong_fee.json()["error"] == "fee_changed"
    paid = [own.post("/v1/family/released/100001/payout",
                     json={"option": "release-card", "expected_fee_cents": 295})
            for _ in range(2)]
    assert [p.status_code for p in paid] == [200, 200]
    assert own.post("/v1/family/released/100001/payout",
                    json={"option": "check", "expected_fee_cents": 0}).status_code == 409
    with c.db.read() as conn:
        accounts = load_accounts(conn, [ledger.prepaid_account(rid).id, "agency:WA:payouts",
                                        "agency:WA:payout-fees"])
    assert {k: a.balance for k, a in accounts.items()} == {
        "agency:WA:payout-fees": 295, "agency:WA:payouts": 705, f"resident:{rid}:prepaid": 0}
    # After the retention period, nobody downloads it.
    c.clock.advance(366 * DAY)  # type: ignore[attr-defined]
    fam = api.family("sis@example.org")
    late = fam.get("/v1/family/released/100001/archive")
    assert late.status_code == 403 and late.json()["error"] == "archive_expired"
