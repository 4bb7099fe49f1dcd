"""The facility's certificates: a CA, device certificates by role, revocation lists,
and the check every peer certificate must pass.

Everything here is a pure function over values (keys, certificates, times):
no files, no clock. :mod:`device_security.ca_store` keeps a CA on disk.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from device_security import reasons
from device_security.errors import CertificateError

SERIAL_MAX = 64


class Role(enum.StrEnum):
    """What a certificate's holder is. It stands in the subject's OU."""

    KIOSK = "kiosk"
    TABLET = "tablet"
    STAFF_WORKSTATION = "staff-workstation"
    CENTRAL_SERVER = "central-server"


# Tablets answer (the TLS server side); kiosks and workstations connect.
_USAGE = {
    Role.TABLET: ExtendedKeyUsageOID.SERVER_AUTH,
    Role.KIOSK: ExtendedKeyUsageOID.CLIENT_AUTH,
    Role.STAFF_WORKSTATION: ExtendedKeyUsageOID.CLIENT_AUTH,
    Role.CENTRAL_SERVER: ExtendedKeyUsageOID.SERVER_AUTH,
}


@dataclass(frozen=True)
class PeerIdentity:
    """Who a verified certificate says its holder is."""

    role: Role
    name: str
    facility: str
    serial: str | None  # the tablet's serial number; None for other roles
    certificate_serial: int
    fingerprint: str  # SHA-256 of the DER certificate, hex
    not_after: datetime.datetime


@dataclass(frozen=True)
class TrustAnchors:
    """The facility CA, and the revocation list the kiosk holds (if any)."""

    ca: x509.Certificate
    crl: x509.CertificateRevocationList | None = None

    def __post_init__(self) -> None:
        if self.crl is not None and not self.crl.is_signature_valid(_ca_public_key(self.ca)):
            raise CertificateError(reasons.CERTIFICATE_MALFORMED,
                                   "the revocation list is not signed by the facility CA")


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _ca_public_key(ca: x509.Certificate) -> Ed25519PublicKey:
    key = ca.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateError(reasons.CERTIFICATE_MALFORMED, "the CA key is not Ed25519")
    return key


def make_ca(key: Ed25519PrivateKey, facility: str, *, now: datetime.datetime,
            days: int = 3650, serial_number: int = 1) -> x509.Certificate:
    """A self-signed facility CA certificate."""
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, facility),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{facility} device CA"),
    ])
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(serial_number)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, algorithm=None)
    )


def issue(ca: x509.Certificate, ca_key: Ed25519PrivateKey, subject_key: Ed25519PublicKey, *,
          role: Role, name: str, serial: str | None = None, now: datetime.datetime,
          days: int = 825, serial_number: int,
          hosts: Sequence[str] = ()) -> x509.Certificate:
    """A certificate for a kiosk, tablet, staff workstation or the central server.

    A tablet's certificate carries its serial number in the subject; the
    central server's names the ``hosts`` (DNS names or IP addresses) it
    answers on. Raises ValueError if a tablet has no serial or another role
    has one, or if the central server has no host.
    """
    if (role is Role.CENTRAL_SERVER) != bool(hosts):
        raise ValueError("the central server's certificate needs its host names, "
                         "and only the central server's")
    if (role is Role.TABLET) != (serial is not None):
        raise ValueError("a tablet certificate needs a serial number, and only a tablet's")
    if serial is not None and not (0 < len(serial) <= SERIAL_MAX and serial.isprintable()):
        raise ValueError(f"serial number {serial!r} is not printable or too long")
    facility = ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    attributes = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(facility)),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value),
        x509.NameAttribute(NameOID.COMMON_NAME, name),
    ]
    if serial is not None:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    builder = x509.CertificateBuilder()
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [_host_name(h) for h in hosts]), critical=False)
    return (
        builder
        .subject_name(x509.Name(attributes))
        .issuer_name(ca.subject)
        .public_key(subject_key)
        .serial_number(serial_number)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([_USAGE[role]]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            _ca_public_key(ca)), critical=False)
        .sign(ca_key, algorithm=None)
    )


def _host_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def make_crl(ca: x509.Certificate, ca_key: Ed25519PrivateKey,
             revoked: Iterable[tuple[int, datetime.datetime]], *, now: datetime.datetime,
             next_update_days: int = 7, number: int = 1) -> x509.CertificateRevocationList:
    """A revocation list naming certificates by serial number (with when revoked).
    ``number`` (its CRL number) rises with every list the CA publishes: a device
    holding one never goes back to a lower one."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now)
        .next_update(now + datetime.timedelta(days=next_update_days))
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for serial_number, when in sorted(revoked):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial_number)
            .revocation_date(when).build())
    return builder.sign(ca_key, algorithm=None)


