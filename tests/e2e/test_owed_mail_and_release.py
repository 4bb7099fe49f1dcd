"""What a resident is owed, end to end, with the central server and the
kiosk as processes of their own: a letter written at the kiosk to a
registered attorney reaches the attorney unscreened (a keyword in it holds
nothing), is marked as legal mail on both sides, and is absent from an
investigator's export; a released resident's family downloads the archive
over HTTPS and it holds every message and photo; and while the server is
away an essential request is kept at the kiosk and printed with the kiosk's
reference, then filed with that reference when the server is back; a
Spanish-speaking resident's paper copies, sent at once or kept, come out in
Spanish with Spanish dates."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from base.config import load_config
from central.config import CentralConfig
from central.schema import essential_requests as requests_table
from central.schema import residents
from central.seed import DEMO_STAFF_PASSWORD
from central.server import build_central
from hw.peripherals import printable_ascii
from kiosk.i18n import date_time
from tests.e2e.facility import E2E, RESIDENT, Family, e2e_facility, photo

pytestmark = pytest.mark.udev

COUNSEL = ("counsel@lawfirm.example", "counsel password 1")
KEYWORD_LETTER = "They will meet at the fence on Friday; I need advice before my hearing."


class Web:
    """Someone on the server's API over HTTPS: staff, or a new family-side account."""

    def __init__(self, f: E2E, path: str, body: dict[str, Any]) -> None:
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = str(f.stage.ca_certificate)
        self.url = f.stage.central_url
        token = self.call("POST", path, json=body).json()["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        r = self.http.request(method, self.url + path, timeout=30, **kw)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r


def _staff(f: E2E, role: str) -> Web:
    return Web(f, "/v1/staff/sessions", {"username": f"demo-{role}",
                                         "password": DEMO_STAFF_PASSWORD})


def _resident_id(f: E2E) -> int:
    config = load_config(CentralConfig, path=f.stage.central_config, section="central",
                         env={}, prefix="SALLYPORT_CENTRAL_")
    central = build_central(config, translator=object())
    try:
        with central.db.read() as conn:
            return int(conn.execute(select(residents.c.id).where(
                residents.c.agency_id == RESIDENT)).scalar_one())
    finally:
        central.db.dispose()


def _attorney(f: E2E) -> tuple[Web, int]:
    """A lawyer registers, is approved as the resident's contact, and staff
    verify the bar number."""
    anon = requests.post(f"{f.stage.central_url}/v1/family/accounts", timeout=30,
                         verify=str(f.stage.ca_certificate), json={
                             "email": COUNSEL[0], "name": "Dana Ortiz",
                             "password": COUNSEL[1]})
    assert anon.status_code == 201, anon.text
    lawyer = Web(f, "/v1/family/sessions", {"email": COUNSEL[0], "password": COUNSEL[1]})
    lawyer.call("POST", "/v1/family/approvals", json={"resident_agency_id": RESIDENT,
                                                      "relationship": "attorney"})
    lawyer.call("POST", "/v1/family/attorney", json={"agency_id": "WA",
                                                     "bar_number": "WSBA-55120",
                                                     "jurisdiction": "WA"})
    reviewer = _staff(f, "reviewer")
    [pending] = [a for a in reviewer.call("GET", "/v1/staff/approvals").json()
                 if a["relationship"] == "attorney"]
    reviewer.call("POST", f"/v1/staff/approvals/{pending['id']}/decision",
                  json={"approve": True})
    counsel = int(pending["contact_id"])
    verified = _staff(f, "administrator").call(
        "POST", f"/v1/staff/attorneys/{counsel}/decision", json={"verified": True})
    assert verified.json()["status"] == "verified"
    return lawyer, counsel


def _zip(content: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    return json.loads(files.pop("archive.json")), files


def test_a_letter_to_a_registered_attorney_goes_unscreened_and_stays_out_of_an_export(
        tmp_path: Path) -> None:
    with e2e_facility(tmp_path, tablets=()) as f:
        lawyer, counsel = _attorney(f)
        f.login()
        sent = f.kiosk.command("write", contact_id=counsel, body=KEYWORD_LETTER)
        assert sent["ok"] and sent["state"] == "sent", sent
        # The attorney has it, whole and marked, though it holds a keyword ...
        records = lawyer.call("GET", "/v1/family/feed").json()["records"]
        [letter] = [r["body"] for r in records if r["kind"] == "message"]
        assert (letter["body"], letter["legal"], letter["stamps"]) == (KEYWORD_LETTER, True, 0)
        # ... and it was not held for staff to read (the seed's held letter is).
        holds = _staff(f, "reviewer").call("GET", "/v1/staff/holds").json()
        assert [h["message"]["uid"] for h in holds] == ["demo-msg-0003"]
        assert sent["uid"] not in json.dumps(holds)
        # The attorney answers; at the kiosk it is marked as legal mail.
        lawyer.call("POST", "/v1/family/messages", json={
            "uid": uuid.uuid4().hex, "resident_agency_id": RESIDENT,
            "body": "Say nothing until we meet."})
        assert f.kiosk.command("round")["ok"]
        inbox = f.kiosk.command("inbox")["conversations"]
        [legal] = [c for c in inbox if c["contact_id"] == counsel]
        assert [(m["body"], m["legal"]) for m in legal["messages"]] == [
            (KEYWORD_LETTER, True), ("Say nothing until we meet.", True)]
        # An investigator's export of the resident has neither.
        export = _staff(f, "investigator").call(
            "GET", f"/v1/staff/residents/{_resident_id(f)}/archive").content
        manifest, files = _zip(export)
        everything = json.dumps(manifest).encode() + b"".join(files.values())
        assert b"meet at the fence" not in everything and b"Say nothing" not in everything
        assert all(m.get("contact_id") != counsel for m in manifest["messages"])


def test_a_released_residents_family_downloads_every_message_and_photo(
        tmp_path: Path) -> None:
    with e2e_facility(tmp_path, tablets=()) as f:
        family = Family(f.stage)
        try:
            family.buy_stamps("owed-e2e-stamps-1")
            pictures = [photo(40_000), photo(55_000)]
            written = [family.write("The garden, in June.", pictures[0]),
                       family.write("Your nephew's first day at school.", pictures[1]),
                       family.write("Call when you can.")]
            f.login()
            assert f.kiosk.command("round")["ok"]
            contacts = f.kiosk.command("contacts")["contacts"]
            rosa = next(c["id"] for c in contacts if c["name"] == "Rosa Webb")
            reply = f.kiosk.command("write", contact_id=rosa, body="Thank you, Mom. Soon.")
            assert reply["ok"], reply
            released = _staff(f, "administrator").call(
                "POST", f"/v1/staff/residents/{_resident_id(f)}/release",
                json={"designee_contact_id": rosa})
            assert released.json()["designee_contact_id"] == rosa
            answer = family.http.get(f"{family.url}/v1/family/released/{RESIDENT}/archive",
                                     timeout=60)
            assert answer.status_code == 200, answer.text
            manifest, files = _zip(answer.content)
        finally:
            family.close()
        uids = {m["uid"] for m in manifest["messages"]}
        assert {uid for uid, _ in written} <= uids and reply["uid"] in uids
        assert "demo-msg-0001" in uids  # what the seed sent before, too
        for (_, sha), picture in zip(written[:2], pictures, strict=True):
            assert files[f"blobs/{sha}"] == picture


def test_a_request_is_kept_and_printed_while_the_server_is_away(tmp_path: Path) -> None:
    with e2e_facility(tmp_path, tablets=(), printer=True) as f:
        f.login()
        f.central.stop()
        filed = f.kiosk.command("request", type="medical", paper=True,
                                body="My inhaler ran out two days ago.")
        assert filed["ok"] and filed["state"] == "queued" and filed["printed"], filed
        reference = filed["reference"]
        deadline = time.monotonic() + 10
        while reference.encode() not in f.world.printer.printed() \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        paper = f.world.printer.printed().decode("ascii")
        assert f"Kiosk reference: {reference}" in paper and "inhaler ran out" in paper
        listed = f.kiosk.command("requests")
        assert listed["ok"] and [r["number"] for r in listed["requests"]] == [reference]
        f.central.start()
        assert f.kiosk.command("round")["ok"]
        listed = f.kiosk.command("requests")["requests"]
        assert [r["status"] for r in listed] == ["filed"] and listed[0]["number"] != reference
        config = load_config(CentralConfig, path=f.stage.central_config, section="central",
                             env={}, prefix="SALLYPORT_CENTRAL_")
        central = build_central(config, translator=object())
        try:
            with central.db.read() as conn:
                row = conn.execute(select(requests_table)).one()
        finally:
            central.db.dispose()
        assert (row.type, row.kiosk_reference, row.receipt) == ("medical", reference,
                                                                listed[0]["number"])

        # In Spanish, online: the paper in the resident's language, its dates too.
        online = f.kiosk.command("request", type="legal", paper=True, language="es",
                                 body="Necesito ver a mi abogado antes del juicio.")
        assert online["ok"] and online["state"] == "sent" and online["printed"], online
        paper = _paper(f, f"Numero de recibo: {online['receipt']}")
        assert "SOLICITUD LEGAL" in paper and "antes del juicio" in paper
        assert f"Escrita: {_ascii(date_time(online['written_at'], 'es'))}" in paper
        assert f"Plazo de respuesta: {_ascii(date_time(online['due_at'], 'es'))}" in paper
        assert "Receipt" not in paper and "Written" not in paper
        # And kept while the server is away again: the kiosk's reference, in Spanish.
        f.central.stop()
        kept = f.kiosk.command("request", type="grievance", paper=True, language="es",
                               body="La comida llega fria todos los dias.")
        assert kept["ok"] and kept["state"] == "queued" and kept["printed"], kept
        paper = _paper(f, f"Referencia del quiosco: {kept['reference']}")
        assert "QUEJA FORMAL" in paper and "servidor central no respondia" in paper
        assert f"Escrita: {_ascii(date_time(kept['written_at'], 'es'))}" in paper
        assert "dentro de" in paper and "llega fria" in paper and "Kiosk" not in paper
        refused = f.kiosk.command("request", type="medical", paper=True, language="xx",
                                  body="Spoken in no language the kiosk has.")
        assert not refused["ok"], refused
        f.central.start()


def _paper(f: E2E, needle: str) -> str:
    """The sheet the kiosk's printer printed with ``needle`` on it, its lines
    joined (a long line wraps at the paper's width)."""
    deadline = time.monotonic() + 10
    while needle.encode() not in f.world.printer.printed() and time.monotonic() < deadline:
        time.sleep(0.1)
    sheets = f.world.printer.printed().decode("ascii").split("\n\n\n")
    [sheet] = [" ".join(s.split()) for s in sheets if needle in " ".join(s.split())]
    return sheet


def _ascii(text: str) -> str:
    return printable_ascii(text).decode("ascii")
