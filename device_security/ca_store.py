"""A facility CA kept in a directory, and the identity files a device holds.

CA directory::

    ca-key.pem      the CA's Ed25519 key (mode 0600; keep this machine offline)
    ca-cert.pem     the CA certificate every device trusts
    issued.json     every certificate issued: serial number, role, name, fingerprint
    revoked.json    revoked certificate serial numbers, with when
    crl.pem         the latest revocation list (what the central server publishes)

A device's identity directory::

    certificate.pem its certificate (its key stays in its secure element)
    ca.pem          the facility CA it trusts
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from base.files import write_atomic
from device_security.errors import SecurityError
from device_security.pki import (
    Role,
    TrustAnchors,
    fingerprint,
    issue,
    make_ca,
    make_crl,
    private_key_pem,
)
from device_security.revocation import crl_number


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class CertificateAuthority:
    """The facility CA in ``directory``. Construct with :meth:`create` or :meth:`open`."""

    def __init__(self, directory: Path, key: Ed25519PrivateKey, cert: x509.Certificate) -> None:
        self.directory = directory
        self.key = key
        self.certificate = cert

    @classmethod
    def create(cls, directory: Path, facility: str, *,
               now: datetime.datetime) -> CertificateAuthority:
        """Make a new CA; raises SecurityError if the directory holds one."""
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / "ca-key.pem").exists():
            raise SecurityError(f"{directory} already holds a CA")
        key = Ed25519PrivateKey.generate()
        cert = make_ca(key, facility, now=now, serial_number=x509.random_serial_number())
        write_atomic(directory / "ca-key.pem", private_key_pem(key), mode=0o600)
        write_atomic(directory / "ca-cert.pem", pem(cert))
        write_atomic(directory / "issued.json", b"[]")
        write_atomic(directory / "revoked.json", b"[]")
        ca = cls(directory, key, cert)
        ca.publish_crl(now=now)
        return ca

    @classmethod
    def open(cls, directory: Path) -> CertificateAuthority:
        try:
            key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(),
                                                     password=None)
            cert = x509.load_pem_x509_certificate((directory / "ca-cert.pem").read_bytes())
        except (OSError, ValueError) as e:
            raise SecurityError(f"no usable CA in {directory}: {e}") from e
        if not isinstance(key, Ed25519PrivateKey):
            raise SecurityError(f"the CA key in {directory} is not Ed25519")
        return cls(directory, key, cert)

    def _load(self, name: str) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = json.loads((self.directory / name).read_text())
        return data

    def issue(self, public_key: Ed25519PublicKey, *, role: Role, name: str,
              serial: str | None = None, now: datetime.datetime,
              days: int = 825, hosts: Sequence[str] = ()) -> x509.Certificate:
        """Issue a certificate and record it in issued.json."""
        cert = issue(self.certificate, self.key, public_key, role=role, name=name, serial=serial,
                     now=now, days=days, serial_number=x509.random_serial_number(),
                     hosts=hosts)
        issued = self._load("issued.json")
        issued.append({"certificate_serial": cert.serial_number, "role": role.value,
                       "name": name, "serial": serial, "fingerprint": fingerprint(cert),
                       "issued_at": now.isoformat()})
        write_atomic(self.directory / "issued.json", json.dumps(issued, indent=2).encode())
        return cert

    def issued(self) -> list[dict[str, Any]]:
        return self._load("issued.json")

    def revoke(self, certificate_serial: int, *,
               now: datetime.datetime) -> x509.CertificateRevocationList:
        """Revoke a certificate by its serial number and publish a new revocation list.

        Raises SecurityError if this CA never issued it."""
        if not any(i["certificate_serial"] == certificate_serial for i in self.issued()):
            raise SecurityError(f"this CA issued no certificate {certificate_serial}")
        revoked = self._load("revoked.json")
        if not any(r["certificate_serial"] == certificate_serial for r in revoked):
            revoked.append({"certificate_serial": certificate_serial,
                            "revoked_at": now.isoformat()})
            write_atomic(self.directory / "revoked.json", json.dumps(revoked, indent=2).encode())
        return self.publish_crl(now=now)

    def publish_crl(self, *, now: datetime.datetime,
                    next_update_days: int = 7) -> x509.CertificateRevocationList:
        """Sign a new revocation list, numbered one above the last one published
        (devices only ever move to a higher number), valid for ``next_update_days``."""
        revoked = [(r["certificate_serial"], datetime.datetime.fromisoformat(r["revoked_at"]))
                   for r in self._load("revoked.json")]
        last = self.directory / "crl.pem"
        number = crl_number(x509.load_pem_x509_crl(last.read_bytes())) + 1 \
            if last.exists() else 1
        crl = make_crl(self.certificate, self.key, revoked, now=now,
                       next_update_days=next_update_days, number=number)
        write_atomic(self.directory / "crl.pem", crl.public_bytes(serialization.Encoding.PEM))
        return crl

    def trust(self) -> TrustAnchors:
        crl = x509.load_pem_x509_crl((self.directory / "crl.pem").read_bytes())
        return TrustAnchors(self.certificate, crl)


@dataclass(frozen=True)
class IdentityFiles:
    """A device's identity directory (see the module docstring)."""

    directory: Path

    @property
    def certificate_path(self) -> Path:
        return self.directory / "certificate.pem"

    @property
    def ca_path(self) -> Path:
        return self.directory / "ca.pem"

    def exists(self) -> bool:
        return self.certificate_path.exists() and self.ca_path.exists()

    def install(self, certificate: x509.Certificate, ca: x509.Certificate) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.certificate_path, pem(certificate))
        write_atomic(self.ca_path, pem(ca))

    def certificate(self) -> x509.Certificate:
        return self._load(self.certificate_path)

    def ca(self) -> x509.Certificate:
        return self._load(self.ca_path)

    def _load(self, path: Path) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except (OSError, ValueError) as e:
            raise SecurityError(f"cannot read {path}: {e}") from e
