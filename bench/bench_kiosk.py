"""The kiosk's touchscreen: how long it takes to come up, to change screens,
and whether logging residents in and out leaks memory.

The whole demo facility is started as ``sallyport demo`` starts it (staff
mailbox, simulator harness, central server with the demo data), then the
kiosk app runs in a process of its own inside the simulated world, on a
private Xvfb, with a driver on its clock (bench/kiosk_driver.py):

* ``kiosk.cold_start_s``: from just before the process is started to the
  first frame drawn with the attract screen showing;
* ``kiosk.screen_switch_ms``: from asking for a screen to the next frame
  drawn, over the resident's screens in turn (median);
* ``kiosk.rss_growth_mb``: the process's resident memory after 1,000 real
  login and logout cycles (each through the central server, each showing the
  home screen with its balances), less after the first 100.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CYCLES = 1000
WARMUP = 100


def run() -> dict[str, tuple[float, str, str]]:
    from devkit.demo import Run
    from simulators.display import display

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        facility = Run(root, stack)
        for action in (facility.mailbox, facility.harness, facility.facility, facility.central):
            action()
        out = root / "figures.json"
        with display() as name:
            started = time.time()
            done = subprocess.run(
                [sys.executable, "-m", "sallyport", "sim", "--world", str(facility.world),
                 "exec", "--", "env", f"DISPLAY={name}", sys.executable, "-m",
                 "bench.kiosk_driver", "--config", str(facility.stage.kiosk_config),
                 "--started", repr(started), "--cycles", str(CYCLES), "--warmup",
                 str(WARMUP), "--out", str(out)],
                capture_output=True, text=True, timeout=3600, check=False,
                cwd=Path(__file__).resolve().parent.parent)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"the kiosk driver failed:\n{done.stdout[-3000:]}"
                               f"{done.stderr[-3000:]}")
        f = json.loads(out.read_text())
    return {
        "kiosk.cold_start_s": (
            f["cold_start_s"], "s",
            "process start to the attract screen's first frame (sallyport kiosk's app, "
            "its service started: cache, registry, rounds and dock threads), on Xvfb; "
            "target <= 3 s"),
        "kiosk.screen_switch_ms": (
            f["switch_ms_median"], "ms",
            f"asking for a screen to its next frame drawn, median of {f['switches']} switches "
            f"among home, messages, store, money, help, dock (p95 {f['switch_ms_p95']:.1f} ms); "
            f"target <= 100 ms"),
        "kiosk.rss_growth_mb": (
            f["rss_growth_mb"], "MB",
            f"resident memory after {f['cycles']} login and logout cycles (real logins "
            f"through the central server, the home screen shown each time) less after the "
            f"first {f['warmup']} ({f['rss_after_warmup_mb']:.1f} -> {f['rss_end_mb']:.1f} "
            f"MB); target 0 growth"),
    }
