"""The agency's feature switches reach the tablet's screens (driven under
Xvfb by tests/tablet/features_driver.py): a dock with music and video
switched off hides its button and says why in English and Spanish, the next
dock turns it on again; the screens keep their contrast and touch targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from simulators.display import display

SCREENS = ("home-feature-off", "home-feature-off-es", "home-feature-on")


def test_a_switch_off_at_a_dock_hides_the_feature_and_on_brings_it_back(
        tmp_path: Path) -> None:
    with display() as name:
        done = subprocess.run([sys.executable, "-m", "tests.tablet.features_driver", "--out",
                               str(tmp_path)], env={**os.environ, "DISPLAY": name},
                              capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout
    assert done.stdout.count("ok ") == 5, done.stdout
    report = json.loads((tmp_path / "accessibility.json").read_text())
    assert [f["text"] for f in report["failures"]] == []
    measured = {(m["screen"], m["theme"]) for m in report["measured"]}
    assert measured == {(s, theme) for s in SCREENS for theme in ("normal", "high contrast")}
