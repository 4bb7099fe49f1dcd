"""Staff reach their own facility (an agency administrator, their agency) and
nothing else, on every staff route: two facilities of one agency and a
second agency, each with residents, holds, alerts, tickets, approvals,
keyword lists, tablets and kiosks, and staff of every role trying each
route across the line. Outside their reach a row answers as a missing one
(404), so ids cannot be probed. A hypothesis test makes random staff calls
across the line and finds no read or write that got through."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.services import accounts, alerts, messaging, money, screening_lists, tickets
from central.services.scope import Scope, scope_of
from device_security.ca_store import pem
from device_security.pki import Role
from tests.central.api_server import ApiServer, Client
from tests.central.facility import STAFF_PASSWORD, SYSTEM, WASHINGTON, build
from tests.device_security.conftest import Facility as DeviceFacility

ROLES = ("reviewer", "technician", "investigator", "administrator")


@dataclass
class Place:
    """One facility's things, as the other side tries to reach them."""

    facility: str
    agency: str
    unit: str
    resident_id: int = 0
    resident_agency_id: str = ""
    hold_id: int = 0
    alert_id: int = 0
    ticket_id: int = 0
    approval_id: int = 0
    keyword_list_id: int = 0
    tablet: str = ""
    kiosk: str = ""
    staff: dict[str, int] = field(default_factory=dict)


@dataclass
class World:
    api: ApiServer
    places: dict[str, Place]  # F1, F2 (agency WA), F3 (agency OR)
    agency_admins: dict[str, int]  # WA, OR

    def staff(self, username: str) -> Client:
        answer = self.api.session().post("/v1/staff/sessions",
                                         json={"username": username, "password": STAFF_PASSWORD})
        assert answer.status_code == 200, answer.text
        return self.api.session(token=answer.json()["token"])


def _tablet_pem(api: ApiServer, directory: Path, serial: str) -> str:
    device = DeviceFacility(directory)
    device.key, device.ca = api.ca.key, api.ca.certificate
    return pem(device.issue(Role.TABLET, serial, serial=serial).certificate).decode()


