"""The kiosk's screens driven by touch for the flows the demo does not walk
through (tests/kiosk/flows_driver.py): a wrong PIN, the lockout, the
inactivity logout and its countdown (none on the terms), and a login while
the server is away; on the demo's facility, the kiosk inside the simulated
world, on a private Xvfb."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.demo import Run
from simulators.display import display

pytestmark = pytest.mark.udev
ROOT = Path(__file__).resolve().parents[2]


def test_wrong_pins_lockout_inactivity_and_offline_login(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        facility = Run(tmp_path, stack)
        for part in (facility.mailbox, facility.harness, facility.facility, facility.central):
            part()
        env = {k: v for k, v in os.environ.items() if k != "UMOCKDEV_DIR"}
        with display() as name:
            done = subprocess.run(
                [sys.executable, "-m", "sallyport", "sim", "--world", str(facility.world),
                 "exec", "--", "env", f"DISPLAY={name}", sys.executable, "-m",
                 "tests.kiosk.flows_driver", "--config", str(facility.stage.kiosk_config),
                 "--world", str(facility.world)],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert "FAIL" not in done.stdout
