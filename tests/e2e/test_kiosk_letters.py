"""Messages a resident writes at the kiosk: sent at once when the central
server answers; kept, across a kill of the kiosk, while it does not, and
sent once when it is back; never sent or charged twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.facility import Family, e2e_facility

pytestmark = pytest.mark.udev


def test_letters_go_up_once_through_an_outage_and_a_kiosk_kill(tmp_path: Path) -> None:
    with e2e_facility(tmp_path) as f:
        family = Family(f.stage)
        try:
            f.login()
            (rosa,) = [c for c in f.kiosk.command("contacts")["contacts"]
                       if c["name"] == "Rosa Webb"]
            stamps = f.kiosk.command("home")["stamps"]

            sent = f.kiosk.command("write", contact_id=rosa["id"], body="written online",
                                   uid="k-letter-online")
            assert (sent["ok"], sent["state"]) == (True, "sent"), sent
            again = f.kiosk.command("write", contact_id=rosa["id"], body="written online",
                                    uid="k-letter-online")
            assert again["state"] == "sent"

            f.central.kill()
            queued = f.kiosk.command("write", contact_id=rosa["id"],
                                     body="written while the server was away",
                                     uid="k-letter-offline")
            assert (queued["ok"], queued["state"]) == (True, "queued"), queued
            inbox = f.kiosk.command("inbox")["conversations"]
            waiting = [m for c in inbox for m in c["messages"] if m["uid"] == "k-letter-offline"]
            assert [m["state"] for m in waiting] == ["queued"]

            f.kiosk.kill()  # the kiosk crashes with the letter queued
            f.central.start()
            f.kiosk.start()
            assert f.kiosk.command("round")["ok"]

            bodies = [m["body"]["body"] for m in family.inbox()]
            assert bodies.count("written online") == 1
            assert bodies.count("written while the server was away") == 1
            f.login()
            assert f.kiosk.command("home")["stamps"] == stamps - 2  # one stamp each, once
        finally:
            family.close()
