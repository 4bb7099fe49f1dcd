"""Privileged correspondence on both databases through the real server: a
message to or from a verified attorney skips screening and review, is sealed
in the database (messages and feeds), reaches both sides marked as legal
mail, is left out of an investigator's export, and every access is audited."""

from __future__ import annotations

import io
import json
import zipfile

from sqlalchemy import select

from central.schema import feed_records, messages
from tests.central.api_server import ApiServer, Client
from tests.central.test_essential_requests import _resident

SECRET = "Plan for the escape hearing: the guard keys are in drawer two"


def _attorney(api: ApiServer, *, verify: bool = True) -> tuple[Client, int]:
    anon = api.session()
    assert anon.post("/v1/family/accounts", json={
        "email": "counsel@law.example", "name": "Dana Counsel",
        "password": "family password 1"}).status_code == 201
    lawyer = api.family("counsel@law.example")
    applied = lawyer.post("/v1/family/attorney", json={
        "agency_id": "WA", "bar_number": "WSBA-12345", "jurisdiction": "WA"})
    assert applied.status_code == 201 and applied.json()["status"] == "pending"
    assert lawyer.post("/v1/family/approvals", json={"resident_agency_id": "100001",
                                                     "relationship": "attorney"}
                       ).status_code == 201
    reviewer = api.staff("reviewer")
    [pending] = [a for a in reviewer.get("/v1/staff/approvals").json()
                 if a["relationship"] == "attorney"]
    assert reviewer.post(f"/v1/staff/approvals/{pending['id']}/decision",
                         json={"approve": True}).status_code == 204
    contact_id = int(pending["contact_id"])
    if verify:
        # A reviewer may not verify an attorney; an administrator does.
        assert reviewer.post(f"/v1/staff/attorneys/{contact_id}/decision",
                             json={"verified": True}).status_code == 403
        done = api.staff("administrator").post(f"/v1/staff/attorneys/{contact_id}/decision",
                                               json={"verified": True})
        assert done.status_code == 200 and done.json()["status"] == "verified"
    return lawyer, contact_id


def _keywords(api: ApiServer) -> None:
    assert api.staff("reviewer").put("/v1/staff/keyword-lists", json={
        "scope": "facility", "scope_id": "F1", "language": "en",
        "terms": ["escape", "keys"]}).status_code == 200


def test_legal_mail_is_sealed_unscreened_and_marked_for_both_sides(api: ApiServer) -> None:
    me, rid = _resident(api)
    lawyer, counsel = _attorney(api)
    _keywords(api)
    sent = lawyer.post("/v1/family/messages", json={
        "uid": "legal-msg-0001", "resident_agency_id": "100001", "body": SECRET})
    assert sent.status_code == 201, sent.text
    assert (sent.json()["status"], sent.json()["stamps"]) == ("delivered", 0)
    assert api.staff("reviewer").get("/v1/staff/holds").json() == []
    # Sealed in the database: the message row and both feeds' records.
    c = api.facility.central
    with c.db.read() as conn:
        stored = conn.execute(select(messages.c.body, messages.c.legal)).one()
        bodies = conn.execute(select(feed_records.c.body)).scalars().all()
    assert stored.legal and SECRET not in stored.body and stored.body.startswith("sealed:")
    assert not any("escape" in b for b in bodies)
    # The resident's kiosk gets it opened and marked ...
    feed = api.session("K-A2").get(f"/v1/kiosk/feeds/{rid}").json()
    [record] = [r for r in feed["records"] if r["kind"] == "message"]
    assert record["body"]["body"] == SECRET and record["body"]["legal"] is True
    # ... and so does the attorney, for the reply too.
    reply = me.post("/v1/resident/messages", json={
        "uid": "legal-msg-0002", "contact_id": counsel, "body": "Keys noted."})
    assert reply.json()["status"] == "delivered" and reply.json()["stamps"] == 0
    records = lawyer.get("/v1/family/feed").json()["records"]
    legal = [r["body"] for r in records if r["kind"] == "message"]
    assert [(m["body"], m["legal"]) for m in legal] == [(SECRET, True), ("Keys noted.", True)]
    # Every delivery is in the audit log.
    audit = api.staff("investigator").get("/v1/staff/audit").json()
    delivered = [a for a in audit if a["action"] == "legal.deliver"]
    assert {a["target"] for a in delivered} == {"message:legal-msg-0001",
                                                "message:legal-msg-0002"}
    assert {a["detail"]["reader"] for a in delivered} == {"unit:U-A", f"contact:{counsel}"}


def test_an_investigators_export_leaves_legal_mail_out_and_says_so(api: ApiServer) -> None:
    _, rid = _resident(api)
    lawyer, _ = _attorney(api)
    assert lawyer.post("/v1/family/messages", json={
        "uid": "legal-msg-0003", "resident_agency_id": "100001",
        "body": SECRET}).status_code == 201
    export = api.staff("investigator").get(f"/v1/staff/residents/{rid}/archive")
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(export.content)) as zf:
        manifest = json.loads(zf.read("archive.json"))
        everything = b"".join(zf.read(n) for n in zf.namelist())
    assert manifest["messages"] == [] and SECRET.encode() not in everything
    assert b"legal-msg-0003" not in everything
    audit = api.staff("investigator").get("/v1/staff/audit").json()
    assert any(a["action"] == "legal.withheld" and a["target"] == "message:legal-msg-0003"
               for a in audit)


def test_an_unverified_attorney_gets_ordinary_screened_mail(api: ApiServer) -> None:
    _resident(api)
    lawyer, counsel = _attorney(api, verify=False)
    _keywords(api)
    assert lawyer.post("/v1/family/stamps", json={
        "resident_agency_id": "100001", "offer_id": "bundle-20",
        "card_token": "tok_sandbox_visa", "idempotency_key": "buy-0000001"}).status_code == 200
    sent = lawyer.post("/v1/family/messages", json={
        "uid": "legal-msg-0004", "resident_agency_id": "100001", "body": SECRET})
    assert sent.json()["status"] == "held", sent.text
    # Revoked, it is ordinary again; the revocation is audited.
    api.staff("administrator").post(f"/v1/staff/attorneys/{counsel}/decision",
                                    json={"verified": False})
    assert any(a["action"] == "attorney.revoke"
               for a in api.staff("investigator").get("/v1/staff/audit").json())


def test_no_staff_route_holds_the_legal_mail_key() -> None:
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[2] / "central"
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                   if "legal_seal" in p.read_text())
    assert users == ["server.py", "services/core.py", "services/legal_mail.py"]
