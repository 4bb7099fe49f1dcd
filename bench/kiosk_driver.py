"""Drives the kiosk app for bench/bench_kiosk.py, on the app's own clock:
the first frame, screen switches, and login and logout cycles. Writes what
it measured as JSON to ``--out``. Run inside the simulated world, under a
display (bench_kiosk.py does both)."""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESIDENT, FIRST_PIN, PIN = "874512", "482916", "135790"
SCREENS = ("home", "inbox", "store", "account", "help", "dock")
SWITCH_ROUNDS = 8


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--started", type=float, required=True, help="time.time() at spawn")
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    from kiosk.cli import make_app

    service, app = make_app(args.config, silent=True)
    from kivy.clock import Clock
    from kivy.core.window import Window

    figures: dict[str, Any] = {"cycles": args.cycles, "warmup": args.warmup}
    after_frame: list[Callable[[], None]] = []

    def on_flip(*_: object) -> None:
        if "cold_start_s" not in figures and app.root is not None \
                and app.root.current == "attract":
            figures["cold_start_s"] = time.time() - args.started
            Clock.schedule_once(lambda _: first_login())
        elif after_frame:
            after_frame.pop(0)()

    Window.bind(on_flip=on_flip)

    def when_idle(then: Callable[[], None]) -> None:
        """Once the app's worker has done what it was given so far."""
        app.task(lambda: None, lambda _: then())

    def first_login() -> None:
        answer = service.login(RESIDENT, FIRST_PIN)
        if answer.ok and answer.get().must_change_pin:
            service.change_pin(FIRST_PIN, PIN)
        elif not answer.ok:
            service.login(RESIDENT, PIN)
        app.logged_in_as(app.resident)
        service.accept_terms()
        switches([s for _ in range(SWITCH_ROUNDS) for s in SCREENS])

    times: list[float] = []

    def switches(left: list[str]) -> None:
        if not left:
            figures["switches"] = len(times)
            figures["switch_ms_median"] = statistics.median(times)
            figures["switch_ms_p95"] = sorted(times)[int(len(times) * 0.95) - 1]
            app.logout()
            when_idle(lambda: cycle(0))
            return
        started = time.perf_counter()

        def drawn() -> None:
            times.append((time.perf_counter() - started) * 1000)
            when_idle(lambda: switches(left[1:]))

        after_frame.append(drawn)
        app.go(left[0])

    def cycle(n: int) -> None:
        if n == args.warmup:
            gc.collect()
            figures["rss_after_warmup_mb"] = rss_mb()
        if n == args.cycles:
            gc.collect()
            figures["rss_end_mb"] = rss_mb()
            figures["rss_growth_mb"] = max(0.0, figures["rss_end_mb"]
                                           - figures["rss_after_warmup_mb"])
            app.stop()
            return
        answer = service.login(RESIDENT, PIN)
        if not answer.ok:
            figures["error"] = f"{answer.code}: {answer.message}"
            app.stop()
            return
        app.logged_in_as(app.resident)
        app.go("home")

        def shown() -> None:
            when_idle(lambda: logout(n))

        after_frame.append(shown)

    def logout(n: int) -> None:
        app.logout()
        after_frame.append(lambda: when_idle(lambda: cycle(n + 1)))

    try:
        app.run()
    finally:
        service.stop()
    args.out.write_text(json.dumps(figures))
    return 0 if "rss_growth_mb" in figures else 1


if __name__ == "__main__":
    sys.exit(main())
