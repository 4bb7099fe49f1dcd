"""Kiosks report the sync counter they accepted when they paired a tablet; the
server keeps the highest, for every kiosk's registry copy. A report sent again
is harmless; any other report that does not raise the counter is refused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from central.schema import tablet_counters, tablets
from central.services import accounts
from device_security.policy import MAX_COUNTER_JUMP
from tests.central.api_server import ApiServer
from tests.central.facility import STAFF_PASSWORD, SYSTEM
from tests.central.test_api import _admit

SERIAL = "JP5S-000001"


def _assigned_tablet(api: ApiServer, serial: str = SERIAL) -> None:
    resident_id = _admit(api)["id"]
    tech = api.staff("technician")
    assert tech.post("/v1/staff/tablets", json={"serial": serial}).status_code == 201
    assert tech.post(f"/v1/staff/tablets/{serial}/assignment",
                     json={"resident_id": resident_id}).status_code == 204


def _report(api: ApiServer, counter: int, uid: str, kiosk: str = "K-A2",
            serial: str = SERIAL) -> Any:
    return api.session(kiosk).post(f"/v1/kiosk/tablets/{serial}/counter",
                                   json={"uid": uid, "counter": counter})


def _stored(api: ApiServer, serial: str = SERIAL) -> int:
    with api.facility.central.db.read() as conn:
        return int(conn.execute(select(tablets.c.sync_counter)
                                .where(tablets.c.serial == serial)).scalar_one())


def test_a_kiosk_raises_a_tablets_counter_and_the_unit_learns_it(api: ApiServer) -> None:
    _assigned_tablet(api)
    at = api.facility.clock()
    answer = _report(api, 3, "pairing-0001")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"serial": SERIAL, "counter": 3, "reported_by": "K-A2",
                             "reported_at": at}
    assert _report(api, 5, "pairing-0002").json()["counter"] == 5
    assert _stored(api) == 5
    [listed] = api.session("K-A2").get("/v1/kiosk/tablets").json()
    assert listed["sync_counter"] == 5
    audit = api.staff("investigator").get("/v1/staff/audit").json()
    assert [a["action"] for a in audit[:2]] == ["tablet.counter", "tablet.counter"]
    assert audit[0]["target"] == f"tablet:{SERIAL}"
    assert audit[0]["detail"] == {"counter": 5, "kiosk": "K-A2", "uid": "pairing-0002"}


def test_a_counter_not_above_the_stored_one_is_refused(api: ApiServer) -> None:
    _assigned_tablet(api)
    assert _report(api, 4, "pairing-0001").status_code == 200
    for counter, uid in ((4, "pairing-0002"), (2, "pairing-0003")):
        refused = _report(api, counter, uid)
        assert refused.status_code == 409
        assert refused.json()["error"] == "counter_not_increasing"
        assert "sync counter is 4, reported by kiosk K-A2" in refused.json()["message"]
    assert _stored(api) == 4
    # The refused reports are kept, with who made them.
    with api.facility.central.db.read() as conn:
        kept = conn.execute(select(tablet_counters.c.counter, tablet_counters.c.accepted,
                                   tablet_counters.c.kiosk_id)
                            .order_by(tablet_counters.c.id)).all()
    assert [tuple(r) for r in kept] == [(4, True, "K-A2"), (4, False, "K-A2"),
                                        (2, False, "K-A2")]
    audit = api.staff("investigator").get("/v1/staff/audit").json()
    assert audit[0]["action"] == "tablet.counter_refused"


def test_the_same_report_again_is_harmless(api: ApiServer) -> None:
    _assigned_tablet(api)
    first = _report(api, 7, "pairing-0001")
    # The answer was lost: the kiosk sends the same report again, and gets the same answer.
    again = _report(api, 7, "pairing-0001")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    # Still harmless after a later dock raised the counter meanwhile.
    assert _report(api, 9, "pairing-0002").status_code == 200
    late = _report(api, 7, "pairing-0001")
    assert late.status_code == 200 and late.json()["counter"] == 9
    # A refused report sent again is refused again; it is stored once.
    assert _report(api, 8, "pairing-0003").status_code == 409
    assert _report(api, 8, "pairing-0003").status_code == 409
    with api.facility.central.db.read() as conn:
        assert len(conn.execute(select(tablet_counters.c.id)).all()) == 3
    # A uid names one report: the same uid with another counter is refused.
    reused = _report(api, 10, "pairing-0001")
    assert reused.status_code == 409 and reused.json()["error"] == "uid_reused"
    assert _stored(api) == 9


def test_only_a_kiosk_of_the_tablets_unit_reports_its_counter(api: ApiServer) -> None:
    _assigned_tablet(api)
    other_unit = _report(api, 3, "pairing-0001", kiosk="K-B2")
    assert other_unit.status_code == 404
    assert _report(api, 3, "pairing-0002", serial="JP5S-999999").status_code == 404
    tech = api.staff("technician")
    assert tech.post("/v1/staff/tablets", json={"serial": "JP5S-000002"}).status_code == 201
    assert _report(api, 3, "pairing-0003", serial="JP5S-000002").status_code == 404  # nobody's
    assert api.session().post(f"/v1/kiosk/tablets/{SERIAL}/counter", json={
        "uid": "pairing-0004", "counter": 3}).status_code == 401
    assert _report(api, -1, "pairing-0005").status_code == 422
    assert _report(api, 3, "short").status_code == 422
    assert _stored(api) == 0


def test_a_counter_jump_is_refused_alerted_and_staff_can_vouch_for_the_tablet(
        api: ApiServer) -> None:
    """A report far above the stored counter (a forged hello that would lock
    the genuine tablet out for good) is refused and raised in the staff inbox;
    a technician who has checked the tablet raises its counter, and its next
    dock is within the bound again."""
    _assigned_tablet(api)
    assert _report(api, 5, "pairing-0001").status_code == 200
    far = 5 + MAX_COUNTER_JUMP + 1
    jump = _report(api, far, "pairing-0002")
    assert jump.status_code == 409 and jump.json()["error"] == "counter_jump"
    assert _report(api, 2**63 - 1, "pairing-0003").json()["error"] == "counter_jump"
    assert _stored(api) == 5
    # The same report again is refused again, and alerted once.
    assert _report(api, far, "pairing-0002").json()["error"] == "counter_jump"
    within = _report(api, 5 + MAX_COUNTER_JUMP, "pairing-0004")  # exactly at the bound
    assert within.status_code == 200 and _stored(api) == 5 + MAX_COUNTER_JUMP
    tech = api.staff("technician")
    alerts = [a for a in tech.get("/v1/staff/alerts").json() if a["reason"] == "counter_jump"]
    assert len(alerts) == 2
    assert {a["tablet_serial"] for a in alerts} == {SERIAL}
    assert all(a["location_code"] == "CC-A-HALL" and a["resident_agency_id"] == "100001"
               for a in alerts)
    assert any(f"sync counter {far} after 5" in a["detail"] for a in alerts)
    # Staff vouch for the tablet: its counter is raised (never lowered) ...
    vouched = 5 + 3 * MAX_COUNTER_JUMP
    lowered = tech.post(f"/v1/staff/tablets/{SERIAL}/counter", json={"counter": 3})
    assert lowered.status_code == 422 and lowered.json()["error"] == "counter_not_raised"
    set_ = tech.post(f"/v1/staff/tablets/{SERIAL}/counter", json={"counter": vouched})
    assert set_.status_code == 200 and set_.json()["counter"] == vouched
    [listed] = api.session("K-A2").get("/v1/kiosk/tablets").json()
    assert listed["sync_counter"] == vouched  # every kiosk's registry follows it up
    assert _report(api, vouched + 1, "pairing-0005").status_code == 200
    audit = api.staff("investigator").get("/v1/staff/audit").json()
    actions = [a["action"] for a in audit]
    assert "tablet.counter_reset" in actions and actions.count("tablet.counter_jump") == 2
    [reset] = [a for a in audit if a["action"] == "tablet.counter_reset"]
    assert reset["detail"] == {"old": 5 + MAX_COUNTER_JUMP, "new": vouched}
    assert reset["staff_id"] == api.facility.staff["technician"]


def test_only_staff_of_the_tablets_facility_vouch_for_it(api: ApiServer) -> None:
    _assigned_tablet(api)
    c = api.facility.central
    accounts.create_facility(c, "F2", "WA", "Larch", "staff@larch.example")
    api.facility.staff["f2-technician"] = accounts.create_staff(
        c, "f2-technician", "Other Technician", "technician", STAFF_PASSWORD, scope=SYSTEM,
        facility_id="F2", agency_id="WA")
    answer = api.staff("f2-technician").post(f"/v1/staff/tablets/{SERIAL}/counter",
                                             json={"counter": 500})
    assert answer.status_code == 404
    assert api.staff("reviewer").post(f"/v1/staff/tablets/{SERIAL}/counter",
                                      json={"counter": 500}).status_code == 403  # a role
    assert _stored(api) == 0
