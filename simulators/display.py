"""A private X display for the demo, the Kivy tests and the screenshots: ``Xvfb`` on the
first free display number, gone when done. As a command, runs another
command on it: ``python -m simulators.display CMD ...``."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

SCREEN = "1280x1024x24"


@contextlib.contextmanager
def display(timeout: float = 10.0) -> Iterator[str]:
    """Start Xvfb; yields its DISPLAY (":N"). Raises RuntimeError if it cannot."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed (scripts/system-deps.sh installs it)")
    for number in range(90, 190):
        if Path(f"/tmp/.X{number}-lock").exists():  # noqa: S108 - X's own fixed paths
            continue
        proc = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", SCREEN, "-nolisten",
                                 "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if Path(f"/tmp/.X11-unix/X{number}").exists():  # noqa: S108
                break
            time.sleep(0.05)
        if proc.poll() is not None:
            continue  # another server took the number meanwhile
        try:
            yield f":{number}"
        finally:
            proc.terminate()
            proc.wait(10)
        return
    raise RuntimeError("no free X display number")


def main(argv: list[str]) -> int:
    with display() as name:
        return subprocess.call(argv, env={**os.environ, "DISPLAY": name})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
