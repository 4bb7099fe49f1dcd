"""Scripted sequences for the harness (``sallyport sim run SCENARIO``).

A scenario is a TOML file of steps, each a table with one action::

    [[step]]
    plug = "T1"          # optional: port = 2
    [[step]]
    wait = 0.5           # seconds
    [[step]]
    fault = "T1"         # with drop_at, corrupt_at, delay_s, stall, direction
    drop_at = 4096
    [[step]]
    clear_fault = "T1"
    [[step]]
    reset = "T1"
    [[step]]
    unplug = "T1"
    [[step]]
    swipe = "B-1001"
    [[step]]
    network = "down"     # or "up"
    [[step]]
    battery = "T1"
    percent = 12
    [[step]]
    expect_plugged = ["T2"]   # fails the run unless exactly these are plugged

The whole file is checked before the first step runs.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.errors import SimError

MAX_STEPS = 10_000
MAX_WAIT_S = 600.0
ACTIONS = {
    "plug": {"port"},
    "unplug": set(),
    "reset": set(),
    "fault": {"drop_at", "corrupt_at", "delay_s", "stall", "direction"},
    "clear_fault": set(),
    "wait": set(),
    "swipe": set(),
    "network": set(),
    "battery": {"percent"},
    "expect_plugged": set(),
}


@dataclass(frozen=True)
class Step:
    number: int
    action: str
    target: Any
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.action} {self.target}" + (f" ({extra})" if extra else "")


def parse_scenario(data: dict[str, Any]) -> list[Step]:
    """Check a parsed scenario and return its steps; raises SimError naming the bad step."""
    unknown = set(data) - {"step", "description"}
    if unknown:
        raise SimError(f"unknown top-level keys {sorted(unknown)}; steps go in [[step]] tables")
    raw = data.get("step", [])
    if not isinstance(raw, list) or not raw:
        raise SimError("a scenario needs at least one [[step]]")
    if len(raw) > MAX_STEPS:
        raise SimError(f"at most {MAX_STEPS} steps")
    steps = []
    for number, table in enumerate(raw, 1):
        actions = [k for k in table if k in ACTIONS]
        if len(actions) != 1:
            raise SimError(f"step {number}: needs exactly one of {sorted(ACTIONS)}, "
                           f"has {sorted(table)}")
        action = actions[0]
        options = {k: v for k, v in table.items() if k != action}
        bad = set(options) - ACTIONS[action]
        if bad:
            raise SimError(f"step {number}: {action} does not take {sorted(bad)}")
        target = table[action]
        if action == "wait":
            if isinstance(target, bool) or not isinstance(target, int | float) \
                    or not 0 <= target <= MAX_WAIT_S:
                raise SimError(f"step {number}: wait takes 0-{MAX_WAIT_S:.0f} seconds")
        elif action == "expect_plugged":
            if not isinstance(target, list) or not all(isinstance(t, str) for t in target):
                raise SimError(f"step {number}: expect_plugged takes a list of tablet names")
        elif action == "network":
            if target not in ("up", "down"):
                raise SimError(f"step {number}: network is up or down")
        elif not isinstance(target, str) or not target:
            raise SimError(f"step {number}: {action} takes a tablet name (or a badge id)")
        steps.append(Step(number, action, target, options))
    return steps


def load_scenario(path: Path) -> list[Step]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise SimError(f"cannot read {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise SimError(f"{path} is not valid TOML: {e}") from e
    return parse_scenario(data)


Call = Callable[..., Any]


def run_scenario(steps: list[Step], call: Call, *, echo: Callable[[str], None] = print,
                 sleep: Callable[[float], None] = time.sleep) -> None:
    """Run steps through ``call(op, **args)`` (a control client's call).

    Raises SimError naming the step that failed.
    """
    for step in steps:
        echo(f"step {step.number}: {step.describe()}")
        try:
            if step.action == "wait":
                sleep(float(step.target))
            elif step.action == "plug":
                call("plug", tablet=step.target, **step.options)
            elif step.action in ("unplug", "reset"):
                call(step.action, tablet=step.target)
            elif step.action == "fault":
                call("fault", tablet=step.target, **step.options)
            elif step.action == "clear_fault":
                call("fault", tablet=step.target, clear=True)
            elif step.action == "swipe":
                call("swipe", badge=step.target)
            elif step.action == "network":
                call("network", state=step.target)
            elif step.action == "battery":
                call("battery", tablet=step.target, **step.options)
            elif step.action == "expect_plugged":
                tablets = call("status")["tablets"]
                plugged = sorted(n for n, t in tablets.items() if t["port"] is not None)
                if plugged != sorted(step.target):
                    raise SimError(f"expected {sorted(step.target)} plugged, found {plugged}")
        except SimError as e:
            raise SimError(f"step {step.number} ({step.describe()}) failed: {e}") from e
