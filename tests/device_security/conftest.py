"""A facility to test with: a CA, and certificates for any role, made fresh per test."""

from __future__ import annotations

import datetime
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.channel import Credentials
from device_security.pki import Role, TrustAnchors, issue, make_ca, make_crl, private_key_pem

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


@dataclass
class Issued:
    credentials: Credentials
    certificate: x509.Certificate
    key: Ed25519PrivateKey


@dataclass
class Facility:
    directory: Path
    name: str = "Facility A"
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    ca: x509.Certificate = field(init=False)
    _serial: int = 100

    def __post_init__(self) -> None:
        self.ca = make_ca(self.key, self.name, now=NOW - datetime.timedelta(days=30))

    def issue(self, role: Role, name: str, serial: str | None = None, *,
              not_before: datetime.datetime | None = None, days: int = 365,
              key: Ed25519PrivateKey | None = None) -> Issued:
        self._serial += 1
        key = key or Ed25519PrivateKey.generate()
        cert = issue(self.ca, self.key, key.public_key(), role=role, name=name, serial=serial,
                     now=not_before or NOW - datetime.timedelta(days=1), days=days,
                     serial_number=self._serial)
        return Issued(write_credentials(self.directory / f"cred-{self._serial}", cert, key),
                      cert, key)

    def self_signed(self, role: Role, name: str, serial: str | None = None) -> Issued:
        """A certificate that looks right but was signed by its own key."""
        key = Ed25519PrivateKey.generate()
        fake_ca = make_ca(key, self.name, now=NOW - datetime.timedelta(days=1))
        cert = issue(fake_ca, key, key.public_key(), role=role, name=name, serial=serial,
                     now=NOW - datetime.timedelta(days=1), serial_number=7)
        return Issued(write_credentials(self.directory / "self-signed", cert, key), cert, key)

    def trust(self, revoked: tuple[int, ...] = ()) -> TrustAnchors:
        return TrustAnchors(self.ca, make_crl(self.ca, self.key, [(s, NOW) for s in revoked],
                                              now=NOW - datetime.timedelta(hours=1)))


def write_credentials(directory: Path, cert: x509.Certificate,
                      key: Ed25519PrivateKey) -> Credentials:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(private_key_pem(key))
    return Credentials(directory / "cert.pem", directory / "key.pem")


@pytest.fixture
def facility(tmp_path: Path) -> Facility:
    return Facility(tmp_path / "facility-a")


@pytest.fixture
def other_facility(tmp_path: Path) -> Facility:
    return Facility(tmp_path / "facility-b", name="Facility B")


class MemoryStream:
    """One end of an in-memory byte pipe, with what it wrote kept for replays."""

    def __init__(self, inbox: queue.SimpleQueue[bytes], outbox: queue.SimpleQueue[bytes]) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._pending = b""
        self.written: list[bytes] = []
        self.closed = threading.Event()

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if not self._pending:
            try:
                self._pending = self._inbox.get(timeout=max(timeout, 0.0))
            except queue.Empty:
                raise TimeoutError("nothing received") from None
        data, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        return data

    def write(self, data: bytes, timeout: float) -> None:
        self.written.append(bytes(data))
        self._outbox.put(bytes(data))

    def close(self) -> None:
        self.closed.set()


def stream_pair() -> tuple[MemoryStream, MemoryStream]:
    a: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    b: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    return MemoryStream(a, b), MemoryStream(b, a)


def background(fn: Any, *args: Any, **kwargs: Any) -> Future[Any]:
    """Run fn on its own thread; the future holds its result or its error."""
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the test
            future.set_exception(e)

    threading.Thread(target=run, daemon=True).start()
    return future
