"""Simulated kiosk hardware besides the dock: badge reader, receipt printer,
USB stick, network switch.

The badge reader and the printer are serial devices (pseudo-terminals), as
they are on a kiosk; the kiosk opens them with ``serial://`` addresses. The
USB stick is the directory it is mounted at, which the harness can pull out
and put back at any moment. The network switch is a TCP relay on loopback
between the kiosk and the central server that a developer can cut and
restore.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import socket
import threading
from pathlib import Path

from simulators.errors import SimError
from simulators.link import open_raw_pty

log = logging.getLogger(__name__)

BADGE_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,32}$")


class BadgeReader:
    """A serial badge reader: each swipe sends the badge id and CR LF."""

    def __init__(self) -> None:
        self._master = self._slave = -1
        self.tty = ""

    def open(self) -> None:
        self._master, self._slave, self.tty = open_raw_pty()

    def swipe(self, badge: str) -> None:
        """Send a badge id; raises SimError for one a reader could not have read."""
        if not BADGE_PATTERN.match(badge):
            raise SimError(f"badge {badge!r}: 1-32 letters, digits or -")
        os.write(self._master, badge.encode("ascii") + b"\r\n")

    def close(self) -> None:
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1


class ReceiptPrinter:
    """A serial receipt printer whose output lands in a spool file."""

    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self._master = self._slave = -1
        self.tty = ""
        self._thread: threading.Thread | None = None
        self._stop_r = self._stop_w = -1

    def open(self) -> None:
        self._master, self._slave, self.tty = open_raw_pty()
        self._stop_r, self._stop_w = os.pipe()
        self.spool.touch()
        self._thread = threading.Thread(target=self._run, name="printer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            ready, _, _ = select.select([self._master, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            data = os.read(self._master, 4096)
            with self.spool.open("ab") as f:
                f.write(data)

    def printed(self) -> bytes:
        return self.spool.read_bytes() if self.spool.exists() else b""

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(5)
            self._thread = None
        for fd in (self._master, self._slave, self._stop_r, self._stop_w):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = self._stop_r = self._stop_w = -1


class UsbStickPort:
    """The kiosk's USB mass-storage port with a stick in it: while the stick
    is in, :attr:`mount` is the directory it is mounted at. :meth:`pull`
    takes it out at once, whatever is being written (what it held stays with
    it, in :attr:`held`, out of the kiosk's reach); :meth:`put_back` mounts
    it again as a new mount, a directory of its own (another inode), as an
    operating system mounts a stick put back. A file the kiosk had open on
    the stick pulled out is no longer the stick's at :attr:`mount`; the
    kiosk's writer sees the mount gone or changed at its next step. The
    constructor does no I/O."""

    def __init__(self, mount: Path, held: Path) -> None:
        if mount.parent != held.parent:
            raise SimError("a stick's mount and where it is held live side by side")
        self.mount = mount
        self.held = held
        self._lock = threading.Lock()

    def open(self) -> None:
        """A stick in the port, unless one was left out by the last run."""
        if not self.held.exists():
            self.mount.mkdir(exist_ok=True)

    @property
    def inserted(self) -> bool:
        return self.mount.is_dir()

    def pull(self) -> None:
        """Take the stick out (nothing happens if it is out already)."""
        with self._lock:
            if self.mount.is_dir():
                os.rename(self.mount, self.held)
                log.info("the USB stick was pulled out of %s", self.mount)

    def put_back(self) -> None:
        """Put the stick back in, mounted afresh (nothing happens if it is in)."""
        with self._lock:
            if self.mount.is_dir():
                return
            fresh = self.mount.with_name(f".{self.mount.name}.mounting")
            fresh.mkdir()
            if self.held.is_dir():
                for child in self.held.iterdir():
                    os.rename(child, fresh / child.name)
                self.held.rmdir()
            os.rename(fresh, self.mount)
            log.info("the USB stick was put back into %s", self.mount)

    def files(self) -> dict[str, bytes]:
        """What the stick holds, in the port or out of it: name -> bytes."""
        with self._lock:
            where = self.mount if self.mount.is_dir() else self.held
            if not where.is_dir():
                return {}
            return {p.name: p.read_bytes() for p in sorted(where.iterdir()) if p.is_file()}


class NetworkSwitch:
    """A TCP relay on loopback: the kiosk connects to :attr:`port`, the switch
    connects on to ``upstream``. :meth:`cut` drops every connection and refuses
    new ones until :meth:`restore`."""

    def __init__(self, upstream: tuple[str, int], *, host: str = "127.0.0.1") -> None:
        if upstream[0] not in ("127.0.0.1", "localhost", "::1"):
            raise SimError("the network switch only relays to loopback")
        self.upstream = upstream
        self.host = host
        self.port = 0
        self.is_up = True
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        self._listener = socket.create_server((self.host, 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, args=(self._listener,),
                                        name="switch", daemon=True)
        self._thread.start()

    def _accept(self, listener: socket.socket) -> None:
        # The thread keeps its own reference: close() clears the attribute.
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if not self.is_up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError as e:
                log.info("switch: upstream %s refused: %s", self.upstream, e)
                client.close()
                continue
            with self._lock:
                self._conns.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True,
                                 name="switch-pipe").start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with self._lock:
                    self._conns.discard(s)
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def cut(self) -> None:
        """Cut the kiosk off: drop open connections, refuse new ones."""
        self.is_up = False
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.is_up = True

    def close(self) -> None:
        self.cut()
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
            listener.close()
        if self._thread is not None:
            self._thread.join(5)
