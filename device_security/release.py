"""Release tokens: signed by the agency, naming one tablet's serial, usable once.

A released resident's tablet leaves the facility's control for good when it
is shown a valid token. The token is CBOR ``[payload, signature]``; the
payload is a CBOR map ``{"v": 1, "serial", "token_id", "issued_at",
"expires_at", "agency"}`` (times as Unix seconds), signed with the agency's
Ed25519 release key. Text form: URL-safe base64.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import secrets
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from device_security import reasons
from device_security.errors import TokenError

MAX_TOKEN_BYTES = 1024


@dataclass(frozen=True)
class ReleaseToken:
    serial: str
    token_id: str
    agency: str
    issued_at: datetime.datetime
    expires_at: datetime.datetime


def make_release_token(key: Ed25519PrivateKey, *, serial: str, agency: str,
                       now: datetime.datetime, valid_days: int = 30,
                       token_id: str | None = None) -> bytes:
    payload = cbor2.dumps({
        "v": 1, "serial": serial, "token_id": token_id or secrets.token_hex(16),
        "agency": agency, "issued_at": int(now.timestamp()),
        "expires_at": int((now + datetime.timedelta(days=valid_days)).timestamp()),
    })
    return cbor2.dumps([payload, key.sign(payload)])


def token_text(token: bytes) -> str:
    return base64.urlsafe_b64encode(token).decode()


def token_from_text(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError) as e:
        raise TokenError(reasons.TOKEN_MALFORMED, "not a release token") from e


def _field(payload: dict[str, Any], name: str, kind: type) -> Any:
    value = payload.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TokenError(reasons.TOKEN_MALFORMED, f"{name} missing or of the wrong type")
    return value


def verify_release_token(token: bytes, agency_key: Ed25519PublicKey, *, serial: str,
                         now: datetime.datetime, used: Container[str]) -> ReleaseToken:
    """Check a token for this tablet. Order: form, signature, serial, expiry, reuse.

    Raises TokenError with the reason code of the first failure.
    """
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError(reasons.TOKEN_MALFORMED, f"longer than {MAX_TOKEN_BYTES} bytes")
    try:
        outer = cbor2.loads(token)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as e:
        raise TokenError(reasons.TOKEN_MALFORMED, "not CBOR") from e
    if not (isinstance(outer, list) and len(outer) == 2
            and all(isinstance(p, bytes) for p in outer)):
        raise TokenError(reasons.TOKEN_MALFORMED, "not [payload, signature]")
    payload_bytes, signature = outer
    try:
        agency_key.verify(signature, payload_bytes)
    except InvalidSignature as e:
        raise TokenError(reasons.TOKEN_BAD_SIGNATURE, "not signed by the agency") from e
    try:
        payload = cbor2.loads(payload_bytes)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as e:
        raise TokenError(reasons.TOKEN_MALFORMED, "payload is not CBOR") from e
    if not isinstance(payload, dict) or payload.get("v") != 1:
        raise TokenError(reasons.TOKEN_MALFORMED, "unknown token version")
    parsed = ReleaseToken(
        serial=_field(payload, "serial", str),
        token_id=_field(payload, "token_id", str),
        agency=_field(payload, "agency", str),
        issued_at=datetime.datetime.fromtimestamp(_field(payload, "issued_at", int),
                                                  datetime.UTC),
        expires_at=datetime.datetime.fromtimestamp(_field(payload, "expires_at", int),
                                                   datetime.UTC),
    )
    if parsed.serial != serial:
        raise TokenError(reasons.TOKEN_WRONG_SERIAL,
                         f"the token names {parsed.serial}, this tablet is {serial}")
    if now > parsed.expires_at:
        raise TokenError(reasons.TOKEN_EXPIRED, f"expired {parsed.expires_at:%Y-%m-%d}")
    if parsed.token_id in used:
        raise TokenError(reasons.TOKEN_REUSED, "this token has been used")
    return parsed
