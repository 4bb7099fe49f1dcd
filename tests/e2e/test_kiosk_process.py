"""The kiosk process at its dock: only the logged-in resident's own tablet
syncs; anything else is refused with its reason, mailed to staff and recorded
on the central server, once; and what arrives on its command line is
bounded and answered, never fatal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from device_security import reasons
from tests.e2e.facility import E2E, SERIAL, e2e_facility
from tests.smtp_server import smtp_server

pytestmark = pytest.mark.udev

LUCIA_TABLET = "JP5S-000002"  # assigned to Lucia Ramos (903377), also on unit CC-A


def _pairing(f: E2E, tablet: str) -> tuple[dict[str, Any], dict[str, Any]]:
    mark = len(f.kiosk.events)
    docked = f.dock(tablet=tablet)
    pairing = f.kiosk.wait_for(lambda e: e.get("event") == "pairing", 5, after=mark)
    f.unplug(tablet)
    return pairing, docked


def _staff_alerts(f: E2E) -> list[dict[str, Any]]:
    with requests.Session() as http:
        http.trust_env = False
        http.verify = str(f.stage.ca_certificate)
        url = f.stage.central_url
        token = http.post(url + "/v1/staff/sessions", timeout=30, json={
            "username": "demo-technician", "password": "demo staff password"}).json()["token"]
        answer = http.get(url + "/v1/staff/alerts", timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        alerts: list[dict[str, Any]] = answer.json()
        return alerts


def test_only_the_residents_own_tablet_syncs_and_refusals_reach_staff(tmp_path: Path) -> None:
    with smtp_server() as (inbox, port), e2e_facility(
            tmp_path, tablets=(("T1", SERIAL), ("T2", LUCIA_TABLET)),
            smtp=("127.0.0.1", port)) as f:
        pairing, docked = _pairing(f, "T1")  # nobody logged in yet
        assert (pairing["allowed"], pairing["reason"]) == (False, reasons.NOBODY_LOGGED_IN)
        assert not docked["synced"]
        f.login()
        pairing, docked = _pairing(f, "T2")  # Lucia's tablet, with Marcus logged in
        assert (pairing["allowed"], pairing["reason"], pairing["alerted"]) == (
            False, reasons.ASSIGNED_TO_SOMEONE_ELSE, True)
        assert not docked["synced"] and docked["safe_to_unplug"]
        pairing, docked = _pairing(f, "T1")  # his own
        assert pairing["allowed"] and docked["synced"], docked
        # Staff: a mail for each refusal, naming who, where, which tablet and whose.
        mails = [m.get_content() for m in inbox.wait(2)]
        wrong = next(m for m in mails if reasons.ASSIGNED_TO_SOMEONE_ELSE in m)
        for text in ("Marcus Webb (874512)", "CC-A-DAYROOM", LUCIA_TABLET, "903377"):
            assert text in wrong, text
        # ... and a record on the central server, once each, after the next round.
        assert f.kiosk.command("round")["ok"]
        assert f.kiosk.command("round")["ok"]
        alerts = _staff_alerts(f)
        assert sorted(a["reason"] for a in alerts) == sorted(
            [reasons.NOBODY_LOGGED_IN, reasons.ASSIGNED_TO_SOMEONE_ELSE])
        (refused,) = [a for a in alerts if a["reason"] == reasons.ASSIGNED_TO_SOMEONE_ELSE]
        assert (refused["tablet_serial"], refused["resident_agency_id"],
                refused["location_code"]) == (LUCIA_TABLET, "874512", "CC-A-DAYROOM")


def test_bad_commands_get_clear_answers_and_the_kiosk_goes_on(tmp_path: Path) -> None:
    with e2e_facility(tmp_path) as f:
        for line in ("not json", "[1, 2]", '{"op": 7}', '{"op": "fly"}',
                     '{"op": "login", "agency_id": "' + "9" * 500 + '", "pin": "1"}',
                     '{"op": "login"}', "x" * 10_000):
            answer = f.kiosk.send_line(line)
            assert answer["ok"] is False and answer["message"], (line[:40], answer)
        assert f.kiosk.command("buy", item_id="song-river", key="k-00000001")["code"] == \
            "not_logged_in"
        wrong = f.kiosk.command("login", agency_id="874512", pin="000000")
        assert (wrong["ok"], wrong["code"]) == (False, "unauthenticated")
        assert f.kiosk.command("status")["ok"] and f.kiosk.alive
