"""Essential requests against the real server on both databases: a receipt
number, the agency's deadline, escalation past it, a tablet's signed request
filed once and only if signed, and a PREA report that no facility staff member
can find, list, read or answer."""

from __future__ import annotations

import base64
import dataclasses

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.services import accounts, essential_requests
from central.services.accounts import policy_of
from sync.receipts import request_fields, statement_bytes
from tests.central.api_server import ApiServer, Client
from tests.central.facility import STAFF_PASSWORD, SYSTEM
from tests.central.test_api import _admit
from tests.central.test_deliveries import _tablet

DAY = 86400


def _resident(api: ApiServer, agency_id: str = "100001", kiosk: str = "K-A2"
              ) -> tuple[Client, int]:
    new = _admit(api, agency_id)
    login = api.session(kiosk).post("/v1/resident/sessions",
                                    json={"agency_id": agency_id, "pin": new["first_pin"]})
    me = api.session(kiosk, token=login.json()["token"])
    assert me.post("/v1/resident/pin", json={"old_pin": new["first_pin"],
                                             "new_pin": "736192"}).status_code == 204
    return me, int(str(new["id"]))


def test_a_request_gets_a_receipt_a_deadline_and_escalates_past_it(api: ApiServer) -> None:
    me, _ = _resident(api)
    filed = me.post("/v1/resident/requests", json={
        "uid": "req-medical-0001", "type": "medical", "body": "My tooth hurts badly."})
    assert filed.status_code == 201, filed.text
    first = filed.json()
    assert first["receipt"].startswith("R-") and len(first["receipt"]) == 11
    assert first["status"] == "filed" and first["due_at"] - first["created_at"] == 2 * DAY
    # The same uid again (a retry after a lost answer) is the same request.
    again = me.post("/v1/resident/requests", json={
        "uid": "req-medical-0001", "type": "medical", "body": "My tooth hurts badly."})
    assert again.json()["receipt"] == first["receipt"]
    clash = me.post("/v1/resident/requests", json={
        "uid": "req-medical-0001", "type": "medical", "body": "Something else."})
    assert clash.status_code == 409 and clash.json()["error"] == "uid_reused"
    bad = me.post("/v1/resident/requests", json={"uid": "req-0000002", "type": "parole",
                                                 "body": "x"})
    assert bad.status_code == 422
    [mine] = me.get("/v1/resident/requests").json()
    assert mine["receipt"] == first["receipt"]
    # Before the deadline nothing escalates; after it, the staff list escalates it.
    api.facility.clock.advance(DAY)
    reviewer = api.staff("reviewer")
    [listed] = reviewer.get("/v1/staff/requests").json()
    assert listed["status"] == "filed"
    api.facility.clock.advance(DAY + 1)
    reviewer = api.staff("reviewer")  # a new shift: staff sessions last hours
    me = api.resident("K-A2", "100001", "736192")
    [listed] = reviewer.get("/v1/staff/requests").json()
    assert listed["status"] == "escalated" and listed["escalated_at"] is not None
    assert essential_requests.escalate_due(api.facility.central) == []  # once
    seen = me.get(f"/v1/resident/requests/{first['id']}").json()
    assert [h["kind"] for h in seen["history"]] == ["filed", "escalated"]
    answered = reviewer.post(f"/v1/staff/requests/{first['id']}/replies",
                             json={"text": "Dental sees you Monday.", "resolve": True})
    assert answered.json()["status"] == "resolved"
    assert reviewer.post(f"/v1/staff/requests/{first['id']}/replies",
                         json={"text": "again"}).status_code == 409
    # Another resident cannot read it.
    other, _ = _resident(api, "100002")
    assert other.get(f"/v1/resident/requests/{first['id']}").status_code == 404


def _signed(key: Ed25519PrivateKey, serial: str, uid: str, body: str = "I need my file.",
            resident: str = "100001", type_: str = "records") -> dict[str, object]:
    fields = request_fields(serial=serial, uid=uid, resident=resident, type_=type_, body=body,
                            written_at=1_700_000_000)
    signature = key.sign(statement_bytes("request", fields))
    return {"serial": serial, "uid": uid, "resident_agency_id": resident, "type": type_,
            "body": body, "written_at": 1_700_000_000,
            "signature": base64.b64encode(signature).decode()}


