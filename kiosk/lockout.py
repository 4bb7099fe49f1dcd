"""The maintenance PIN's lockout: after a number of wrong PINs in a row no
PIN opens the menu for a while (a technician's badge still does). The rule is
a pure function of the state, the try and the time; :class:`LockoutFile`
keeps the state across restarts, so pulling the plug does not reset it."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from base.files import write_atomic

log = logging.getLogger(__name__)

TRIES = 5  # wrong PINs in a row before the PIN is refused for a while
LOCKOUT_S = 15 * 60


@dataclass(frozen=True)
class LockoutState:
    failures: int = 0  # wrong PINs in a row
    locked_until: float = 0.0  # seconds since the epoch; no PIN opens the menu before


def locked(state: LockoutState, now: float) -> bool:
    return now < state.locked_until


def after_try(state: LockoutState, ok: bool, now: float, *, tries: int = TRIES,
              lockout_s: float = LOCKOUT_S) -> LockoutState:
    """The state after a PIN was tried at ``now`` (a try while locked changes nothing)."""
    if locked(state, now):
        return state
    if ok:
        return LockoutState()
    failures = state.failures + 1
    if failures >= tries:
        return LockoutState(0, now + lockout_s)
    return LockoutState(failures, state.locked_until)


class LockoutFile:
    """The lockout's state in a JSON file, written atomically. A file that
    cannot be read counts as locked now, for the whole lockout: a damaged
    file must not open the menu to guessing."""

    def __init__(self, path: Path, *, lockout_s: float = LOCKOUT_S) -> None:
        self.path = path
        self.lockout_s = lockout_s

    def load(self, now: float) -> LockoutState:
        if not self.path.exists():
            return LockoutState()
        try:
            data = json.loads(self.path.read_text())
            state = LockoutState(int(data["failures"]), float(data["locked_until"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("the maintenance PIN's lockout file %s cannot be read (%s): locked",
                        self.path, e)
            return LockoutState(0, now + self.lockout_s)
        return state

    def save(self, state: LockoutState) -> None:
        write_atomic(self.path, json.dumps(asdict(state)).encode())
