"""The simulated tablet's secure element: an Ed25519 device key in a file.

On a real tablet the key never leaves the secure element; here it lives in
a file readable only by its owner, and the interface is what a secure
element offers: make a key once, show the public half, sign.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from simulators.errors import SimError


class KeyFileSecureElement:
    """An Ed25519 key held in ``path`` (PKCS#8 PEM, mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def generate(self) -> None:
        """Make the device key; raises SimError if one exists already."""
        if self.path.exists():
            raise SimError(f"{self.path} already holds a device key")
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _key(self) -> Ed25519PrivateKey:
        try:
            key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        except (OSError, ValueError) as e:
            raise SimError(f"cannot load the device key from {self.path}: {e}") from e
        if not isinstance(key, Ed25519PrivateKey):
            raise SimError(f"{self.path} does not hold an Ed25519 key")
        return key

    def public_key(self) -> Ed25519PublicKey:
        return self._key().public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key().sign(data)
