"""Content-addressed blob files: photos, videograms and media, named by SHA-256.

A blob is written to a temporary file, hashed as it streams in, flushed
and renamed into place, so a file under its hash always holds exactly the
bytes that hash to it. Names come only from :func:`check_sha256`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from central.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)
_SHA256 = re.compile(r"[0-9a-f]{64}")


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


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool  # False when the same bytes were already stored


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

    def put(self, chunks: Iterable[bytes], *, max_size: int,
            expected_sha256: str | None = None) -> StoredBlob:
        """Store a stream of bytes. Raises InvalidInput if it is empty, longer than
        ``max_size``, or does not hash to ``expected_sha256`` (nothing is kept then)."""
        if expected_sha256 is not None:
            check_sha256(expected_sha256)
        self.directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_size:
                        raise InvalidInput(f"the upload is over {max_size} bytes",
                                           code="too_large")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size == 0:
                raise InvalidInput("the upload is empty", code="empty")
            sha256 = digest.hexdigest()
            if expected_sha256 is not None and sha256 != expected_sha256:
                raise InvalidInput(f"the bytes hash to {sha256}, not {expected_sha256}",
                                   code="hash_mismatch")
            target = self.path(sha256)
            if target.is_file():
                return StoredBlob(sha256, size, created=False)
            target.parent.mkdir(exist_ok=True)
            os.replace(temp, target)
            temp = ""
            log.info("stored blob %s (%d bytes)", sha256, size)
            return StoredBlob(sha256, size, created=True)
        finally:
            if temp:
                os.unlink(temp)
