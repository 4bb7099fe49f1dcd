"""The simulated USB cable: two pseudo-terminals and a relay between them.

The kiosk opens one pty (it stands for the tablet's ``/dev/ttyACM*`` on the
kiosk) and the tablet's software opens the other (its serial gadget,
``/dev/ttyGS0`` on a real tablet). Two threads copy bytes between the pty
masters, one per direction, and apply the faults a developer injects. Cutting
the link closes the masters, so a read blocked at either end fails with EIO,
as on a real unplug.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import struct
import termios
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from simulators.errors import SimError

log = logging.getLogger(__name__)

Direction = Literal["down", "up"]  # down: kiosk to tablet; up: tablet to kiosk
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fault:
    """A fault on a link. Byte offsets count from when the fault was set.

    ``drop_at`` cuts the link (an unplug) once that many bytes have passed;
    ``corrupt_at`` flips every bit of the byte at that offset; ``delay_s``
    holds each chunk that long; ``stall`` stops forwarding until cleared.
    """

    direction: Literal["down", "up", "both"] = "both"
    drop_at: int | None = None
    corrupt_at: int | None = None
    delay_s: float = 0.0
    stall: bool = False

    def __post_init__(self) -> None:
        if self.direction not in ("down", "up", "both"):
            raise SimError(f"direction must be down, up or both, got {self.direction!r}")
        for name in ("drop_at", "corrupt_at"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise SimError(f"{name} must be a byte offset, got {value!r}")
        if not 0 <= self.delay_s <= 60:
            raise SimError(f"delay must be within 0-60 s, got {self.delay_s}")

    def applies_to(self, direction: Direction) -> bool:
        return self.direction in (direction, "both")


def open_raw_pty() -> tuple[int, int, str]:
    """A pseudo-terminal in raw mode: (master fd, slave fd, slave path)."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


class SimLink:
    """One tablet's cable. Constructing does no I/O; :meth:`open` makes the ptys."""

    def __init__(self, name: str, *, on_drop: Callable[[], None] | None = None) -> None:
        self.name = name
        self._on_drop = on_drop
        self._masters: dict[str, int] = {}
        self._slaves: dict[str, int] = {}
        self.kiosk_tty = ""
        self.gadget_tty = ""
        self._fault = Fault()
        self._fault_base = {"down": 0, "up": 0}
        self.bytes = {"down": 0, "up": 0}
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._wake_r = self._wake_w = -1
        self._cut = False

    @property
    def is_open(self) -> bool:
        return bool(self._threads) and not self._cut

    def open(self) -> None:
        if self._threads:
            raise SimError(f"link {self.name} is already open")
        for side in ("kiosk", "gadget"):
            master, slave, path = open_raw_pty()
            os.set_blocking(master, False)
            self._masters[side], self._slaves[side] = master, slave
            if side == "kiosk":
                self.kiosk_tty = path
            else:
                self.gadget_tty = path
        self._wake_r, self._wake_w = os.pipe()
        for direction, src, dst in (("down", "kiosk", "gadget"), ("up", "gadget", "kiosk")):
            thread = threading.Thread(
                target=self._pump,
                args=(direction, self._masters[src], self._masters[dst]),
                name=f"link-{self.name}-{direction}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def set_fault(self, fault: Fault | None) -> None:
        """Replace the link's fault (None clears it); offsets restart at zero."""
        with self._cond:
            self._fault = fault or Fault()
            self._fault_base = dict(self.bytes)
            self._cond.notify_all()

    @property
    def fault(self) -> Fault:
        return self._fault

    def cut(self) -> None:
        """Unplug: stop relaying and close the masters. Safe to call twice."""
        with self._cond:
            if self._cut or not self._threads:
                self._cut = True
                return
            self._cut = True
            self._cond.notify_all()
        os.write(self._wake_w, b"x")
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(5)
        for fd in [*self._masters.values(), *self._slaves.values(), self._wake_r, self._wake_w]:
            try:
                os.close(fd)
            except OSError as e:
                log.debug("closing fd %d: %s", fd, e)
        self._masters.clear()
        self._slaves.clear()

    # -- relay ---------------------------------------------------------------

    def _pump(self, direction: Direction, src: int, dst: int) -> None:
        poller = select.poll()
        poller.register(src, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while not self._cut:
            try:
                ready = poller.poll(1000)
            except InterruptedError:
                continue
            if self._cut:
                return
            if not any(fd == src for fd, _ in ready):
                continue
            try:
                data = os.read(src, CHUNK)
            except BlockingIOError:
                continue
            except OSError as e:
                if e.errno == errno.EIO:  # nobody holds the slave: idle
                    time.sleep(0.01)
                    continue
                raise
            if not data:
                continue
            data, drop = self._apply_fault(direction, data)
            if data and not self._write_all(dst, data):
                return
            with self._cond:
                self.bytes[direction] += len(data)
            if drop:
                # The bytes before the drop point reach the far end: give its
                # reader a moment to take them before the cable comes out.
                self._wait_drained("gadget" if direction == "down" else "kiosk")
                log.info("link %s: dropped after %d bytes %s", self.name,
                         self.bytes[direction], direction)
                self._drop()
                return

    def _apply_fault(self, direction: Direction, data: bytes) -> tuple[bytes, bool]:
        with self._cond:
            while (not self._cut and self._fault.stall and self._fault.applies_to(direction)):
                self._cond.wait(0.2)
            fault = self._fault
            offset = self.bytes[direction] - self._fault_base[direction]
        if not fault.applies_to(direction):
            return data, False
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.corrupt_at is not None and offset <= fault.corrupt_at < offset + len(data):
            i = fault.corrupt_at - offset
            data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
        if fault.drop_at is not None and offset + len(data) >= fault.drop_at:
            return data[: max(0, fault.drop_at - offset)], True
        return data, False

    def _write_all(self, fd: int, data: bytes) -> bool:
        view = memoryview(data)
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        poller.register(self._wake_r, select.POLLIN)
        while view:
            if self._cut:
                return False
            try:
                written = os.write(fd, view)
                view = view[written:]
                continue
            except BlockingIOError:
                pass
            except OSError as e:
                if e.errno == errno.EIO:
                    return False
                raise
            poller.poll(1000)
        return True

    def _wait_drained(self, side: str, timeout: float = 2.0) -> None:
        # The pty hands written bytes to the far end's queue asynchronously:
        # let that happen before looking at the queue.
        time.sleep(0.05)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._cut:
            waiting = fcntl.ioctl(self._slaves[side], termios.TIOCINQ, b"\0\0\0\0")
            if struct.unpack("I", waiting)[0] == 0:
                return
            time.sleep(0.005)

    def _drop(self) -> None:
        if self._on_drop is not None:
            self._on_drop()
        else:
            self.cut()