def _text(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if len(values) > 1:
        raise CertificateError(reasons.CERTIFICATE_MALFORMED, f"more than one {oid._name}")
    return str(values[0].value) if values else None


def check_certificate(cert: x509.Certificate, trust: TrustAnchors, *, now: datetime.datetime,
                      expected_roles: Iterable[Role],
                      usb_serial: str | None = None) -> PeerIdentity:
    """Verify a peer's certificate and say who it names.

    Checks, in order: issued and signed by the facility CA; within its
    validity period; not revoked; a role that is expected here; for a
    tablet, a serial number equal to ``usb_serial`` when that is given.
    Raises CertificateError with the reason code of the first failure.
    """
    if cert.issuer != trust.ca.subject:
        raise CertificateError(reasons.CERTIFICATE_UNTRUSTED,
                               f"issued by {cert.issuer.rfc4514_string()}, not this facility")
    try:
        _ca_public_key(trust.ca).verify(cert.signature, cert.tbs_certificate_bytes)
    except InvalidSignature as e:
        raise CertificateError(reasons.CERTIFICATE_UNTRUSTED,
                               "not signed by the facility CA") from e
    if now < cert.not_valid_before_utc:
        raise CertificateError(reasons.CERTIFICATE_NOT_YET_VALID,
                               f"valid only from {cert.not_valid_before_utc:%Y-%m-%d %H:%M}")
    if now > cert.not_valid_after_utc:
        raise CertificateError(reasons.CERTIFICATE_EXPIRED,
                               f"expired {cert.not_valid_after_utc:%Y-%m-%d %H:%M}")
    if trust.crl is not None and \
            trust.crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
        raise CertificateError(reasons.CERTIFICATE_REVOKED,
                               f"certificate {cert.serial_number} is revoked")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as e:
        raise CertificateError(reasons.CERTIFICATE_MALFORMED, "no basic constraints") from e
    if constraints.ca:
        raise CertificateError(reasons.WRONG_ROLE, "a CA certificate is not a device")
    role_text = _text(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    try:
        role = Role(role_text or "")
    except ValueError as e:
        raise CertificateError(reasons.WRONG_ROLE, f"unknown role {role_text!r}") from e
    allowed = set(expected_roles)
    if role not in allowed:
        raise CertificateError(reasons.WRONG_ROLE, f"a {role} certificate where "
                               f"{' or '.join(sorted(allowed))} was expected")
    serial = _text(cert.subject, NameOID.SERIAL_NUMBER)
    if role is Role.TABLET:
        if not serial:
            raise CertificateError(reasons.CERTIFICATE_MALFORMED, "a tablet with no serial")
        if usb_serial is not None and usb_serial != serial:
            raise CertificateError(reasons.USB_SERIAL_MISMATCH,
                                   f"certificate serial {serial!r}, USB serial {usb_serial!r}")
    return PeerIdentity(
        role=role,
        name=_text(cert.subject, NameOID.COMMON_NAME) or "",
        facility=_text(cert.subject, NameOID.ORGANIZATION_NAME) or "",
        serial=serial if role is Role.TABLET else None,
        certificate_serial=cert.serial_number,
        fingerprint=fingerprint(cert),
        not_after=cert.not_valid_after_utc,
    )


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (for files readable by their owner only)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
