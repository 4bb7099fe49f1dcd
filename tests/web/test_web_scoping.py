"""Every staff page that names a row, aimed by staff of facility F1 at
facility F2's rows: each answers 404, as for a row that does not exist, and
nothing changes; every list page shows none of F2's rows."""

from __future__ import annotations

import re

import requests
from sqlalchemy import func, select

from central.schema import (
    alert_notes,
    alerts,
    approvals,
    audit_log,
    holds,
    keyword_list_versions,
    kiosks,
    tablets,
    ticket_events,
)
from central.services import accounts, messaging, money, screening_lists, tickets
from central.services.alerts import AlertReport
from central.services.alerts import record as record_alert
from tests.central.api_server import ApiServer
from tests.central.facility import STAFF_PASSWORD, SYSTEM
from tests.web.images import png

PINE = "PINE-SECRET"  # a word that appears only in F2's rows


def _pine(site: ApiServer) -> dict[str, object]:
    f = site.facility
    c = f.central
    accounts.create_facility(c, "F2", "WA", "Pine Hill", "staff@pine.example")
    accounts.create_unit(c, "U-P", "F2", "P unit")
    accounts.register_kiosk(c, "K-P1", f"{PINE}-KIOSK", "U-P", None, scope=SYSTEM)
    resident = accounts.create_resident(c, agency_id="555001", agency="WA",
                                        name=f"{PINE} Resident", facility_id="F2",
                                        unit_id="U-P", pin="482916", scope=SYSTEM)
    cid = accounts.register_contact(c, "pine@example.org", f"{PINE} Family", "family password 1")
    approval = accounts.request_approval(c, cid, "555001", "sister")
    accounts.decide_approval(c, approval, approve=True, scope=SYSTEM)
    other = accounts.register_contact(c, "pine2@example.org", "Pending", "family password 1")
    pending = accounts.request_approval(c, other, "555001", "friend")
    money.buy_stamps_for_contact(c, cid, resident_agency_id="555001", offer_id="bundle-20",
                                 card_token="tok_sandbox_visa", key="pine-stamps-1")
    photo = png()
    stored = c.blobs.put([photo], max_size=len(photo))
    messaging.record_upload(c, stored.sha256, stored.size, "image/png",
                            uploader=f"contact:{cid}", purpose="message")
    pine_list = screening_lists.save_list(c, scope="facility", scope_id="F2", language="en",
                                          terms=["fence"], reach=f.scope("administrator"))
    messaging.send_from_contact(c, cid, uid="pine-message-1", resident_agency_id="555001",
                                body=f"{PINE}: meet at the fence",
                                attached=[messaging.Attachment("photo", stored.sha256)])
    with c.db.read() as conn:
        hold = conn.execute(select(holds.c.id)).scalar_one()
    ticket = tickets.file(c, resident.id, uid="pine-ticket-1", category="other",
                          description=f"{PINE} ticket", diagnostics={}, kiosk_id="K-P1")
    alert = record_alert(c, "K-P1", AlertReport(
        uid="pine-alert-1", reason="unknown_serial", detail=PINE, tablet_serial="PINE-T",
        resident_agency_id="555001", resident_name=PINE, registered_owner=None,
        raised_at=f.clock()))
    accounts.register_tablet(c, "PINE-T1", None, scope=SYSTEM, facility_id="F2")
    accounts.create_staff(c, "f1-admin", "F1 Admin", "administrator", STAFF_PASSWORD,
                          facility_id="F1", scope=SYSTEM)
    return {"hold": hold, "ticket": ticket, "alert": alert, "list": pine_list.id,
            "resident": resident.id, "approval": pending, "sha": stored.sha256}


def _staff(site: ApiServer, username: str) -> tuple[requests.Session, str]:
    http = site.session().http
    page = http.get(site.url + "/staff/login")
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert match is not None
    token = match.group(1)
    done = http.post(site.url + "/staff/login", data={
        "csrf": token, "username": username, "password": STAFF_PASSWORD})
    assert done.status_code == 200 and "Facility System" in done.text
    return http, token


