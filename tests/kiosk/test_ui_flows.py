"""The kiosk's screens driven by touch for the flows the demo does not walk
through (tests/kiosk/flows_driver.py): a wrong PIN, the lockout, a photo
staff withheld shown in its place in the conversation with the reason in
English and Spanish (Rosa sends two photos over the server's API, a
reviewer withholds the second), the inactivity logout and its countdown
(none on the terms), and a login while the server is away; on the demo's
facility, the kiosk inside the simulated world, on a private Xvfb. The
withheld photo's screens are saved and measured for contrast and touch
targets."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from central.seed import DEMO_STAFF_PASSWORD
from devkit.demo import MARCUS, ROSA, Run
from simulators.display import display
from simulators.media import png
from tests.kiosk.flows_driver import WITHHELD, WITHHELD_TEXT

pytestmark = pytest.mark.udev
ROOT = Path(__file__).resolve().parents[2]


def test_wrong_pins_lockout_inactivity_and_offline_login(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        facility = Run(tmp_path, stack)
        for part in (facility.mailbox, facility.harness, facility.facility, facility.central):
            part()
        _one_photo_withheld(facility)
        env = {k: v for k, v in os.environ.items() if k != "UMOCKDEV_DIR"}
        with display() as name:
            done = subprocess.run(
                [sys.executable, "-m", "sallyport", "sim", "--world", str(facility.world),
                 "exec", "--", "env", f"DISPLAY={name}", sys.executable, "-m",
                 "tests.kiosk.flows_driver", "--config", str(facility.stage.kiosk_config),
                 "--world", str(facility.world), "--out", str(tmp_path / "shots")],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert "FAIL" not in done.stdout
    for screen in ("conversation-withheld", "conversation-withheld-es"):
        assert (tmp_path / "shots" / f"{screen}.png").read_bytes().startswith(b"\x89PNG")
    report = json.loads((tmp_path / "shots" / "accessibility.json").read_text())
    assert [f["text"] for f in report["failures"]] == []
    assert {m["screen"] for m in report["measured"]} == {"conversation-withheld",
                                                          "conversation-withheld-es"}


def _one_photo_withheld(facility: Run) -> None:
    """Rosa writes to Marcus with two photos (held: a listed term); the
    demo reviewer lets the text and the first photo through and withholds
    the second, with a reason."""
    with requests.Session() as http:
        http.trust_env = False
        http.verify = str(facility.stage.ca_certificate)
        url = facility.stage.central_url
        token = http.post(url + "/v1/family/sessions", json={
            "email": ROSA[0], "password": ROSA[1]}, timeout=30).json()["token"]
        family = {"Authorization": f"Bearer {token}"}
        shas = [http.post(url + "/v1/family/blobs", data=png(320 + i, 240), timeout=30,
                          headers={**family, "Content-Type": "image/png"}).json()["sha256"]
                for i in range(2)]
        sent = http.post(url + "/v1/family/messages", headers=family, timeout=30, json={
            "uid": "ui-withheld-0001", "resident_agency_id": MARCUS, "body": WITHHELD_TEXT,
            "attachments": [{"kind": "photo", "sha256": sha} for sha in shas]})
        assert sent.status_code == 201 and sent.json()["status"] == "held", sent.text
        token = http.post(url + "/v1/staff/sessions", json={
            "username": "demo-reviewer", "password": DEMO_STAFF_PASSWORD},
            timeout=30).json()["token"]
        staff = {"Authorization": f"Bearer {token}"}
        queue = http.get(url + "/v1/staff/review-queue", headers=staff, timeout=30).json()
        [hold] = [h for h in queue["items"] if h["message_uid"] == "ui-withheld-0001"]
        done = http.post(url + f"/v1/staff/holds/{hold['hold_id']}/parts", headers=staff,
                         timeout=30, json={
                             "text": {"approve": True},
                             "attachments": [{"position": 0, "approve": True},
                                             {"position": 1, "approve": False,
                                              "reason_code": WITHHELD}]})
        assert done.status_code == 200 and done.json()["status"] == "partial", done.text
