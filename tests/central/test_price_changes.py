"""Price changes need a second agency administrator, are announced before they
apply, keep a history; a public-domain item is never priced above zero. On
both databases, through the real server."""

from __future__ import annotations

import dataclasses
import hashlib

from central.services import accounts, prices
from central.services.accounts import policy_of
from tests.central.api_server import ApiServer, Client
from tests.central.facility import STAFF_PASSWORD, SYSTEM
from tests.central.test_essential_requests import _resident

DAY = 86400
SONG = b"ID3" + b"a public song" * 300


def _second_admin(api: ApiServer) -> Client:
    accounts.create_staff(api.facility.central, "admin-two", "Second Admin", "administrator",
                          STAFF_PASSWORD, agency_id="WA", scope=SYSTEM)
    return api.staff("admin-two")


def _song(api: ApiServer, item_id: str, price: int, license_: str = "commercial"
          ) -> tuple[int, str]:
    admin = api.staff("administrator")
    sha = hashlib.sha256(SONG).hexdigest()
    admin.post("/v1/staff/blobs", data=SONG, headers={"Content-Type": "audio/mpeg"})
    answer = admin.post("/v1/staff/catalog", json={
        "id": item_id, "kind": "song", "title": "Old Song", "artist": "Anon", "label": "PD",
        "price_cents": price, "sha256": sha, "duration_s": 120, "license": license_})
    return answer.status_code, answer.text


def test_a_price_change_needs_another_administrator_and_notice(api: ApiServer) -> None:
    assert _song(api, "song-1", 129)[0] == 201
    admin, second = api.staff("administrator"), _second_admin(api)
    now = api.facility.clock()
    too_soon = admin.post("/v1/staff/price-changes", json={
        "target": "catalog:song-1", "new_value": 149, "effective_at": now + DAY})
    assert too_soon.status_code == 403 and too_soon.json()["error"] == "notice_too_short"
    proposed = admin.post("/v1/staff/price-changes", json={
        "target": "catalog:song-1", "new_value": 149, "effective_at": now + 10 * DAY})
    assert proposed.status_code == 201, proposed.text
    change = proposed.json()
    assert (change["old_value"], change["status"]) == (129, "proposed")
    mine = admin.post(f"/v1/staff/price-changes/{change['id']}/approval")
    assert mine.status_code == 403 and mine.json()["error"] == "second_administrator_needed"
    # A facility's administrator is not an agency administrator.
    accounts.create_staff(api.facility.central, "admin-f1", "Facility Admin", "administrator",
                          STAFF_PASSWORD, facility_id="F1", scope=SYSTEM)
    assert api.staff("admin-f1").post(
        f"/v1/staff/price-changes/{change['id']}/approval").status_code == 403
    me, _ = _resident(api)
    [item] = me.get("/v1/resident/catalog?q=Old").json()
    assert item["price_cents"] == 129 and item["next_price_cents"] is None
    approved = second.post(f"/v1/staff/price-changes/{change['id']}/approval")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert second.post(f"/v1/staff/price-changes/{change['id']}/approval").status_code == 409
    # Residents see it before it applies ...
    [item] = me.get("/v1/resident/catalog?q=Old").json()
    assert (item["price_cents"], item["next_price_cents"], item["next_price_from"]) \
        == (129, 149, now + 10 * DAY)
    assert [p["target"] for p in me.get("/v1/resident/price-changes").json()] \
        == ["catalog:song-1"]
    # ... and it applies at its time, not before.
    assert prices.apply_due(api.facility.central) == []
    api.facility.clock.advance(10 * DAY)
    assert prices.apply_due(api.facility.central) == [change["id"]]
    me = api.resident("K-A2", "100001", "736192")
    [item] = me.get("/v1/resident/catalog?q=Old").json()
    assert (item["price_cents"], item["next_price_cents"]) == (149, None)
    history = api.staff("administrator").get("/v1/staff/price-changes").json()
    assert [(h["target"], h["status"], h["old_value"], h["new_value"]) for h in history] \
        == [("catalog:song-1", "applied", 129, 149)]


def test_stamp_prices_change_only_by_a_proposal(api: ApiServer) -> None:
    admin, second = api.staff("administrator"), _second_admin(api)
    policy = admin.get("/v1/staff/agencies/WA/policy").json()
    direct = admin.put("/v1/staff/agencies/WA/policy",
                       json={**policy, "stamps_per_photo": 3})
    assert direct.status_code == 403 and direct.json()["error"] == "price_change_needs_approval"
    offers = [{**o, "price_cents": 400} if o["id"] == "bundle-20" else o
              for o in policy["offers"]]
    assert admin.put("/v1/staff/agencies/WA/policy",
                     json={**policy, "offers": offers}).status_code == 403
    # Limits are not prices: they change directly.
    assert admin.put("/v1/staff/agencies/WA/policy",
                     json={**policy, "max_photos": 4}).status_code == 204
    now = api.facility.clock()
    change = admin.post("/v1/staff/price-changes", json={
        "target": "offer:bundle-20", "new_value": 450, "effective_at": now + 7 * DAY,
        "agency_id": "WA"}).json()
    assert second.post(f"/v1/staff/price-changes/{change['id']}/approval").status_code == 200
    api.facility.clock.advance(7 * DAY)
    prices.apply_due(api.facility.central)
    with api.facility.central.db.read() as conn:
        after = policy_of(conn, "WA")
    assert after.offer("bundle-20").price_cents == 450 and after.max_photos == 4


def test_a_public_domain_item_is_never_priced_above_zero(api: ApiServer) -> None:
    status, text = _song(api, "pd-1", 99, "public_domain")
    assert status == 403 and "public_domain_is_free" in text
    assert _song(api, "pd-1", 0, "public_domain")[0] == 201
    refused = api.staff("administrator").post("/v1/staff/price-changes", json={
        "target": "catalog:pd-1", "new_value": 1,
        "effective_at": api.facility.clock() + 30 * DAY})
    assert refused.status_code == 403 and refused.json()["error"] == "public_domain_is_free"


def test_an_approval_too_late_to_announce_is_refused(api: ApiServer) -> None:
    c = api.facility.central
    with c.db.read() as conn:
        policy = policy_of(conn, "WA")
    accounts.set_policy(c, "WA", dataclasses.replace(policy, price_notice_days=3),
                        scope=SYSTEM)
    assert _song(api, "song-2", 129)[0] == 201
    change = api.staff("administrator").post("/v1/staff/price-changes", json={
        "target": "catalog:song-2", "new_value": 99,
        "effective_at": api.facility.clock() + 4 * DAY}).json()
    api.facility.clock.advance(2 * DAY)
    late = _second_admin(api).post(f"/v1/staff/price-changes/{change['id']}/approval")
    assert late.status_code == 403 and late.json()["error"] == "notice_too_short"