def _counts(site: ApiServer) -> dict[str, int]:
    with site.facility.central.db.read() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (holds, alert_notes, ticket_events, keyword_list_versions, approvals,
                          audit_log, tablets, kiosks, alerts)}


def _states(site: ApiServer) -> list[tuple[object, ...]]:
    with site.facility.central.db.read() as conn:
        return [tuple(conn.execute(select(holds.c.status)).scalars()),
                tuple(conn.execute(select(approvals.c.status)).scalars()),
                tuple(conn.execute(select(kiosks.c.status)).scalars()),
                tuple(conn.execute(select(tablets.c.status, tablets.c.resident_id)).all()),
                tuple(conn.execute(select(alerts.c.status)).scalars())]


def test_staff_of_one_facility_reach_nothing_of_another(https_site: ApiServer) -> None:
    ids = _pine(https_site)
    https_site.facility.admit("874512", "Marcus Webb")
    url = https_site.url
    gets = {
        "reviewer": [f"/staff/review/{ids['hold']}", f"/staff/keywords/{ids['list']}",
                     f"/staff/files/{ids['sha']}"],
        "technician": [f"/staff/tickets/{ids['ticket']}"],
        "investigator": [f"/staff/residents/{ids['resident']}/archive"],
        "f1-admin": [f"/staff/review/{ids['hold']}", f"/staff/tickets/{ids['ticket']}",
                     f"/staff/keywords/{ids['list']}"],
    }
    posts: dict[str, list[tuple[str, dict[str, str]]]] = {
        "reviewer": [(f"/staff/review/{ids['hold']}", {"decision": "approve"}),
                     (f"/staff/contacts/{ids['approval']}", {"decision": "approve"}),
                     (f"/staff/keywords/{ids['list']}",
                      {"action": "add", "terms": "x", "version": "1"})],
        "technician": [(f"/staff/tickets/{ids['ticket']}", {"text": "done", "resolve": "yes"}),
                       (f"/staff/alerts/{ids['alert']}", {"action": "acknowledge"}),
                       ("/staff/devices/kiosks/K-P1", {"status": "retired"}),
                       ("/staff/devices/tablets/PINE-T1", {"action": "status",
                                                           "status": "lost"}),
                       ("/staff/devices/tablets/PINE-T1", {"action": "assign",
                                                           "resident": "555001"})],
        "f1-admin": [(f"/staff/residents/{ids['resident']}/pin", {})],
    }
    lists = {"reviewer": ["/staff/review", "/staff/contacts", "/staff/keywords", "/staff"],
             "technician": ["/staff/alerts", "/staff/devices", "/staff/tickets"],
             "investigator": ["/staff/audit", "/staff/residents", "/staff/alerts"],
             "f1-admin": ["/staff/reports", "/staff/audit", "/staff/residents",
                          "/staff/devices", "/staff/tickets", "/staff/alerts",
                          "/staff/review", "/staff/contacts", "/staff/keywords"]}
    before, states = _counts(https_site), _states(https_site)
    for role in gets.keys() | posts.keys() | lists.keys():
        http, token = _staff(https_site, role)
        for path in gets.get(role, []):
            answer = http.get(url + path, allow_redirects=False)
            assert answer.status_code == 404, (role, path, answer.status_code)
        for path, data in posts.get(role, []):
            answer = http.post(url + path, data={"csrf": token, **data},
                               allow_redirects=False)
            assert answer.status_code in (404, 422), (role, path, answer.status_code)
            assert answer.status_code == 404 or PINE not in answer.text, (role, path)
        for path in lists.get(role, []):
            answer = http.get(url + path)
            assert answer.status_code == 200, (role, path)
            assert PINE not in answer.text and "555001" not in answer.text, (role, path)
            assert "PINE-T1" not in answer.text and "Pine Hill" not in answer.text, (role, path)
    assert _counts(https_site) == before  # nothing added, not even to the audit log
    assert _states(https_site) == states
    # The same addresses are real pages: the agency's administrator reaches F2.
    http, _token = _staff(https_site, "administrator")
    for path in {p for paths in gets.values() for p in paths}:
        assert http.get(url + path, allow_redirects=False).status_code == 200, path
    assert PINE in http.get(url + "/staff/review").text
