"""systemd's watchdog for the kiosk (deploy/sallyport-kiosk.service): READY=1
once the kiosk runs, then WATCHDOG=1 from the screen's own clock, so a hung
screen stops the pings and systemd restarts the kiosk. Without systemd
(``NOTIFY_SOCKET`` unset) every call does nothing."""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(self, address: str | None, interval_s: float) -> None:
        self.address = address
        self.interval_s = interval_s
        self._last = 0.0

    @classmethod
    def from_environment(cls) -> Watchdog:
        """From NOTIFY_SOCKET and WATCHDOG_USEC, as systemd sets them."""
        usec = os.environ.get("WATCHDOG_USEC", "")
        interval = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else 10.0
        return cls(os.environ.get("NOTIFY_SOCKET") or None, interval)

    def _send(self, message: str) -> None:
        if not self.address:
            return
        address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(message.encode(), address)
        except OSError as e:
            log.warning("systemd did not take %r: %s", message, e)

    def ready(self) -> None:
        self._send("READY=1")

    def alive(self) -> None:
        """Call often; pings systemd at half its watchdog interval."""
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            self._send("WATCHDOG=1")
