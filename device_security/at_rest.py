"""At-rest encryption for a tablet's store: AES-256-GCM under a key from the secure element.

:class:`Sealer` seals values (a message body in a database row) with their
context as associated data, so a sealed value moved to another row does not
open. :class:`SealedFiles` keeps named blobs (photos, media) as files whose
names are keyed hashes and whose contents are sealed, written atomically.
:class:`SealedBlobWriter` and :class:`SealedBlobReader` keep a large blob
sealed in segments, durable after every append and read with seeks.
A copy of the storage directory shows neither names nor contents.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import io
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from base.files import write_atomic
from device_security.errors import IntegrityError

NONCE = 12
VERSION = b"\x01"
_NAME = re.compile(r"^[0-9a-f]{64}$")


class Sealer:
    """AES-256-GCM with a random nonce per value. Give it a 32-byte key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("an at-rest key is 32 bytes")
        self._aead = AESGCM(key)
        self._name_key = hashlib.sha256(b"sallyport names" + key).digest()

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        """Raises IntegrityError if the value was altered, moved, or sealed under another key."""
        if len(sealed) < 1 + NONCE + 16 or sealed[:1] != VERSION:
            raise IntegrityError("not a sealed value")
        try:
            return self._aead.decrypt(sealed[1:1 + NONCE], sealed[1 + NONCE:], context)
        except InvalidTag as e:
            raise IntegrityError("sealed value does not open (altered, moved or another key)") \
                from e

    def name(self, label: str) -> str:
        """A file name for ``label`` that does not reveal it."""
        return hmac.new(self._name_key, label.encode(), hashlib.sha256).hexdigest()


