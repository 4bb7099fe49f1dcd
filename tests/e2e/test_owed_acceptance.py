"""What a resident is owed, end to end: the central server, the kiosk and the
tablet's link software each a process. The resident writes a medical request
on the tablet while it is off the dock; at the next dock it goes up through
the kiosk's outbox, the server gives it a receipt number that comes back
down to the tablet, and when staff let its deadline pass it is escalated and
the tablet hears that too."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from base.config import load_config
from central.config import CentralConfig
from central.schema import essential_requests as requests_table
from central.server import build_central
from central.services import essential_requests
from tests.e2e.facility import RESIDENT, e2e_facility

pytestmark = pytest.mark.udev

DAY = 86400
ACHE = "Chest pain since last night, worse when I lie down."


def _notices(store: object) -> list[dict[str, object]]:
    return [r["body"] for r in store.items("notice")  # type: ignore[attr-defined]
            if r["body"].get("notice") == "request"]


def test_a_medical_request_drafted_offline_gets_a_receipt_and_escalates(
        tmp_path: Path) -> None:
    with e2e_facility(tmp_path) as f:
        f.login()
        assert f.dock()["synced"]  # the tablet learns its owner
        f.unplug()
        store = f.tablet_store()
        try:
            uid = store.write_request(resident=RESIDENT, type_="medical", body=ACHE)
        finally:
            store.close()
        f.login()
        docked = f.dock()
        assert docked["synced"], docked
        f.unplug()
        for _ in range(2):  # up: the request; down: its notice
            assert f.kiosk.command("round")["ok"]
        config = load_config(CentralConfig, path=f.stage.central_config, section="central",
                             env={}, prefix="SALLYPORT_CENTRAL_")
        central = build_central(config, translator=object())
        try:
            with central.db.read() as conn:
                row = conn.execute(select(requests_table).where(
                    requests_table.c.uid == uid)).one()
            assert (row.type, row.source, row.body, row.status) \
                == ("medical", "tablet", ACHE, "filed")
            f.login()
            assert f.dock()["synced"]
            f.unplug()
            store = f.tablet_store()
            try:
                assert [n["receipt"] for n in _notices(store)] == [row.receipt]
            finally:
                store.close()
            # Staff let the deadline pass: the sweep escalates it.
            central.clock = lambda: int(time.time()) + 2 * DAY + 60
            assert essential_requests.escalate_due(central) == [row.id]
        finally:
            central.db.dispose()
        for _ in range(2):
            assert f.kiosk.command("round")["ok"]
        f.login()
        assert f.dock()["synced"]
        f.unplug()
        store = f.tablet_store()
        try:
            texts = [str(n["text"]) for n in _notices(store)]
        finally:
            store.close()
        assert any("escalated" in t and row.receipt in t for t in texts), texts
