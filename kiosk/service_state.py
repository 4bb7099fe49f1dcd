"""Whether this kiosk is in service: a technician takes it out (and puts it
back) at the maintenance menu; the state is kept across restarts, shown on
the attract screen, and told to every tablet that docks (their lock timers
pause meanwhile)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from base.files import write_atomic


class ServiceState:
    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock

    def out_of_service_since(self) -> int | None:
        """When a technician took this kiosk out of service (epoch seconds), or None."""
        try:
            since = json.loads(self.path.read_text()).get("out_of_service_since")
        except (OSError, ValueError, AttributeError):
            return None
        return since if type(since) is int and since >= 0 else None

    def set(self, in_service: bool) -> int | None:
        """Put the kiosk in or out of service; the time it has been out since."""
        since = None if in_service else (self.out_of_service_since() or int(self._clock()))
        write_atomic(self.path, json.dumps({"out_of_service_since": since}).encode())
        return since