def _place(api: ApiServer, tmp: Path, p: Place, number: int) -> None:
    c = api.facility.central
    for role in ROLES:
        p.staff[role] = accounts.create_staff(c, f"{role}-{p.facility}", role, role,
                                              STAFF_PASSWORD, facility_id=p.facility,
                                              scope=SYSTEM)
    p.resident_agency_id = f"{number}00001"
    p.resident_id = accounts.create_resident(
        c, agency_id=p.resident_agency_id, agency=p.agency, name=f"Resident of {p.facility}",
        facility_id=p.facility, unit_id=p.unit, scope=SYSTEM).id
    with c.db.read() as conn:
        reviewer = scope_of(conn, p.staff["reviewer"])
    p.keyword_list_id = screening_lists.save_list(
        c, scope="facility", scope_id=p.facility, language="en", terms=[f"code {p.facility}"],
        reach=reviewer).id
    contact = accounts.register_contact(c, f"family@{p.facility.lower()}.example", "Family",
                                        "family password 1")
    p.approval_id = accounts.request_approval(c, contact, p.resident_agency_id, "mother")
    accounts.decide_approval(c, p.approval_id, approve=True, scope=SYSTEM)
    other = accounts.register_contact(c, f"asks@{p.facility.lower()}.example", "Asks",
                                      "family password 1")
    p.approval_id = accounts.request_approval(c, other, p.resident_agency_id, "friend")
    money.buy_stamps_for_contact(c, contact, resident_agency_id=p.resident_agency_id,
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key=f"stamps-{p.facility}-0001")
    photo = c.blobs.put([b"\xff\xd8\xff\xe0 " + p.facility.encode()], max_size=1 << 20)
    messaging.record_upload(c, photo.sha256, photo.size, "image/jpeg",
                            uploader=f"contact:{contact}", purpose="message")
    sent = messaging.send_from_contact(c, contact, uid=f"held-{p.facility}-0001",
                                       resident_agency_id=p.resident_agency_id,
                                       body=f"the code {p.facility} again",
                                       attached=[messaging.Attachment("photo", photo.sha256)])
    assert sent.status == "held"
    with c.db.read() as conn:
        from sqlalchemy import select

        from central.schema import holds
        p.hold_id = int(conn.execute(select(holds.c.id).where(
            holds.c.message_id == sent.message_id)).scalar_one())
    p.kiosk = f"K-{p.unit}"
    accounts.register_kiosk(c, p.kiosk, f"{p.unit}-DAYROOM", p.unit, None, scope=SYSTEM)
    p.alert_id = alerts.record(c, p.kiosk, alerts.AlertReport(
        f"alert-{p.facility}-01", "assigned_to_someone_else", "", "JP5S-X", None, None, None,
        c.clock()))
    p.ticket_id = tickets.file(c, p.resident_id, uid=f"ticket-{p.facility}-01",
                               category="tablet_broken", description="it will not charge",
                               diagnostics={}, kiosk_id=None)
    p.tablet = f"JP5S-{number}00001"
    accounts.register_tablet(c, p.tablet, _tablet_pem(api, tmp / p.facility, p.tablet),
                             scope=SYSTEM, facility_id=p.facility, trust=None)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    f = build(f"sqlite:///{tmp_path}/central.db", tmp_path)
    c = f.central
    accounts.create_facility(c, "F2", "WA", "Second facility", "staff@f2.example")
    accounts.create_unit(c, "U-C", "F2", "C unit")
    accounts.create_agency(c, "OR", "Oregon corrections", policy=WASHINGTON)
    accounts.create_facility(c, "F3", "OR", "Third facility", "staff@f3.example")
    accounts.create_unit(c, "U-D", "F3", "D unit")
    admins = {agency: accounts.create_staff(c, f"agency-admin-{agency}", "Agency admin",
                                            "administrator", STAFF_PASSWORD, agency_id=agency,
                                            scope=SYSTEM) for agency in ("WA", "OR")}
    with ApiServer(f, tmp_path / "api") as api:
        places = {"F1": Place("F1", "WA", "U-A"), "F2": Place("F2", "WA", "U-C"),
                  "F3": Place("F3", "OR", "U-D")}
        for number, place in enumerate(places.values(), 1):
            _place(api, tmp_path, place, number)
        yield World(api, places, admins)
    f.central.db.dispose()


def _calls(w: World, target: Place) -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """Every staff route, aimed at ``target``'s rows: (role, method, path, body)."""
    t = target
    return [
        ("reviewer", "GET", f"/v1/staff/holds/{t.hold_id}", None),
        ("reviewer", "POST", f"/v1/staff/holds/{t.hold_id}/decision",
         {"approve": False, "reason_code": "rules"}),
        ("reviewer", "POST", f"/v1/staff/holds/{t.hold_id}/parts",
         {"text": {"approve": True}, "attachments": [{"position": 0, "approve": True}]}),
        ("reviewer", "GET", f"/v1/staff/holds/{t.hold_id}/attachments/0", None),
        ("reviewer", "GET", f"/v1/staff/keyword-lists/{t.keyword_list_id}", None),
        ("reviewer", "PUT", "/v1/staff/keyword-lists",
         {"scope": "facility", "scope_id": t.facility, "language": "en", "terms": ["x y z"]}),
        ("reviewer", "PUT", "/v1/staff/keyword-lists",
         {"scope": "unit", "scope_id": t.unit, "language": "en", "terms": ["x y z"]}),
        ("reviewer", "PUT", "/v1/staff/keyword-lists",
         {"scope": "resident", "scope_id": str(t.resident_id), "language": "en",
          "terms": ["x y z"]}),
        ("reviewer", "POST", f"/v1/staff/approvals/{t.approval_id}/decision",
         {"approve": True}),
        ("technician", "POST", f"/v1/staff/alerts/{t.alert_id}/acknowledge", {"note": "mine"}),
        ("technician", "POST", f"/v1/staff/alerts/{t.alert_id}/notes", {"text": "mine"}),
        ("technician", "GET", f"/v1/staff/tickets/{t.ticket_id}", None),
        ("technician", "POST", f"/v1/staff/tickets/{t.ticket_id}/replies",
         {"text": "done", "resolve": True}),
        ("administrator", "POST", "/v1/staff/residents",
         {"agency_id": "999991", "agency": t.agency, "name": "Intruder",
          "facility_id": t.facility, "unit_id": t.unit}),
        ("administrator", "POST", f"/v1/staff/residents/{t.resident_id}/pin-reset", None),
        ("investigator", "GET", f"/v1/staff/residents/{t.resident_id}/archive", None),
        ("technician", "POST", f"/v1/staff/tablets/{t.tablet}/assignment",
         {"resident_id": t.resident_id}),
        ("technician", "POST", f"/v1/staff/tablets/{t.tablet}/status", {"status": "lost"}),
        ("technician", "POST", "/v1/staff/tablets",
         {"serial": "JP5S-INTRUDER", "facility_id": t.facility}),
        ("technician", "POST", "/v1/staff/kiosks",
         {"id": "K-INTRUDER", "location_code": "INTRUDER", "unit_id": t.unit}),
        ("technician", "POST", f"/v1/staff/kiosks/{t.kiosk}/status", {"status": "retired"}),
        ("administrator", "POST", "/v1/staff/staff",
         {"username": "intruder", "name": "Intruder", "role": "reviewer",
          "password": "a long password 1", "facility_id": t.facility}),
        ("administrator", "POST", f"/v1/staff/staff/{t.staff['reviewer']}/status",
         {"status": "disabled"}),
    ] + ([("administrator", "GET", f"/v1/staff/agencies/{t.agency}/policy", None)]
         if t.agency != "WA" else [])  # the agency's prices are every WA facility's to read


