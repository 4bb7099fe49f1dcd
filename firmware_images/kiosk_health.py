"""The kiosk app's health check after it boots a new slot: the systemd unit's
watchdog (deploy/sallyport-kiosk.service, ``WatchdogSec``) has been pinged
without a gap for ``required`` seconds. Pure: the app passes each ping's time
(monotonic seconds) and asks :meth:`WatchdogHealth.healthy` with the time now.
The kiosk (kiosk/watchdog.py, through firmware_images/kiosk_boot.py's
TrialWatch) asks for one whole watchdog period, WATCHDOG_USEC as systemd set
it."""

from __future__ import annotations

from dataclasses import dataclass, field

REQUIRED = 120.0  # seconds of a steadily pinged watchdog before a new kiosk slot is good
WATCHDOG_SEC = 30.0  # deploy/sallyport-kiosk.service: a longer gap means systemd restarts it


@dataclass
class WatchdogHealth:
    """Pings since the app started. A gap longer than ``max_gap`` (the unit's
    WatchdogSec) starts the count again: systemd would have killed the app."""

    started: float
    required: float = REQUIRED
    max_gap: float = WATCHDOG_SEC
    _since: float = field(init=False)
    _last: float = field(init=False)

    def __post_init__(self) -> None:
        self._since = self.started
        self._last = self.started

    def ping(self, now: float) -> None:
        if now < self._last:
            return  # a monotonic clock does not go back; ignore what would
        if now - self._last > self.max_gap:
            self._since = now
        self._last = now

    def healthy(self, now: float) -> bool:
        """Pinged steadily for ``required`` seconds, the last ping recent."""
        return now - self._last <= self.max_gap and self._last - self._since >= self.required
