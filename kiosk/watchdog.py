"""systemd's watchdog for the kiosk (deploy/sallyport-kiosk.service): READY=1
once the kiosk runs, then WATCHDOG=1 from the screen's own clock (or, headless,
the main loop), so a hung kiosk stops the pings and systemd restarts it.
Without systemd (``NOTIFY_SOCKET`` unset) every call does nothing.

When ``sallyport kiosk boot`` started the kiosk from a slot on trial, the first
watchdog period pinged without a gap marks that slot good
(firmware_images/kiosk_boot.py)."""

from __future__ import annotations

import logging
import os
import socket
import time

from firmware_images.errors import SlotError
from firmware_images.kiosk_boot import TrialWatch

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(self, address: str | None, interval_s: float,
                 trial: TrialWatch | None = None) -> None:
        self.address = address
        self.interval_s = interval_s
        self.trial = trial
        self._last = 0.0

    @classmethod
    def from_environment(cls) -> Watchdog:
        """From NOTIFY_SOCKET and WATCHDOG_USEC, as systemd sets them."""
        usec = os.environ.get("WATCHDOG_USEC", "")
        period = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None
        address = os.environ.get("NOTIFY_SOCKET") or None
        trial = None
        if address and period is not None:
            trial = TrialWatch(os.environ, started=time.monotonic(), period_s=period)
        elif os.environ.get("SALLYPORT_SLOT_TRIAL") == "1":
            log.warning("a kiosk slot on trial without systemd's watchdog is never marked "
                        "good; it falls back when its tries are spent")
        return cls(address, period / 2 if period is not None else 10.0, trial)

    def _send(self, message: str) -> bool:
        """Send one datagram of the sd_notify protocol; True when it was taken."""
        if not self.address:
            return False
        address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(message.encode(), address)
        except OSError as e:
            log.warning("systemd did not take %r: %s", message, e)
            return False
        return True

    def ready(self) -> None:
        self._send("READY=1")

    def alive(self) -> None:
        """Call often; pings systemd at half its watchdog interval."""
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            if self._send("WATCHDOG=1") and self.trial is not None:
                try:
                    self.trial.pinged(now)
                except SlotError as e:
                    log.warning("the kiosk's slot could not be marked good: %s", e)
                    self.trial = None
