"""A USB stick in the kiosk's mass-storage port, as the kiosk writes to it:
the directory the operating system mounts it at (the simulator's world has
one too). Files are written whole or not at all: into a hidden temporary
file on the stick, flushed to it, then renamed, and the directory flushed,
so a stick pulled out halfway holds no half-written file under the final
name. A file's name is made here from a checked label, never taken as
given."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from hw.errors import DeviceGone, DeviceNotFound, TransportError

log = logging.getLogger(__name__)

LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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
        return shutil.disk_usage(self.mount).free

    def write(self, label: str, suffix: str, fill: Callable[[StickFile], object],
              check: Callable[[Path], object] | None = None) -> Path:
        """Write the file ``<label><suffix>``: ``fill`` writes its bytes to a
        temporary file on the stick, ``check`` (if given) reads it back before
        it takes its name. Anything ``fill`` or ``check`` raises leaves no
        file behind and passes on. Raises ValueError for a label that is not
        a plain name, DeviceNotFound without a stick, DeviceGone when the
        stick went away while writing, TransportError when it is full or
        fails."""
        if not LABEL.match(label) or suffix not in (".zip", ".txt"):
            raise ValueError(f"not a file name for a stick: {label!r}{suffix!r}")
        if not self.present():
            raise DeviceNotFound(f"no USB stick at {self.mount}")
        final = self.mount / f"{label}{suffix}"
        tmp = self.mount / f".{label}{suffix}.part"
        try:
            with self._stick_io(), tmp.open("wb") as f:
                fill(StickFile(f, self))
                with self._stick_io():
                    f.flush()
                    os.fsync(f.fileno())
            if check is not None:
                check(tmp)
            with self._stick_io():
                os.replace(tmp, final)
                fd = os.open(self.mount, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        log.info("wrote %s (%d bytes) to the USB stick", final.name, final.stat().st_size)
        return final

    @contextlib.contextmanager
    def _stick_io(self) -> Iterator[None]:
        """The stick's own failures, as the hardware layer's errors."""
        try:
            yield
        except FileNotFoundError as e:
            raise DeviceGone(f"the USB stick at {self.mount} went away: {e}") from e
        except OSError as e:
            raise TransportError(f"the USB stick at {self.mount}: {e}") from e


class StickFile:
    """The file being written, as ``fill`` sees it: writes whose failures are
    the stick's (full, pulled out) raise the hardware layer's errors; what
    ``fill`` raises itself passes as it is."""

    def __init__(self, f: BinaryIO, stick: UsbStick) -> None:
        self._f = f
        self._stick = stick

    def write(self, data: bytes) -> int:
        with self._stick._stick_io():
            return self._f.write(data)
