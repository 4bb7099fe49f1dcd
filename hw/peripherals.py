"""The kiosk's other serial devices: the badge reader and the receipt printer.

Both are opened by address, as the dock's links are (``serial:///dev/ttyUSB1``,
or the simulator's ptys by their ``serial://`` path). The badge reader sends
each swipe as a line of text; :class:`BadgeReader` reads on a thread of its
own and hands each well-formed badge id to a callback (anything else, and
lines past a bound, are dropped and logged). :func:`print_text` sends plain
text to the printer.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable

from hw.errors import HwError, LinkTimeout
from hw.serial_link import open_link

log = logging.getLogger(__name__)

BADGE = re.compile(r"^[A-Za-z0-9-]{1,32}$")
MAX_LINE = 64
PRINT_TIMEOUT_S = 10.0


class BadgeReader:
    """Reads swipes from ``address`` until :meth:`stop`. The constructor does no I/O."""

    def __init__(self, address: str, on_badge: Callable[[str], None]) -> None:
        self.address = address
        self._on_badge = on_badge
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.swipes = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="badge-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            link = open_link(self.address)
        except HwError as e:
            self.last_error = str(e)
            log.warning("badge reader %s: %s", self.address, e)
            return
        with link:
            pending = b""
            while not self._stop.is_set():
                try:
                    pending += link.read(MAX_LINE, timeout=0.5)
                except LinkTimeout:
                    continue
                except HwError as e:
                    self.last_error = str(e)
                    log.warning("badge reader %s stopped: %s", self.address, e)
                    return
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self._line(line)
                if len(pending) > MAX_LINE:
                    log.warning("badge reader %s: a line past %d bytes dropped", self.address,
                                MAX_LINE)
                    pending = b""

    def _line(self, raw: bytes) -> None:
        text = raw.strip(b"\r ").decode("ascii", "replace")
        if not BADGE.match(text):
            log.warning("badge reader %s: not a badge id: %r", self.address, text[:40])
            return
        self.swipes += 1
        self._on_badge(text)


def printable_ascii(text: str) -> bytes:
    """``text`` as a receipt printer takes it: letters without their accents
    (Spanish reads as Spanish without them), anything else outside ASCII as ?."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", text)
                    if not unicodedata.combining(ch))
    return plain.encode("ascii", "replace")


def print_text(address: str, text: str) -> None:
    """Print ``text`` on the receipt printer at ``address`` (ASCII: see
    :func:`printable_ascii`). Raises HwError when the printer cannot be reached."""
    with open_link(address) as link:
        link.write(printable_ascii(text) + b"\n\n\n", PRINT_TIMEOUT_S)
