"""At-rest encryption for a tablet's store: AES-256-GCM under a key from the secure element.

:class:`Sealer` seals values (a message body in a database row) with their
context as associated data, so a sealed value moved to another row does not
open. :class:`SealedFiles` keeps named blobs (photos, media) as files whose
names are keyed hashes and whose contents are sealed, written atomically.
A copy of the storage directory shows neither names nor contents.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from device_security.errors import IntegrityError
from device_security.files import write_atomic

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
