"""The tablet's screens driven by simulated touches under Xvfb, flow by flow
(tests/tablet/ui_driver.py: read a conversation, view a photo, write a reply
on the on-screen keyboard and see it wait for the dock with its stamp cost,
play an album, read the tablet's status, and the lock explained; requests
with the receipt numbers a dock brought back and one written offline, legal
mail marked, the terms as accepted), each screen saved as a screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from simulators.display import display

SCREENS = ("home", "conversation", "photo", "compose", "media", "player", "status",
           "status-locked", "home-locked", "conversation-locked", "requests", "request",
           "conversation-legal", "terms")


def test_every_flow_by_touch_and_a_screenshot_of_every_screen(tmp_path: Path) -> None:
    with display() as name:
        done = subprocess.run([sys.executable, "-m", "tests.tablet.ui_driver", "--out",
                               str(tmp_path)], env={**os.environ, "DISPLAY": name},
                              capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout
    for screen in SCREENS:
        picture = tmp_path / f"{screen}.png"
        assert picture.read_bytes().startswith(b"\x89PNG"), screen