def test_a_tablet_request_is_filed_once_and_only_if_its_tablet_signed_it(
        api: ApiServer) -> None:
    me, rid = _resident(api)
    key = _tablet(api, "JP5S-000001", rid)
    kiosk = api.session("K-A2")
    request = _signed(key, "JP5S-000001", "tablet-req-0001")
    filed = [kiosk.post("/v1/kiosk/requests", json=request) for _ in range(3)]
    assert [f.status_code for f in filed] == [201, 201, 201]
    assert len({f.json()["receipt"] for f in filed}) == 1
    assert filed[0].json()["source"] == "tablet"
    tampered = {**request, "body": "Something the resident did not write."}
    assert kiosk.post("/v1/kiosk/requests", json=tampered).json()["error"] == "bad_signature"
    forged = _signed(Ed25519PrivateKey.generate(), "JP5S-000001", "tablet-req-0002")
    assert kiosk.post("/v1/kiosk/requests", json=forged).status_code == 403
    # Another unit's kiosk cannot forward it; a tablet cannot file for someone else.
    assert api.session("K-B2").post("/v1/kiosk/requests", json=_signed(
        key, "JP5S-000001", "tablet-req-0003")).status_code == 404
    _resident(api, "100002")
    assert kiosk.post("/v1/kiosk/requests", json=_signed(
        key, "JP5S-000001", "tablet-req-0004", resident="100002")).status_code == 404
    assert [r["receipt"] for r in me.get("/v1/resident/requests").json()] \
        == [filed[0].json()["receipt"]]


def _facility_administrator(api: ApiServer) -> Client:
    accounts.create_staff(api.facility.central, "admin-f1", "Facility Admin", "administrator",
                          STAFF_PASSWORD, facility_id="F1", scope=SYSTEM)
    return api.staff("admin-f1")


def test_no_facility_staff_member_can_see_a_prea_report(api: ApiServer) -> None:
    me, _ = _resident(api)
    prea = me.post("/v1/resident/requests", json={
        "uid": "req-prea-00001", "type": "prea", "body": "An officer on B shift ..."}).json()
    medical = me.post("/v1/resident/requests", json={
        "uid": "req-medi-00001", "type": "medical", "body": "Headaches."}).json()
    facility_staff = [api.staff(r) for r in ("reviewer", "technician", "investigator")]
    facility_staff.append(_facility_administrator(api))
    for member in facility_staff:
        listed = member.get("/v1/staff/requests").json()
        assert [r["receipt"] for r in listed] == [medical["receipt"]]
        assert member.get(f"/v1/staff/requests/{prea['id']}").status_code == 404
        assert member.post(f"/v1/staff/requests/{prea['id']}/replies",
                           json={"text": "closing this"}).status_code == 404
    # Past its deadline it escalates, and still nobody here sees it.
    api.facility.clock.advance(2 * DAY)
    facility_staff = [api.staff(r) for r in ("reviewer", "technician", "investigator",
                                             "admin-f1")]
    me = api.resident("K-A2", "100001", "736192")
    for member in facility_staff:
        assert prea["receipt"] not in member.get("/v1/staff/requests").text
        audit = member.get("/v1/staff/audit")
        assert audit.status_code == 403 or f"request:{prea['id']}" not in audit.text
    # The roles the agency names read and answer it.
    for reader in (api.staff("prea"), api.staff("administrator")):
        assert prea["receipt"] in reader.get("/v1/staff/requests").text
        assert reader.get(f"/v1/staff/requests/{prea['id']}").json()["type"] == "prea"
    assert api.staff("prea").post(f"/v1/staff/requests/{prea['id']}/replies",
                                  json={"text": "We are investigating."}).status_code == 200
    # The resident always sees their own.
    assert me.get(f"/v1/resident/requests/{prea['id']}").json()["status"] == "answered"


def test_the_agency_names_who_reads_prea_reports(api: ApiServer) -> None:
    c = api.facility.central
    with c.db.read() as conn:
        policy = policy_of(conn, "WA")
    accounts.set_policy(c, "WA", dataclasses.replace(policy, prea_readers=("prea",)),
                        scope=SYSTEM)
    me, _ = _resident(api)
    prea = me.post("/v1/resident/requests", json={
        "uid": "req-prea-00002", "type": "prea", "body": "Report."}).json()
    assert api.staff("administrator").get(f"/v1/staff/requests/{prea['id']}").status_code == 404
    assert api.staff("prea").get(f"/v1/staff/requests/{prea['id']}").status_code == 200


def test_a_prea_role_works_for_the_agency_only() -> None:
    from central.pricing import PricingPolicy
    from central.services.scope import Scope
    facility_prea = Scope(1, "prea", "WA", "F1", frozenset({"F1"}), frozenset())
    agency_prea = Scope(1, "prea", "WA", None, frozenset({"F1"}), frozenset())
    facility_admin = Scope(2, "administrator", "WA", "F1", frozenset({"F1"}), frozenset())
    agency_admin = Scope(3, "administrator", "WA", None, frozenset({"F1"}), frozenset())
    policy = PricingPolicy()
    assert not essential_requests.may_read_prea(facility_prea, policy)
    assert not essential_requests.may_read_prea(facility_admin, policy)
    assert essential_requests.may_read_prea(agency_prea, policy)
    assert essential_requests.may_read_prea(agency_admin, policy)
    assert not essential_requests.may_read_prea(
        agency_admin, dataclasses.replace(policy, prea_readers=("prea",)))
