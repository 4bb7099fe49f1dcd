"""The kiosk cache's files (photos, videograms, media), sealed at rest as the
tablet's are: each in segments of 64 KiB under the cache's key
(device_security.at_rest), read back with seeks, never whole on disk in
plaintext.

::

    blobs/<sha>           complete blobs (their bytes hash to their name)
    blobs/partial/<sha>   a download in progress, durable up to its last whole segment

A download (:class:`BlobDownload`) is what the central client writes into: it
resumes after the segments a crash left, hashes what it holds, and is moved
into place only when the bytes hash to the name. The file keeps its name from
``partial/`` to its place, because each segment is sealed with it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

from device_security.at_rest import SealedBlobReader, SealedBlobWriter, Sealer, read_layout
from device_security.errors import IntegrityError

log = logging.getLogger(__name__)

FLUSH = 1024 * 1024  # bytes of a download held in memory before they are sealed and synced
READ_BUFFER = 1024 * 1024  # what a reader opens at a time (the sync session's chunk)
_HEX = frozenset("0123456789abcdef")


def check_name(sha256: str) -> str:
    """``sha256`` if it is a blob's name (64 lowercase hex digits); raises ValueError."""
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise ValueError(f"not a blob name: {sha256[:80]!r}")
    return sha256


class BlobFiles:
    """The sealed files of one cache, under ``directory``. The constructor does no I/O."""

    def __init__(self, directory: Path, sealer: Sealer) -> None:
        self.directory = directory
        self.partial_dir = directory / "partial"
        self._sealer = sealer

    def make_directories(self) -> None:
        self.partial_dir.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.directory / check_name(sha256)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def open(self, sha256: str) -> io.BufferedReader:
        """A complete blob, to read and seek like a file; each segment is opened
        (and checked) as it is read. Raises FileNotFoundError, IntegrityError."""
        raw = SealedBlobReader(self.path(sha256), self._sealer, bytes.fromhex(sha256))
        return io.BufferedReader(raw, buffer_size=READ_BUFFER)

    def read(self, sha256: str) -> bytes:
        """A complete blob's bytes, in memory (a photo, a videogram)."""
        with self.open(sha256) as reader:
            return reader.read()

    def write(self, sha256: str, data: bytes) -> None:
        """Keep a complete blob whose bytes are at hand. Raises ValueError when
        they do not hash to ``sha256``."""
        if hashlib.sha256(data).hexdigest() != check_name(sha256):
            raise ValueError(f"these bytes are not blob {sha256[:12]}")
        download = self.download(sha256, len(data))
        try:
            download.restart()
            download.write(data)
            download.commit()
        finally:
            download.close()

    def download(self, sha256: str, size: int) -> BlobDownload:
        """A download of blob ``sha256`` of ``size`` bytes, resumed after what a
        former one made durable (a damaged partial file starts again)."""
        self.make_directories()
        return BlobDownload(self, check_name(sha256), size, self._sealer)

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)
        (self.partial_dir / sha256).unlink(missing_ok=True)


class BlobDownload:
    """One blob being written: ``position`` bytes held so far (durable up to
    the last flush, the rest in memory). Not thread-safe; one per blob."""

    def __init__(self, files: BlobFiles, sha256: str, size: int, sealer: Sealer) -> None:
        self.sha256 = sha256
        self.size = size
        self._files = files
        self._sealer = sealer
        self._path = files.partial_dir / sha256
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._writer: SealedBlobWriter | None = None
        self.durable = 0
        self._resume()

    @property
    def position(self) -> int:
        return self.durable + len(self._buffer)

    def _resume(self) -> None:
        if not self._path.exists():
            return
        try:
            writer, held = SealedBlobWriter.resume(self._path, self._sealer)
        except (IntegrityError, OSError) as e:
            log.warning("the partial download of %s does not open (%s); it starts again",
                        self.sha256[:12], e)
            self._path.unlink(missing_ok=True)
            return
        if writer.sha.hex() != self.sha256 or writer.size != self.size:
            writer.close()
            self._path.unlink(missing_ok=True)
            return
        for segment in held:
            self._hash.update(segment)
        self._writer = writer
        self.durable = writer.position

    def restart(self) -> None:
        """Start again from byte 0 (the server sent the whole blob)."""
        self.close()
        self._path.unlink(missing_ok=True)
        self._hash = hashlib.sha256()
        self._buffer.clear()
        self.durable = 0

    def write(self, data: bytes) -> None:
        """Append ``data`` (sealed and synced a megabyte at a time). Raises
        ValueError past the blob's size."""
        if self.position + len(data) > self.size:
            raise ValueError(f"blob {self.sha256[:12]} is longer than {self.size} bytes")
        self._hash.update(data)
        self._buffer += data
        if len(self._buffer) >= FLUSH:
            self.flush()

    def flush(self) -> None:
        """Make what is held durable."""
        if self._writer is None:  # nothing durable yet: the file starts here
            self._writer = SealedBlobWriter.create(self._path, self._sealer,
                                                   bytes.fromhex(self.sha256), self.size)
        if self._buffer:
            self.durable = self._writer.append(bytes(self._buffer))
            self._buffer.clear()

    def hexdigest(self) -> str:
        """The SHA-256 of the bytes held."""
        return self._hash.hexdigest()

    def commit(self) -> None:
        """The bytes are all here and hash to the name: durable, in place.
        Raises ValueError (the partial file is removed) when they do not."""
        if self.position != self.size or self.hexdigest() != self.sha256:
            self.discard()
            raise ValueError(f"blob {self.sha256[:12]}: {self.position} bytes of {self.size} "
                             f"that hash to {self.hexdigest()[:12]}")
        self.flush()
        self.close()
        target = self._files.directory / self.sha256
        os.replace(self._path, target)
        _sync_directory(target.parent)

    def discard(self) -> None:
        """Forget what was written (the bytes were not the blob's)."""
        self.close()
        self._buffer.clear()
        self._path.unlink(missing_ok=True)
        self._hash = hashlib.sha256()
        self.durable = 0

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def is_sealed(path: Path, name: str, sealer: Sealer) -> bool:
    """Whether the file at ``path`` is a blob sealed under ``sealer``."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        read_layout(fd, name, sealer)
        return True
    except IntegrityError:
        return False
    finally:
        os.close(fd)


def _sync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
