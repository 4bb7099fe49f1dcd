"""A USB stick in the kiosk's mass-storage port, as the kiosk writes to it:
the directory the operating system mounts it at (the simulator's world has
one too). A file's name is made here from a checked label, never taken as
given.

Files are written whole or not at all, and a stick can be pulled out at any
moment. :meth:`UsbStick.write` goes through its stages in order:

1. ``writing``: the bytes go into a hidden temporary file on the stick
   (``.<name>.part``), their SHA-256 taken as they go;
2. ``flushing``: the file is flushed and fsynced to the stick;
3. ``checking``: the page cache's copy is dropped and the file is read back
   from the stick, its SHA-256 compared with what was written; then the
   caller's own check (say, that it opens as a zip);
4. ``naming``: it is renamed to its final name and the directory fsynced;
5. ``written``: the stick is still the one it began on.

The stick is the mounted directory the write began on (its device and inode):
one pulled out (the mount gone) or pulled and put back (a new mount) fails
the write at its next step with DeviceGone, and only a write that reached
``written`` counts. A stick pulled after the rename and before the
directory's fsync may hold the whole file under its final name; the write
still fails, and writing it again replaces it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hw.errors import DeviceGone, DeviceNotFound, ReadBackMismatch, TransportError

log = logging.getLogger(__name__)

LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
STAGES = ("writing", "flushing", "checking", "naming", "written")
READ_BLOCK = 1 << 20

Progress = Callable[[str, int], object]
"""Told each stage as it begins, with the bytes written so far (``writing``
is told again after each write)."""


@dataclass(frozen=True)
class OnStick:
    """A file written to the stick and read back whole."""

    path: Path
    size: int
    sha256: str


class UsbStick:
    """The stick mounted at ``mount``. The constructor does no I/O."""

    def __init__(self, mount: Path) -> None:
        self.mount = mount

    def present(self) -> bool:
        """Whether a stick is there to write to."""
        return self.mount.is_dir() and os.access(self.mount, os.W_OK)

    def free_bytes(self) -> int:
        """Room left on the stick. Raises DeviceNotFound when none is there."""
        if not self.present():
            raise DeviceNotFound(f"no USB stick at {self.mount}")
        try:
            return shutil.disk_usage(self.mount).free
        except OSError as e:  # pulled out between the look and the count
            raise DeviceNotFound(f"no USB stick at {self.mount}: {e}") from e

    def write(self, label: str, suffix: str, fill: Callable[[StickFile], object],
              check: Callable[[Path], object] | None = None,
              progress: Progress | None = None) -> OnStick:
        """Write the file ``<label><suffix>`` by the stages above (what was
        written, read back whole, is the answer): ``fill``
        writes its bytes, ``check`` (if given) reads the temporary file back
        before it takes its name, ``progress`` hears each stage. Anything
        ``fill``, ``check`` or ``progress`` raises leaves no file behind and
        passes on. Raises ValueError for a label that is not a plain name,
        DeviceNotFound without a stick, DeviceGone when the stick went away
        (or was put back) before the write was whole, ReadBackMismatch when
        the stick gives back other bytes than were written, TransportError
        when it is full or fails."""
        if not LABEL.match(label) or suffix not in (".zip", ".txt"):
            raise ValueError(f"not a file name for a stick: {label!r}{suffix!r}")
        told: Progress = progress or (lambda stage, size: None)
        if not self.present():
            raise DeviceNotFound(f"no USB stick at {self.mount}")
        with self._stick_io():
            mounted = _identity(self.mount)
        final = self.mount / f"{label}{suffix}"
        tmp = self.mount / f".{label}{suffix}.part"
        try:
            told("writing", 0)
            with self._stick_io(), tmp.open("wb") as f:
                sink = StickFile(f, self, mounted, told)
                fill(sink)
                told("flushing", sink.size)
                self._same(mounted)
                with self._stick_io():
                    f.flush()
                    os.fsync(f.fileno())
            told("checking", sink.size)
            self._read_back(tmp, mounted, sink.sha256.hexdigest())
            if check is not None:
                with self._stick_io():
                    check(tmp)
            told("naming", sink.size)
            self._same(mounted)
            with self._stick_io():
                os.replace(tmp, final)
                fd = os.open(self.mount, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self._same(mounted)
            told("written", sink.size)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        on_stick = OnStick(final, sink.size, sink.sha256.hexdigest())
        log.info("wrote %s (%d bytes, SHA-256 %s) to the USB stick", final.name, on_stick.size,
                 on_stick.sha256)
        return on_stick

    def _read_back(self, path: Path, mounted: tuple[int, int], expected: str) -> None:
        """Read ``path`` back from the stick itself (its cached pages dropped
        first) and compare its SHA-256 with ``expected``. Raises DeviceGone,
        ReadBackMismatch, TransportError."""
        digest = hashlib.sha256()
        with self._stick_io():
            fd = os.open(path, os.O_RDONLY)
            try:
                self._same(mounted)
                with contextlib.suppress(OSError, AttributeError):  # advice, where it is taken
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                while block := os.read(fd, READ_BLOCK):
                    digest.update(block)
            finally:
                os.close(fd)
        self._same(mounted)
        if digest.hexdigest() != expected:
            raise ReadBackMismatch(f"the USB stick at {self.mount} gave back other bytes",
                                   expected=expected, observed=digest.hexdigest())

    def _same(self, mounted: tuple[int, int]) -> None:
        """Raises DeviceGone unless the stick the write began on is still
        mounted (pulled out: the mount is gone; put back: a new mount)."""
        try:
            now = _identity(self.mount)
        except OSError as e:
            raise DeviceGone(f"the USB stick at {self.mount} was pulled out: {e}") from e
        if now != mounted:
            raise DeviceGone(f"the USB stick at {self.mount} was pulled out and put back")

    @contextlib.contextmanager
    def _stick_io(self) -> Iterator[None]:
        """The stick's own failures, as the hardware layer's errors."""
        try:
            yield
        except FileNotFoundError as e:
            raise DeviceGone(f"the USB stick at {self.mount} went away: {e}") from e
        except OSError as e:
            raise TransportError(f"the USB stick at {self.mount}: {e}") from e


def _identity(mount: Path) -> tuple[int, int]:
    """The mounted stick's device and inode. Raises OSError."""
    st = os.stat(mount)
    return st.st_dev, st.st_ino


class StickFile:
    """The file being written, as ``fill`` sees it: writes whose failures are
    the stick's (full, pulled out) raise the hardware layer's errors; what
    ``fill`` raises itself passes as it is. ``size`` and ``sha256`` are of
    what was written."""

    def __init__(self, f: BinaryIO, stick: UsbStick, mounted: tuple[int, int],
                 progress: Progress) -> None:
        self._f = f
        self._stick = stick
        self._mounted = mounted
        self._progress = progress
        self.size = 0
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self._stick._same(self._mounted)
        with self._stick._stick_io():
            written = self._f.write(data)
        self.sha256.update(data[:written])
        self.size += written
        self._progress("writing", self.size)
        return written
