"""A byte link to one device over pyserial, opened by address.

Addresses name the backend, as pyserial's ``serial_for_url`` does:

``serial:///dev/ttyACM0``
    a serial device node (a tablet's USB CDC interface, a badge reader);
``loop://``
    pyserial's software loopback, for tests of code that talks over a link;
``SCHEME://...``
    any scheme registered in the ``sallyport.link_schemes`` entry-point group
    (the simulator registers ``sim://``), which resolves to one of the above.

Every read is bounded in size and time. When the device goes away in the
middle of an operation, the operation ends with :class:`hw.errors.DeviceGone`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import serial

from hw.errors import AddressError, DeviceGone, DeviceNotFound, LinkTimeout, TransportError
from hw.records import DeviceIdentity

log = logging.getLogger(__name__)

MAX_READ = 1 << 20  # the most one read may ask for
SCHEME_GROUP = "sallyport.link_schemes"
_GONE_ERRNOS = {errno.EIO, errno.ENXIO, errno.ENODEV, errno.EBADF, errno.EPIPE}

PortOpener = Callable[..., Any]


def resolve_address(address: str) -> str:
    """Turn an address into a pyserial port name or URL.

    Raises AddressError for an address no backend can open.
    """
    parts = urlsplit(address)
    if parts.scheme == "serial":
        path = parts.path
        if parts.netloc or not path.startswith("/") or "/../" in path + "/":
            raise AddressError(f"expected serial:///path/to/device, got {address!r}")
        return path
    if parts.scheme == "loop":
        return "loop://"
    if not parts.scheme:
        raise AddressError(f"an address needs a scheme such as serial://, got {address!r}")
    found = entry_points(group=SCHEME_GROUP, name=parts.scheme)
    if not found:
        raise AddressError(f"no link backend for {parts.scheme}:// in {address!r}")
    resolver: Callable[[str], str] = next(iter(found)).load()
    resolved = resolver(address)
    if urlsplit(resolved).scheme not in ("serial", "loop"):
        raise AddressError(f"{address!r} resolved to {resolved!r}, which is not a device")
    return resolve_address(resolved)


def _is_gone(exc: BaseException) -> bool:
    """Whether an error from pyserial means the device is no longer there.

    pyserial wraps OSError and termios.error in SerialException; the errno
    survives in the chained exception (or, for termios, in its args).
    """
    seen: BaseException | None = exc
    while seen is not None:
        code = getattr(seen, "errno", None)
        if code is None and seen.args and isinstance(seen.args[0], int):
            code = seen.args[0]
        if code in _GONE_ERRNOS:
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "returned no data" in text or "Input/output error" in text


class SerialLink:
    """An open byte link. Use :func:`open_link` to make one.

    Not thread-safe: one device's I/O belongs to one worker thread
    (see :class:`hw.worker.DeviceWorker`); only :meth:`abort` may be called
    from another thread. pyserial opens and configures the port; on a port
    with a file descriptor, reads and writes go to it directly, and wait in a
    poll only when it has nothing to give or no room (a tty hands over at most
    4 KB at a time, so this path is kept short).
    """

    def __init__(self, port: Any, identity: DeviceIdentity) -> None:
        self._port = port
        self.identity = identity
        self._timeout: float | None = -1.0
        self._write_timeout: float | None = -1.0
        self.bytes_read = 0
        self.bytes_written = 0
        self._aborted = False
        self._fd: int | None = None
        try:
            self._fd = int(port.fileno())
        except (AttributeError, OSError, ValueError, serial.SerialException):
            self._fd = None
        self._abort_r, self._abort_w = os.pipe() if self._fd is not None else (-1, -1)
        self._readable: select.poll | None = None
        self._writable: select.poll | None = None
        if self._fd is not None:
            self._readable, self._writable = select.poll(), select.poll()
            self._readable.register(self._fd, select.POLLIN)
            self._writable.register(self._fd, select.POLLOUT)
            for poller in (self._readable, self._writable):
                poller.register(self._abort_r, select.POLLIN)

    @property
    def closed(self) -> bool:
        return not self._port.is_open

    def _set_timeout(self, timeout: float) -> None:
        if timeout != self._timeout:
            self._port.timeout = timeout
            self._timeout = timeout

    def _check_aborted(self, action: str) -> None:
        if self._aborted:
            raise DeviceGone(f"{action} ended: the device left", device=self.identity)

    def abort(self) -> None:
        """End a read or write blocked on another thread with DeviceGone.

        The one method that may be called from a thread other than the one
        doing the I/O; the hot-plug consumer calls it when the device leaves.
        """
        self._aborted = True
        if self._abort_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._abort_w, b"x")
        for cancel in ("cancel_read", "cancel_write"):
            method = getattr(self._port, cancel, None)
            if method is not None and self._port.is_open:
                method()

    def _fail(self, action: str, e: BaseException) -> TransportError:
        if self._aborted:
            return DeviceGone(f"{action} ended: the device left", device=self.identity)
        if not self._port.is_open:
            return TransportError(f"{action} on a closed link", device=self.identity)
        if _is_gone(e):
            return DeviceGone(f"device went away during {action}: {e}", device=self.identity)
        return TransportError(f"{action} failed: {e}", device=self.identity)

    def _read_some(self, max_bytes: int, timeout: float) -> bytes:
        """Up to max_bytes as soon as any arrive; b"" if none within timeout."""
        self._check_aborted("read")
        if not self._port.is_open:
            raise TransportError("read on a closed link", device=self.identity)
        try:
            if self._readable is not None:
                assert self._fd is not None
                return self._read_fd(max_bytes, time.monotonic() + timeout)
            self._set_timeout(timeout)
            first: bytes = self._port.read(1)
            self._check_aborted("read")
            if not first:
                return b""
            waiting = min(int(self._port.in_waiting), max_bytes - 1)
            return first + (self._port.read(waiting) if waiting > 0 else b"")
        except (serial.SerialException, OSError) as e:
            raise self._fail("read", e) from e

    def _read_fd(self, max_bytes: int, deadline: float) -> bytes:
        """Read the descriptor: at once when bytes are waiting, as they mostly
        are in a transfer; else after a poll. b"" at the deadline. (The port
        reads without blocking: nothing waiting reads as b"" or EAGAIN; after a
        poll has said it is readable, b"" is the end of the device.)"""
        assert self._fd is not None and self._readable is not None
        fd = self._fd
        try:
            data = os.read(fd, max_bytes)
        except BlockingIOError:
            data = b""
        if data:
            return data
        left = deadline - time.monotonic()
        ready = self._readable.poll(max(0.0, left) * 1000.0)
        if self._aborted:
            raise DeviceGone("read ended: the device left", device=self.identity)
        if not ready:
            return b""
        data = os.read(fd, max_bytes)
        if not data:
            raise DeviceGone("device went away during read: end of file", device=self.identity)
        return data

    def read(self, max_bytes: int, timeout: float) -> bytes:
        """Return between 1 and ``max_bytes`` bytes, as soon as any arrive.

        Raises LinkTimeout if nothing arrives within ``timeout`` seconds,
        DeviceGone if the device went away, ValueError for a size outside
        1..MAX_READ.
        """
        if not 1 <= max_bytes <= MAX_READ:
            raise ValueError(f"max_bytes must be within 1..{MAX_READ}, got {max_bytes}")
        if timeout <= 0:
            raise ValueError("a read needs a positive timeout")
        data = self._read_some(max_bytes, timeout)
        if not data:
            raise LinkTimeout(f"nothing received within {timeout:.3f} s", device=self.identity)
        self.bytes_read += len(data)
        return data

    def read_exactly(self, size: int, timeout: float) -> bytes:
        """Return exactly ``size`` bytes, read within ``timeout`` seconds in all.

        Raises LinkTimeout (with the bytes missing), DeviceGone, ValueError.
        """
        if not 0 <= size <= MAX_READ:
            raise ValueError(f"size must be within 0..{MAX_READ}, got {size}")
        if timeout <= 0:
            raise ValueError("a read needs a positive timeout")
        deadline = time.monotonic() + timeout
        parts: list[bytes] = []
        got = 0
        while got < size:
            left = deadline - time.monotonic()
            chunk = self._read_some(size - got, left) if left > 0 else b""
            if not chunk:
                self.bytes_read += got
                raise LinkTimeout(f"received {got} of {size} bytes within {timeout:.3f} s",
                                  device=self.identity)
            parts.append(chunk)
            got += len(chunk)
        self.bytes_read += got
        return b"".join(parts)

    def write(self, data: bytes, timeout: float) -> None:
        """Send all of ``data`` within ``timeout`` seconds.

        Raises LinkTimeout if the device does not take it in time, DeviceGone
        if it went away.
        """
        if timeout <= 0:
            raise ValueError("a write needs a positive timeout")
        self._check_aborted("write")
        if not self._port.is_open:
            raise TransportError("write on a closed link", device=self.identity)
        timed_out = False
        try:
            if self._fd is not None:
                timed_out = not self._write_fd(data, time.monotonic() + timeout)
            else:
                if timeout != self._write_timeout:
                    self._port.write_timeout = timeout
                    self._write_timeout = timeout
                self._port.write(data)
                self._port.flush()
        except serial.SerialTimeoutException:
            timed_out = True
        except (serial.SerialException, OSError) as e:
            raise self._fail("write", e) from e
        self._check_aborted("write")
        if timed_out:
            raise LinkTimeout(f"device did not take {len(data)} bytes within {timeout:.3f} s",
                              device=self.identity)
        self.bytes_written += len(data)

    def _write_fd(self, data: bytes, deadline: float) -> bool:
        """Write all of data to the port's descriptor; False if the deadline passed."""
        assert self._fd is not None and self._writable is not None
        fd, writable = self._fd, self._writable
        view = memoryview(data)
        while view:
            try:  # at once while the device takes bytes; a poll only when it is full
                view = view[os.write(fd, view):]
                continue
            except BlockingIOError:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            writable.poll(left * 1000.0)
            self._check_aborted("write")
        return True

    def close(self) -> None:
        """Close the link; closing twice is harmless."""
        try:
            self._port.close()
        except (serial.SerialException, OSError) as e:
            log.debug("closing %s: %s", self.identity, e)
        for fd in (self._abort_r, self._abort_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._abort_r = self._abort_w = -1

    def __enter__(self) -> SerialLink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_link(
    address: str,
    *,
    identity: DeviceIdentity | None = None,
    baudrate: int = 115200,
    opener: PortOpener = serial.serial_for_url,
) -> SerialLink:
    """Open the link at ``address``.

    Raises AddressError for an address no backend can open, DeviceNotFound
    if nothing is there, TransportError if it cannot be opened (say, another
    process holds it).
    """
    identity = identity or DeviceIdentity(address=address)
    port_name = resolve_address(address)
    try:
        options: dict[str, Any] = {"baudrate": baudrate, "timeout": 1.0, "write_timeout": 1.0}
        if port_name != "loop://":
            options["exclusive"] = True  # one dock session per device
        port = opener(port_name, **options)
    except (serial.SerialException, OSError) as e:
        cause = e.__cause__ or e.__context__ or e
        if (isinstance(cause, OSError) and cause.errno == errno.ENOENT) or "No such file" in str(e):
            raise DeviceNotFound(f"no device at {address}", device=identity) from e
        raise TransportError(f"cannot open {address}: {e}", device=identity) from e
    log.debug("opened %s as %s", address, port_name)
    return SerialLink(port, identity)