def _seen(w: World, role: str, source: Place) -> dict[str, str]:
    """What the lists show ``role`` at ``source``: every id, as text."""
    s = w.staff(f"{role}-{source.facility}")
    shown: dict[str, str] = {}
    for path in ("/v1/staff/holds", "/v1/staff/review-queue", "/v1/staff/keyword-lists",
                 "/v1/staff/approvals",
                 "/v1/staff/alerts", "/v1/staff/tickets", "/v1/staff/audit"):
        answer = s.get(path)
        shown[path] = answer.text if answer.status_code == 200 else ""
    return shown


def test_no_staff_member_reaches_another_facility(world: World) -> None:
    w = world
    f1, f2, f3 = (w.places[k] for k in ("F1", "F2", "F3"))
    for target in (f2, f3):
        for role, method, path, body in _calls(w, target):
            answer = w.staff(f"{role}-F1").http.request(method, w.api.url + path, json=body,
                                                         timeout=30)
            assert answer.status_code in (403, 404), (role, method, path, answer.status_code,
                                                      answer.text[:200])
    # The lists show F1's own rows and none of the others'.
    for role in ROLES:
        for path, text in _seen(w, role, f1).items():
            for other in (f2, f3):
                for needle in (other.resident_agency_id, f"alert-{other.facility}",
                               f"code {other.facility}", f"ticket-{other.facility}",
                               f"asks@{other.facility.lower()}"):
                    assert needle not in text, (role, path, needle)
    reviewer = w.staff("reviewer-F1")
    assert [h["id"] if "id" in h else h["hold_id"] for h in reviewer.get("/v1/staff/holds")
            .json()] == [f1.hold_id]
    assert [t["id"] for t in w.staff("technician-F1").get("/v1/staff/tickets").json()] == \
        [f1.ticket_id]
    assert [a["id"] for a in w.staff("technician-F1").get("/v1/staff/alerts").json()] == \
        [f1.alert_id]
    # Nothing of F2 or F3 changed, whatever was tried.
    for other in (f2, f3):
        assert w.staff(f"reviewer-{other.facility}").get(
            f"/v1/staff/holds/{other.hold_id}").json()["status"] == "open"
        assert w.staff(f"technician-{other.facility}").get(
            f"/v1/staff/tickets/{other.ticket_id}").json()["status"] == "open"


