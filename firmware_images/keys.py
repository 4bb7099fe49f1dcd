"""Signing keys for the firmware repository: Ed25519, held as PEM files by the
people who sign, used through securesystemslib's signer (python-tuf signs with
it). A key's id is the one TUF computes from its public part."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from securesystemslib.signer import CryptoSigner, SSlibKey

from firmware_images.errors import RepositoryError

MAX_KEY_FILE = 16 * 1024


def signer_of(private_key: Ed25519PrivateKey) -> CryptoSigner:
    """A TUF signer for ``private_key``."""
    return CryptoSigner(private_key)


def public_key_of(private_key: Ed25519PrivateKey) -> SSlibKey:
    return SSlibKey.from_crypto(private_key.public_key())


def tuf_key(public_key: Ed25519PublicKey) -> SSlibKey:
    """The TUF form of a public key (its keyid included)."""
    return SSlibKey.from_crypto(public_key)


def generate_key_file(path: Path) -> CryptoSigner:
    """A new Ed25519 key, written to ``path`` (mode 0600, never overwritten).
    Raises RepositoryError if ``path`` exists."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise RepositoryError("a key file is never overwritten", path=str(path)) from e
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return signer_of(key)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path``. Raises RepositoryError
    for a missing, oversized or non-Ed25519 file."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_KEY_FILE + 1)
    except OSError as e:
        raise RepositoryError(f"cannot read the key file: {e.strerror}", path=str(path)) from e
    if len(data) > MAX_KEY_FILE:
        raise RepositoryError("the key file is too large", path=str(path))
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise RepositoryError("not a PEM private key without a password",
                              path=str(path)) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise RepositoryError("firmware keys are Ed25519", path=str(path),
                              observed=type(key).__name__)
    return key


def load_signer(path: Path) -> CryptoSigner:
    return signer_of(load_private_key(path))