class SealedFiles:
    """Named blobs in a directory, sealed. Labels are any text; they never reach the disk."""

    def __init__(self, directory: Path, sealer: Sealer) -> None:
        self.directory = directory
        self._sealer = sealer

    def _path(self, label: str) -> Path:
        return self.directory / self._sealer.name(label)

    def write(self, label: str, data: bytes) -> None:
        """Store ``data`` under ``label`` atomically (a crash leaves old or new)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(label)
        write_atomic(path, self._sealer.seal(label.encode() + b"\0" + data,
                                             context=path.name.encode()), mode=0o600)

    def read(self, label: str) -> bytes:
        """Raises KeyError if absent, IntegrityError if it does not open."""
        path = self._path(label)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError as e:
            raise KeyError(label) from e
        stored_label, _, data = self._sealer.open(sealed, path.name.encode()).partition(b"\0")
        if stored_label != label.encode():
            raise IntegrityError(f"the file for {label!r} holds another item")
        return data

    def labels(self) -> Iterator[str]:
        """The labels of every stored blob (each file is opened to learn it)."""
        if not self.directory.exists():
            return
        for path in sorted(self.directory.iterdir()):
            if _NAME.match(path.name):
                opened = self._sealer.open(path.read_bytes(), path.name.encode())
                yield opened.partition(b"\0")[0].decode()

    def delete(self, label: str) -> None:
        self._path(label).unlink(missing_ok=True)


# -- blobs sealed in segments ----------------------------------------------------------
#
# A blob (a photo, a song, a videogram) is received a chunk at a time and must
# be durable, and resumable, after every chunk; it is played back with seeks.
# So it is sealed in segments of at most SEGMENT bytes, each on its own:
#
#     file    := MAGIC  u32 length  sealed(header)  segment*
#     header  := sha-256 (32 bytes)  u64 size
#     segment := u32 length  sealed(up to SEGMENT bytes of the blob)
#
# A segment's associated data is the file's name and the segment's offset in
# the blob, so segments cannot be reordered, or moved to another blob, and the
# header's cannot be swapped. The file's name is a keyed hash of the blob's
# hash (Sealer.name), so it tells nothing either. A segment cut short by a
# crash is the end of what is durable; a writer opened again cuts it off.

SEGMENT = 256 * 1024  # fewer AES-GCM calls than 64 KiB (each sets up its own cipher)
SEAL_OVERHEAD = 1 + NONCE + 16  # version, nonce, tag
_MAGIC = b"SPB1"
_LENGTH = struct.Struct(">I")
_HEADER = struct.Struct(">32sQ")
_OFFSET = struct.Struct(">Q")


def _segment_context(name: str, offset: int) -> bytes:
    return b"blob segment " + name.encode() + _OFFSET.pack(offset)


def _header_context(name: str) -> bytes:
    return b"blob header " + name.encode()


@dataclass(frozen=True)
class _Segment:
    offset: int  # in the blob
    at: int  # in the file: where its sealed bytes start
    sealed: int  # how many sealed bytes

    @property
    def size(self) -> int:
        return self.sealed - SEAL_OVERHEAD


@dataclass(frozen=True)
class SealedBlobLayout:
    """What a sealed blob file holds, read from its lengths (nothing decrypted
    but the header): the blob's hash and size, its whole segments, and where
    the durable part of the file ends."""

    sha: bytes
    size: int
    segments: tuple[_Segment, ...]
    end: int  # file offset after the last whole segment

    @property
    def durable(self) -> int:
        """Bytes of the blob held in whole segments."""
        last = self.segments[-1] if self.segments else None
        return last.offset + last.size if last else 0

    @property
    def complete(self) -> bool:
        return self.durable == self.size


def read_layout(fd: int, name: str, sealer: Sealer) -> SealedBlobLayout:
    """The layout of the sealed blob file open at ``fd`` and named ``name``.
    Raises IntegrityError when its header is not ours or does not open."""
    file_size = os.fstat(fd).st_size
    start = os.pread(fd, len(_MAGIC) + _LENGTH.size, 0)
    if len(start) < len(_MAGIC) + _LENGTH.size or start[:len(_MAGIC)] != _MAGIC:
        raise IntegrityError(f"{name} is not a sealed blob file")
    (length,) = _LENGTH.unpack_from(start, len(_MAGIC))
    at = len(start)
    if length != _HEADER.size + SEAL_OVERHEAD or at + length > file_size:
        raise IntegrityError(f"{name}: the header is damaged")
    header = sealer.open(os.pread(fd, length, at), _header_context(name))
    sha, size = _HEADER.unpack(header)
    at += length
    segments: list[_Segment] = []
    offset = 0
    while offset < size and at + _LENGTH.size <= file_size:
        (length,) = _LENGTH.unpack(os.pread(fd, _LENGTH.size, at))
        if not SEAL_OVERHEAD < length <= SEGMENT + SEAL_OVERHEAD \
                or at + _LENGTH.size + length > file_size \
                or offset + length - SEAL_OVERHEAD > size:
            break  # cut short by a crash (or damaged): the durable part ends here
        segment = _Segment(offset, at + _LENGTH.size, length)
        segments.append(segment)
        offset += segment.size
        at = segment.at + length
    return SealedBlobLayout(sha, size, tuple(segments), at)


class SealedBlobWriter:
    """Appends to a sealed blob file; every :meth:`append` is durable when it
    returns. :meth:`create` starts a file; :meth:`resume` opens one again
    after what it durably holds. Not thread-safe."""

    def __init__(self, fd: int, name: str, sealer: Sealer, layout: SealedBlobLayout) -> None:
        self._fd = fd
        self.name = name
        self._sealer = sealer
        self.sha = layout.sha
        self.size = layout.size
        self.position = layout.durable
        self._end = layout.end

    @classmethod
    def create(cls, path: Path, sealer: Sealer, sha: bytes, size: int) -> SealedBlobWriter:
        """A new file at ``path`` (replacing any), its header durable."""
        header = sealer.seal(_HEADER.pack(sha, size), _header_context(path.name))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            start = _MAGIC + _LENGTH.pack(len(header)) + header
            _pwrite_all(fd, start, 0)
            os.fdatasync(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, path.name, sealer, SealedBlobLayout(sha, size, (), len(start)))

    @classmethod
    def resume(cls, path: Path, sealer: Sealer) -> tuple[SealedBlobWriter, Iterator[bytes]]:
        """Open ``path`` again after its last whole segment (a torn one is cut
        off). Returns the writer and the blob's durable bytes, segment by
        segment, for the caller to hash. Raises IntegrityError, FileNotFoundError."""
        fd = os.open(path, os.O_RDWR)
        try:
            layout = read_layout(fd, path.name, sealer)
            if os.fstat(fd).st_size != layout.end:
                os.truncate(fd, layout.end)
                os.fdatasync(fd)
        except BaseException:
            os.close(fd)
            raise
        writer = cls(fd, path.name, sealer, layout)
        return writer, (_open_segment(fd, path.name, sealer, s) for s in layout.segments)

    def append(self, data: bytes | memoryview) -> int:
        """Seal ``data`` after what the file holds and make it durable; returns
        the bytes of the blob now durable. Raises ValueError past the blob's size."""
        if self.position + len(data) > self.size:
            raise ValueError(f"{len(data)} bytes at {self.position} pass the blob's "
                             f"{self.size} bytes")
        view = memoryview(data)
        pieces: list[bytes] = []
        offset = self.position
        for start in range(0, len(view), SEGMENT):
            piece = view[start:start + SEGMENT]
            sealed = self._sealer.seal(bytes(piece), _segment_context(self.name, offset))
            pieces += (_LENGTH.pack(len(sealed)), sealed)
            offset += len(piece)
        out = b"".join(pieces)
        _pwrite_all(self._fd, out, self._end)
        os.fdatasync(self._fd)
        self._end += len(out)
        self.position = offset
        return offset

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class SealedBlobReader(io.RawIOBase):
    """A complete sealed blob, read and seeked like a file; each segment is
    opened (and checked) as it is read. Raises IntegrityError on bytes that
    were altered, moved or cut short."""

    def __init__(self, path: Path, sealer: Sealer, sha: bytes) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY)
        try:
            layout = read_layout(self._fd, path.name, sealer)
        except BaseException:
            os.close(self._fd)
            raise
        if layout.sha != sha or not layout.complete:
            os.close(self._fd)
            raise IntegrityError(f"{path.name} does not hold the whole of blob {sha.hex()[:12]}")
        self._name = path.name
        self._sealer = sealer
        self._segments = layout.segments
        self._starts = [s.offset for s in layout.segments]
        self.size = layout.size
        self._position = 0
        self._cached: tuple[int, bytes] = (-1, b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("a seek before the start of the blob")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self.size:
            return 0
        index = bisect.bisect_right(self._starts, self._position) - 1
        segment = self._segments[index]
        if self._cached[0] != index:
            self._cached = (index, _open_segment(self._fd, self._name, self._sealer, segment))
        data = self._cached[1]
        start = self._position - segment.offset
        with memoryview(buffer) as out:
            n = min(len(out), len(data) - start)
            out[:n] = data[start:start + n]
        self._position += n
        return n

    def close(self) -> None:
        if not self.closed and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        super().close()


def _open_segment(fd: int, name: str, sealer: Sealer, segment: _Segment) -> bytes:
    sealed = os.pread(fd, segment.sealed, segment.at)
    if len(sealed) != segment.sealed:
        raise IntegrityError(f"{name}: a segment at {segment.offset} is cut short")
    return sealer.open(sealed, _segment_context(name, segment.offset))


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
