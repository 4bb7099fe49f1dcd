"""The tablet's screens driven by simulated touches under Xvfb, flow by flow
(tests/tablet/ui_driver.py: read a conversation, view a photo, write a reply
on the on-screen keyboard and see it wait for the dock with its stamp cost,
play an album, read the tablet's status, the lock explained, a videogram
with its sender's captions timed under it, the Read aloud buttons starting
and stopping espeak-ng in English and Spanish, a missing espeak-ng said on
the screen, Spanish, larger text and high contrast chosen and remembered;
requests with the receipt numbers a dock brought back and one written
offline, a photo staff withheld said in its place with the reason in English
and Spanish, legal mail marked, the terms as accepted), each screen saved as a
screenshot and measured: every text's contrast against what is behind it
(WCAG 2.1 AA) and every touch target's size (at least 9 mm on the 7-inch
screen), in the normal and the high-contrast theme."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from simulators.display import display

SCREENS = ("home", "conversation", "photo", "compose", "media", "player", "status",
           "status-locked", "home-locked", "conversation-locked", "player-captions",
           "status-es", "home-es", "conversation-es", "status-large-text", "home-large-text",
           "conversation-large-text", "status-high-contrast", "home-high-contrast",
           "conversation-high-contrast", "compose-high-contrast", "media-high-contrast",
           "player-high-contrast", "requests", "request", "conversation-legal", "terms",
           "conversation-withheld", "conversation-withheld-es")


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
    report = json.loads((tmp_path / "accessibility.json").read_text())
    assert round(report["dpi"], 1) == 169.5  # 600x1024 on a 7-inch panel
    assert [f["text"] for f in report["failures"]] == []
    measured = {(m["screen"], m["theme"]) for m in report["measured"]}
    assert measured == {(s, theme) for s in SCREENS for theme in ("normal", "high contrast")}
    assert sum(m["texts"] for m in report["measured"]) > 500
    assert sum(m["targets"] for m in report["measured"]) > 300
