"""An alert with line breaks and control characters in its serial, names or
detail is stored as evidence (on SQLite and PostgreSQL) and cannot forge a
line of the central server's log. (A NUL is refused by the API; the kiosk
replaces it before sending: tests/sync/test_counters_and_alerts.py.)"""

from __future__ import annotations

import logging

import pytest

from tests.central.api_server import ApiServer

HOSTILE_SERIAL = "JP5S-1\r\n2026-11-23 12:00:01 INFO central: tablet JP5S-1 paired"


def test_a_hostile_alert_is_kept_and_logged_on_one_line(
        api: ApiServer, caplog: pytest.LogCaptureFixture) -> None:
    report = {"uid": "alert-uid-000001", "reason": "assigned_to_someone_else\nok",
              "detail": "belongs to B200\r\n\r\nnothing to see", "tablet_serial": HOSTILE_SERIAL,
              "resident_agency_id": "A100", "resident_name": "Ana\u202e Reyes\x1b[2J",
              "registered_owner": "Bo Lind\n(B200)", "raised_at": 1_795_435_200}
    with caplog.at_level(logging.INFO):
        answer = api.session("K-A2").post("/v1/kiosk/alerts", json=report)
    assert answer.status_code == 201, answer.text
    [alert] = api.staff("technician").get("/v1/staff/alerts").json()
    assert alert["tablet_serial"] == HOSTILE_SERIAL
    assert alert["resident_name"] == report["resident_name"]  # kept as evidence
    assert alert["detail"] == report["detail"]
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("central")]
    assert any("JP5S-1\\r\\n2026-11-23" in m for m in ours), ours
    assert all("\n" not in m and "\r" not in m and "\x1b" not in m for m in ours)
