"""Moving an image from a kiosk to a tablet in chunks, resumable.

:class:`ImageSource` (the kiosk) serves an image's bytes by offset from its
local repository. :class:`ImageSink` (the tablet) writes them into the
staging file of the inactive slot: each chunk is written and synced, then the
count of durable bytes is written atomically beside it, so after an unplug, a
kill or a power loss :meth:`ImageSink.begin` resumes from the last durable
chunk. It refuses a byte past the signed length (an endless-data attack) and
checks length and SHA-256 in :meth:`ImageSink.finish`, before anything is
installed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tuf.api.metadata import Targets

from base.files import write_atomic
from firmware_images.errors import (
    HashError,
    LengthError,
    RepositoryError,
    SlotError,
    TransferError,
)
from firmware_images.repository import ImageEntry, Repository
from firmware_images.trust import Installed, choose_image

MAX_CHUNK = 1024 * 1024
_BLOCK = 1024 * 1024
PART = "image.part"
STATE = "staging.json"


@dataclass(frozen=True)
class Offer:
    """An image a kiosk offers a tablet, with the metadata bundle it needs."""

    entry: ImageEntry
    metadata: bytes


def verify_file(path: Path, entry: ImageEntry) -> None:
    """Check a whole image file against its signed entry: its length first
    (nothing of a longer file is read), then SHA-256. Raises LengthError or
    HashError."""
    with path.open("rb") as f:
        length = os.fstat(f.fileno()).st_size
        if length != entry.length:
            raise LengthError("the file is not the signed length", target=entry.name,
                              expected=entry.length, observed=length)
        observed = hashlib.file_digest(f, "sha256").hexdigest()
    if observed != entry.sha256:
        raise HashError("the image does not hash to its signed SHA-256", target=entry.name,
                        expected=entry.sha256, observed=observed)


class ImageSource:
    """The kiosk's side: images from a local copy of the repository.
    ``eligible`` says whether a device (its serial) may have an image now (the
    rollout); by default every device may."""

    def __init__(self, repository: Repository,
                 eligible: Callable[[str, ImageEntry], bool] | None = None) -> None:
        self.repository = repository
        self.eligible = eligible or (lambda serial, entry: True)

    def offer(self, serial: str, device: Installed, trusted_root: int) -> Offer | None:
        """The newest image this device may install now, or None."""
        targets = self.repository.read("targets", Targets).signed
        entry = choose_image(targets, device)
        if entry is None or not self.eligible(serial, entry):
            return None
        return Offer(entry, self.repository.bundle(trusted_root).to_bytes())

    def chunk(self, sha256: str, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes of the image ``sha256`` from ``offset`` (fewer at
        its end). Raises TransferError for an offset past its end or a size out
        of bounds, RepositoryError when the image is not here."""
        if not 0 < size <= MAX_CHUNK or offset < 0:
            raise TransferError("a chunk is 1 byte to 1 MiB from a non-negative offset",
                                offset=offset, size=size)
        path = self.repository.image_path(sha256)
        try:
            with path.open("rb") as f:
                length = os.fstat(f.fileno()).st_size
                if offset > length:
                    raise TransferError("an offset past the image's end", offset=offset,
                                        length=length)
                f.seek(offset)
                return f.read(size)
        except OSError as e:
            raise RepositoryError(f"cannot read the image: {e.strerror}",
                                  sha256=sha256) from e


class ImageSink:
    """The tablet's side: one image at a time into ``staging`` (a directory in
    the firmware directory, on the same file system as the slots)."""

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.entry: ImageEntry | None = None
        self.position = 0
        self._hash = hashlib.sha256()
        self._file: BinaryIO | None = None

    @property
    def part_path(self) -> Path:
        return self.staging / PART

    def begin(self, entry: ImageEntry) -> int:
        """Receive ``entry`` (checked against the signed targets by the caller).
        Returns where to resume: the durable bytes of the same image staged
        before, or 0."""
        self.close()
        self.staging.mkdir(parents=True, exist_ok=True)
        durable = self._durable_of(entry)
        if not durable:
            self._forget()
            self._save_state(entry, 0)
        f = self.part_path.open("r+b" if durable else "w+b")
        f.truncate(durable)  # what came after the last durable chunk is not trusted
        self._hash = hashlib.sha256()
        left = durable
        while left:  # the file holds at least ``durable`` bytes (_durable_of)
            block = f.read(min(_BLOCK, left))
            self._hash.update(block)
            left -= len(block)
        self._file = f
        self.entry = entry
        self.position = durable
        return durable

    def write(self, offset: int, data: bytes) -> int:
        """Write ``data`` at ``offset`` (where the last write ended) and make it
        durable. Returns the durable count. Raises TransferError for another
        offset or no image begun, LengthError (nothing written) for bytes past
        the signed length."""
        entry, f = self.entry, self._file
        if entry is None or f is None:
            raise TransferError("no image is being received")
        if offset != self.position:
            raise TransferError("a chunk that does not follow the last", expected=self.position,
                                observed=offset)
        if self.position + len(data) > entry.length:
            raise LengthError("more bytes than the signed length", target=entry.name,
                              expected=entry.length, observed=self.position + len(data))
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
        self._hash.update(data)
        self.position += len(data)
        self._save_state(entry, self.position)
        return self.position

    def finish(self) -> Path:
        """Check length and SHA-256 against the signed target; returns the
        verified staging file. Raises LengthError or HashError (the staged
        bytes are then thrown away)."""
        entry, f = self.entry, self._file
        if entry is None or f is None:
            raise TransferError("no image is being received")
        if self.position != entry.length:
            raise LengthError("fewer bytes than the signed length", target=entry.name,
                              expected=entry.length, observed=self.position)
        observed = self._hash.hexdigest()
        self.close()
        if observed != entry.sha256:
            self._forget()
            raise HashError("the image does not hash to its signed SHA-256", target=entry.name,
                            expected=entry.sha256, observed=observed)
        return self.part_path

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        """Forget whatever is staged."""
        self.close()
        self.entry = None
        self.position = 0
        self._forget()

    def _durable_of(self, entry: ImageEntry) -> int:
        try:
            state = json.loads((self.staging / STATE).read_text())
        except (OSError, ValueError):
            return 0
        if not isinstance(state, dict) or state.get("sha256") != entry.sha256 \
                or state.get("length") != entry.length:
            return 0
        durable = state.get("durable")
        if not isinstance(durable, int) or not 0 <= durable <= entry.length:
            return 0
        try:
            if self.part_path.stat().st_size < durable:
                return 0
        except OSError:
            return 0
        return durable

    def _save_state(self, entry: ImageEntry, durable: int) -> None:
        write_atomic(self.staging / STATE, json.dumps({
            "name": entry.name, "sha256": entry.sha256, "length": entry.length,
            "durable": durable}).encode())

    def _forget(self) -> None:
        for name in (STATE, PART):
            try:
                (self.staging / name).unlink()
            except FileNotFoundError:
                pass
            except OSError as e:
                raise SlotError(f"cannot clear the staging area: {e.strerror}",
                                path=str(self.staging / name)) from e