def test_an_agency_administrator_reaches_the_agency_and_no_further(world: World) -> None:
    w = world
    admin = w.staff("agency-admin-WA")
    holds = {h["hold_id"] for h in admin.get("/v1/staff/holds").json()}
    assert holds == {w.places["F1"].hold_id, w.places["F2"].hold_id}
    assert admin.get(f"/v1/staff/holds/{w.places['F3'].hold_id}").status_code == 404
    assert admin.get("/v1/staff/agencies/OR/policy").status_code == 404
    assert admin.get("/v1/staff/agencies/WA/policy").status_code == 200
    # A facility's administrator may read the agency's prices but not change them.
    policy = admin.get("/v1/staff/agencies/WA/policy").json()
    assert w.staff("administrator-F1").put("/v1/staff/agencies/WA/policy",
                                           json=policy).status_code == 403
    assert admin.put("/v1/staff/agencies/WA/policy", json=policy).status_code == 204
    # The agency's own keyword list is the agency administrator's to change.
    agency_list = {"scope": "agency", "scope_id": "WA", "language": "en", "terms": ["zz top"]}
    assert w.staff("reviewer-F1").put("/v1/staff/keyword-lists",
                                      json=agency_list).status_code == 403
    assert admin.put("/v1/staff/keyword-lists", json=agency_list).status_code == 200
    assert w.staff("agency-admin-OR").put("/v1/staff/keyword-lists",
                                          json=agency_list).status_code in (403, 404)
    # The policy change is in the audit for WA's staff, not OR's.
    assert "agency.policy" in w.staff("investigator-F2").get("/v1/staff/audit").text
    assert "agency.policy" not in w.staff("investigator-F3").get("/v1/staff/audit").text
    assert "agency.policy" not in w.staff("agency-admin-OR").get("/v1/staff/audit").text


def test_a_disabled_staff_member_is_refused_at_once(world: World) -> None:
    w = world
    reviewer = w.staff("reviewer-F1")
    assert reviewer.get("/v1/staff/holds").status_code == 200
    admin = w.staff("administrator-F1")
    who = w.places["F1"].staff["reviewer"]
    assert admin.post(f"/v1/staff/staff/{who}/status",
                      json={"status": "disabled"}).status_code == 204
    assert reviewer.get("/v1/staff/holds").status_code == 401  # the same session, next call
    again = w.api.session().post("/v1/staff/sessions", json={"username": "reviewer-F1",
                                                              "password": STAFF_PASSWORD})
    assert again.status_code in (401, 403)
    assert admin.post(f"/v1/staff/staff/{who}/status",
                      json={"status": "active"}).status_code == 204
    assert w.staff("reviewer-F1").get("/v1/staff/holds").status_code == 200


def test_a_retired_kiosk_is_refused_at_its_next_call(world: World) -> None:
    w = world
    kiosk = w.api.session("K-A2")
    assert kiosk.get("/v1/kiosk/heads").status_code == 200  # verified, and cached
    technician = w.staff("technician-F1")
    assert technician.post("/v1/staff/kiosks/K-A2/status",
                           json={"status": "retired"}).status_code == 204
    assert kiosk.get("/v1/kiosk/heads").status_code == 401


def test_a_tablet_certificate_the_facility_ca_did_not_sign_is_not_registered(
        world: World, tmp_path: Path) -> None:
    w = world
    technician = w.staff("technician-F1")
    stranger = DeviceFacility(tmp_path / "stranger")  # a CA of its own, not the facility's
    forged = pem(stranger.issue(Role.TABLET, "JP5S-FORGED", serial="JP5S-FORGED")
                 .certificate).decode()
    refused = technician.post("/v1/staff/tablets", json={"serial": "JP5S-FORGED",
                                                         "certificate": forged})
    assert refused.status_code == 422 and "facility CA" in refused.text
    genuine = _tablet_pem(w.api, tmp_path / "genuine", "JP5S-GENUINE")
    assert technician.post("/v1/staff/tablets", json={
        "serial": "JP5S-GENUINE", "certificate": genuine}).status_code == 201


def _scope(w: World, username: str) -> Scope:
    c = w.api.facility.central
    from sqlalchemy import select

    from central.schema import staff
    with c.db.read() as conn:
        sid = conn.execute(select(staff.c.id).where(staff.c.username == username)).scalar_one()
        return scope_of(conn, sid)


