"""A device's secure element: its Ed25519 device key, and the keys derived from it.

:class:`SecureElement` is what the rest of the system may ask of one: make
the key once, show its public half, sign, and derive a storage key. On a
real tablet the key never leaves the chip. :class:`KeyFileSecureElement`
keeps it in a file readable only by its owner; the simulated tablets use it,
and so does a kiosk or workstation without a hardware key store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from base.files import write_atomic
from device_security.errors import SecureElementError
from device_security.pki import private_key_pem


class SecureElement(Protocol):
    def public_key(self) -> Ed25519PublicKey: ...

    def sign(self, data: bytes) -> bytes: ...

    def derive_key(self, purpose: bytes) -> bytes: ...


class KeyFileSecureElement:
    """An Ed25519 key held in ``path`` (PKCS#8 PEM, mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def generate(self) -> None:
        """Make the device key; raises SecureElementError if one exists already."""
        if self.path.exists():
            raise SecureElementError(f"{self.path} already holds a device key")
        write_atomic(self.path, private_key_pem(Ed25519PrivateKey.generate()), mode=0o600)

    def _key(self) -> Ed25519PrivateKey:
        try:
            key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        except (OSError, ValueError) as e:
            raise SecureElementError(f"cannot load the device key from {self.path}: {e}") from e
        if not isinstance(key, Ed25519PrivateKey):
            raise SecureElementError(f"{self.path} does not hold an Ed25519 key")
        return key

    def private_key(self) -> Ed25519PrivateKey:
        """The key itself, for the TLS stack of a device without a hardware store."""
        return self._key()

    def public_key(self) -> Ed25519PublicKey:
        return self._key().public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key().sign(data)

    def derive_key(self, purpose: bytes) -> bytes:
        """A 256-bit key for ``purpose`` (say, b"storage"): :func:`derive_key`
        of the device key."""
        return derive_key(self._key(), purpose)


def derive_key(device_key: Ed25519PrivateKey, purpose: bytes) -> bytes:
    """A 256-bit key for ``purpose``, derived with HKDF-SHA256 from the device
    key; the same device and purpose always give the same key."""
    if not purpose:
        raise ValueError("a derived key needs a purpose")
    secret = device_key.private_bytes(serialization.Encoding.Raw,
                                      serialization.PrivateFormat.Raw,
                                      serialization.NoEncryption())
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"sallyport secure element",
                info=purpose).derive(secret)
