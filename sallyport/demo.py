"""``sallyport demo``: the system on simulated hardware, step by step.

Today it starts the simulator harness with two tablets, plugs one in, and
shows the kiosk's hardware layer seeing it; it grows as the kiosk, the
tablet and the central server arrive. Each step is printed; the exit status
is 0 when every step passed, and otherwise names the step that failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class DemoStepFailed(Exception):
    pass


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo", help="run the system on simulated hardware",
        description="Start simulated tablets, plug one in, and show the hardware layer "
        "seeing it. Prints each step; exits non-zero naming the step that failed.")
    parser.add_argument("--world", type=Path, default=None,
                        help="the simulated world's directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true",
                        help="leave the harness running at the end (stop it with "
                        "sallyport sim --world DIR down)")
    parser.set_defaults(func=cmd_demo)


def _sallyport(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sallyport", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def cmd_demo(args: argparse.Namespace) -> int:
    from simulators.control import ControlClient
    from simulators.errors import SimError
    from simulators.harness import spawn

    world = args.world or Path(tempfile.mkdtemp(prefix="sallyport-demo-"))
    client: ControlClient | None = None
    number = 0

    def step(title: str, action: Callable[[], str]) -> None:
        nonlocal number
        number += 1
        print(f"[{number}] {title} ...", flush=True)
        try:
            detail = action()
        except (SimError, DemoStepFailed, subprocess.SubprocessError) as e:
            raise DemoStepFailed(f"step {number} ({title}) failed: {e}") from e
        for line in detail.rstrip().splitlines():
            print(f"    {line}")
        print(f"[{number}] ok", flush=True)

    def start() -> str:
        nonlocal client
        client = spawn(world, tablets=2, ports=2, central=None)
        state = client.call("status")
        return "\n".join(f"{n}: serial {t['serial']}, battery {t['battery_pct']}%"
                         for n, t in sorted(state["tablets"].items()))

    def plug() -> str:
        assert client is not None
        t = client.call("plug", tablet="T1", port=1)
        return f"T1 ({t['serial']}) in dock port 1; kiosk end {t['kiosk_tty']}"

    def hw_list() -> str:
        assert client is not None
        serial = client.call("status")["tablets"]["T1"]["serial"]
        shown = _sallyport("sim", "--world", str(world), "exec", "--",
                           sys.executable, "-m", "sallyport", "hw", "list")
        as_json = _sallyport("sim", "--world", str(world), "exec", "--",
                             sys.executable, "-m", "sallyport", "hw", "list", "--json")
        if shown.returncode or as_json.returncode:
            raise DemoStepFailed(shown.stderr.strip() or as_json.stderr.strip())
        rows = [json.loads(line) for line in as_json.stdout.splitlines() if line.strip()]
        if [r["serial"] for r in rows] != [serial]:
            raise DemoStepFailed(f"expected exactly {serial} docked, hw list shows "
                                 f"{[r['serial'] for r in rows]}")
        if rows[0].get("descriptor_serial") != serial:
            raise DemoStepFailed(f"USB descriptors say {rows[0].get('descriptor_serial')!r}")
        return "$ sallyport hw list\n" + shown.stdout

    try:
        step("start the simulator harness with two tablets", start)
        step("plug tablet T1 into dock port 1", plug)
        step("see it through the kiosk's hardware layer (udev, pyusb, tty)", hw_list)
    except DemoStepFailed as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    finally:
        if client is not None and not args.keep:
            client.call("shutdown")
    print("demo: every step passed")
    if args.keep:
        print(f"the harness is still running: sallyport sim --world {world} status")
    return 0
