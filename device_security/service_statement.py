"""What a kiosk says of its own service to a docked tablet, signed with the
kiosk's device key: "I am the kiosk of unit U, and I am in service (or out of
service since T)". A tablet pauses its lock timer only on such a statement,
verified against the kiosk certificate it has just authenticated, made for
this tablet at this dock (its serial and the counter of its hello, so a
statement cannot be replayed later or to another tablet), and naming the
tablet's own unit (docs/security.md, "Out of service"). Pure functions; no I/O.

What is signed is canonical CBOR of ``["sallyport-kiosk-service/1", fields]``;
the domain tag keeps the signature from meaning anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from device_security.errors import StatementRefused

DOMAIN = "sallyport-kiosk-service/1"
SIGNATURE_SIZE = 64


@dataclass(frozen=True)
class ServiceStatement:
    """A kiosk's word on its service, to one tablet at one dock."""

    unit: str  # the unit whose kiosk says this
    serial: str  # the tablet it is said to
    counter: int  # the sync counter of that tablet's hello at this dock
    out_of_service_since: int | None  # seconds since the epoch; None: in service

    def signed_bytes(self) -> bytes:
        return cbor2.dumps([DOMAIN, asdict(self)], canonical=True)


def sign_statement(statement: ServiceStatement, sign: Callable[[bytes], bytes]) -> bytes:
    """The kiosk's signature (``sign``: its device key's) over ``statement``."""
    return sign(statement.signed_bytes())


def verify_statement(statement: ServiceStatement, signature: bytes | None,
                     kiosk_key: object) -> None:
    """Check that the holder of ``kiosk_key`` (the key of the kiosk certificate
    the tablet authenticated) signed ``statement``. Raises StatementRefused
    for a missing or malformed signature, a key that is not Ed25519, or a
    signature that does not verify; returns None when it does."""
    if signature is None:
        raise StatementRefused("the kiosk's service statement is not signed")
    if len(signature) != SIGNATURE_SIZE:
        raise StatementRefused(f"a signature is {SIGNATURE_SIZE} bytes, not {len(signature)}")
    if not isinstance(kiosk_key, Ed25519PublicKey):
        raise StatementRefused("the kiosk's certificate holds no Ed25519 key")
    try:
        kiosk_key.verify(signature, statement.signed_bytes())
    except InvalidSignature as e:
        raise StatementRefused("the service statement is not signed by this kiosk "
                               "(forged, or made for another tablet or dock)") from e