@settings(max_examples=120, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_staff_calls_never_cross_the_line(world: World, data: st.DataObject) -> None:
    """Any staff member of F1 (or WA's agency administrator), any route, aimed at
    a row of another facility (another agency's, for the agency administrator):
    the answer is never a success, and the row is unchanged."""
    w = world
    who = data.draw(st.sampled_from([*(f"{r}-F1" for r in ROLES), "agency-admin-WA"]))
    targets = ["F3"] if who.startswith("agency-admin") else ["F2", "F3"]
    target = w.places[data.draw(st.sampled_from(targets))]
    _role, method, path, body = data.draw(st.sampled_from(_calls(w, target)))
    answer = w.staff(who).http.request(method, w.api.url + path, json=body, timeout=30)
    assert answer.status_code >= 400, (who, method, path, answer.status_code, answer.text[:200])
    assert answer.status_code != 500
    scope = _scope(w, who)
    assert not scope.covers_facility(target.facility)
    owner = w.staff(f"reviewer-{target.facility}")
    assert owner.get(f"/v1/staff/holds/{target.hold_id}").json()["status"] == "open"


def test_a_scope_is_pure_and_says_no_outside() -> None:
    s = Scope(7, "reviewer", "WA", "F1", frozenset({"F1"}), frozenset({"U-A"}))
    assert s.covers_facility("F1") and not s.covers_facility("F2")
    assert s.covers_unit("U-A") and not s.covers_unit("U-C")
    assert not s.covers_facility(None) and not s.agency_wide
    assert Scope.system().covers_facility("anything")


def test_logins_are_limited_per_account_kiosk_and_address(tmp_path: Path) -> None:
    """A flood of wrong passwords at one account, or of logins from one kiosk,
    is refused early (429 with Retry-After) while everyone else logs in."""
    from central.throttle import LoginThrottle

    f = build(f"sqlite:///{tmp_path}/central.db", tmp_path)
    f.central.logins = LoginThrottle()  # the server's own limits
    f.admit("100001", "Ann Example")
    with ApiServer(f, tmp_path / "api") as api:
        codes = [api.session().post("/v1/staff/sessions", json={
            "username": "reviewer", "password": "wrong password 1"}).status_code
            for _ in range(12)]
        # Five wrong answers lock the account (423); the throttle refuses the rest
        # before any password is checked.
        assert codes == [401] * 5 + [423] * 5 + [429, 429]
        flooded = api.session().post("/v1/staff/sessions", json={
            "username": "reviewer", "password": STAFF_PASSWORD})
        assert flooded.status_code == 429 and int(flooded.headers["Retry-After"]) >= 1
        assert api.session().post("/v1/staff/sessions", json={
            "username": "technician", "password": STAFF_PASSWORD}).status_code == 200
        kiosk = api.session("K-A2")
        answers = [kiosk.post("/v1/resident/sessions", json={
            "agency_id": f"9{n:05d}", "pin": "000000"}).status_code for n in range(21)]
        assert answers[:20] == [401] * 20 and answers[20] == 429
        # The other kiosk goes on: the limit is this kiosk's.
        assert api.session("K-B2").post("/v1/resident/sessions", json={
            "agency_id": "100001", "pin": "000000"}).status_code == 401
    f.central.db.dispose()


def test_password_hashing_is_capped_so_a_flood_cannot_starve_the_server() -> None:
    import threading
    import time

    from central.errors import Busy
    from central.passwords import Passwords

    passwords = Passwords("low", max_at_once=1, wait_s=0.2)
    hashed = passwords.hash("a long password 1")
    holding = threading.Event()
    release = threading.Event()

    def hog() -> None:
        with passwords._turn():  # one verification under way, for a while
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hog)
    thread.start()
    holding.wait(5)
    started = time.monotonic()
    with pytest.raises(Busy):
        passwords.verify(hashed, "a long password 1")
    assert time.monotonic() - started < 5  # a bounded wait, then a clear answer
    release.set()
    thread.join(5)
    assert passwords.verify(hashed, "a long password 1")
