"""Content-addressed blob files: photos, videograms and media, named by SHA-256.

A blob is written to a temporary file in the store's directory as its bytes
arrive (:class:`Incoming`), hashed on the way and refused the moment it
passes its size limit, then flushed and renamed into place, so a file under
its hash always holds exactly the bytes that hash to it and nothing is
buffered whole in memory. Names come only from :func:`check_sha256`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from central.errors import InvalidInput, NotFound, TooLarge

log = logging.getLogger(__name__)
_SHA256 = re.compile(r"[0-9a-f]{64}")
INCOMING_PREFIX = ".incoming-"


def check_sha256(text: str) -> str:
    """Raises InvalidInput unless ``text`` is 64 lowercase hex digits."""
    if not isinstance(text, str) or not _SHA256.fullmatch(text):
        raise InvalidInput(f"not a SHA-256 in lowercase hex: {text[:80]!r}", code="bad_hash")
    return text


def _mp4(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


def _wav(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def _mp3(head: bytes) -> bool:
    return head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


# The first bytes each accepted type starts with: a file is what it says it is.
_SIGNATURES = {
    "image/jpeg": lambda h: h[:3] == b"\xff\xd8\xff",
    "image/png": lambda h: h[:8] == b"\x89PNG\r\n\x1a\n",
    "video/mp4": _mp4,
    "audio/wav": _wav,
    "audio/mpeg": _mp3,
    "audio/ogg": lambda h: h[:4] == b"OggS",
}


def check_content(media_type: str, head: bytes) -> None:
    """Raises InvalidInput unless ``head`` (the file's first bytes) starts the way
    a file of ``media_type`` does."""
    signature = _SIGNATURES.get(media_type)
    if signature is None:
        raise InvalidInput(f"files of type {media_type} are not accepted", code="bad_media_type")
    if not signature(head[:16]):
        raise InvalidInput(f"the file is not {media_type}: it does not start like one",
                           code="content_mismatch")


HEAD_BYTES = 16  # what check_content looks at


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False when the same bytes were already stored


class Incoming:
    """A blob arriving in a temporary file of the store's directory.

    :meth:`write` as bytes come (hashed, bounded), :meth:`finish` once they
    have all come, :meth:`commit` to rename the file into place. Used as a
    context manager, the temporary file is removed on the way out unless it
    was committed: a refused or failed upload leaves nothing behind."""

    def __init__(self, store: BlobStore, temp: Path, out: io.BufferedWriter, max_size: int,
                 expected_sha256: str | None) -> None:
        self.store = store
        self.temp = temp
        self._out: io.BufferedWriter | None = out
        self.max_size = max_size
        self.expected_sha256 = expected_sha256
        self.size = 0
        self.head = b""
        self.sha256: str | None = None
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Add ``chunk``. Raises TooLarge (before writing it) when it would take
        the blob past ``max_size``."""
        if self.size + len(chunk) > self.max_size:
            raise TooLarge(f"the upload is over {self.max_size} bytes", limit=self.max_size)
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(chunk[:HEAD_BYTES - len(self.head)])
        self.size += len(chunk)
        self._digest.update(chunk)
        self._file().write(chunk)

    def _file(self) -> io.BufferedWriter:
        if self._out is None:
            raise InvalidInput("this upload was already finished or discarded")
        return self._out

    def finish(self) -> str:
        """Flush the bytes to disk and return their SHA-256. Raises InvalidInput
        for an empty upload or one that does not hash to ``expected_sha256``."""
        out = self._file()
        out.flush()
        os.fsync(out.fileno())
        out.close()
        self._out = None
        if self.size == 0:
            raise InvalidInput("the upload is empty", code="empty")
        sha256 = self._digest.hexdigest()
        if self.expected_sha256 is not None and sha256 != self.expected_sha256:
            raise InvalidInput(f"the bytes hash to {sha256}, not {self.expected_sha256}",
                               code="hash_mismatch")
        self.sha256 = sha256
        return sha256

    def commit(self) -> StoredBlob:
        """Rename the finished file into place under its hash (or drop it when the
        same bytes are stored already)."""
        if self.sha256 is None:
            raise InvalidInput("an upload is finished before it is committed")
        target = self.store.path(self.sha256)
        if target.is_file():
            self.discard()
            return StoredBlob(self.sha256, self.size, created=False)
        target.parent.mkdir(exist_ok=True)
        os.replace(self.temp, target)
        self.temp = Path()
        log.info("stored blob %s (%d bytes)", self.sha256, self.size)
        return StoredBlob(self.sha256, self.size, created=True)

    def discard(self) -> None:
        """Remove the temporary file, if it is still there."""
        if self._out is not None:
            self._out.close()
            self._out = None
        if self.temp != Path():
            self.temp.unlink(missing_ok=True)
            self.temp = Path()

    def __enter__(self) -> Incoming:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.discard()


class BlobStore:
    """Blobs under ``directory/ab/abcdef...``. No I/O in the constructor."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.directory / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int:
        """Raises NotFound when the blob is not stored."""
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError as e:
            raise NotFound(f"no blob {sha256}") from e

    def read(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as e:
            raise NotFound(f"no blob {sha256}") from e

    def incoming(self, *, max_size: int, expected_sha256: str | None = None) -> Incoming:
        """A new blob to write into, in a temporary file of the store's directory."""
        if expected_sha256 is not None:
            check_sha256(expected_sha256)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=INCOMING_PREFIX)
        return Incoming(self, Path(temp), os.fdopen(fd, "wb"), max_size, expected_sha256)

    def leftovers(self) -> list[Path]:
        """Temporary files of uploads still being written (or left by a crash)."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(INCOMING_PREFIX + "*"))

    def put(self, chunks: Iterable[bytes], *, max_size: int,
            expected_sha256: str | None = None) -> StoredBlob:
        """Store a stream of bytes. Raises TooLarge past ``max_size`` and
        InvalidInput if it is empty or does not hash to ``expected_sha256``
        (nothing is kept then)."""
        with self.incoming(max_size=max_size, expected_sha256=expected_sha256) as blob:
            for chunk in chunks:
                blob.write(chunk)
            blob.finish()
            return blob.commit()
