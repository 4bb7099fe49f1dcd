"""Time without a network clock (Uptane's time server, at the dock). Pure.

The tablet makes a fresh nonce (:func:`new_nonce`); the kiosk answers with a
token (:func:`sign_time`): CBOR ``{"v": 1, "nonce", "time", "key", "sig"}``,
the Ed25519 signature over ``["sallyport time", 1, nonce, time, key]``. The
tablet accepts it (:func:`accept_time`) only when the key is one it trusts, the
nonce is the one it just made, and the time is later than the last time it
accepted and not far beyond the newest time central signed.

Why a kiosk with a wrong clock can do no harm (docs/firmware.md, "Time"):

- a clock that is behind gives a time the tablet refuses (not later than the
  last) or one below the newest signed timestamp's ``issued`` time, which the
  tablet uses instead (:func:`trusted_now`): expired metadata stays expired;
- a clock that is ahead gives a time the tablet refuses when it is more than
  MAX_AHEAD past the newest signed ``issued`` time, so it cannot push the
  tablet's clock so far that the true time is refused afterwards;
- without a fresh token (none, a replayed one, a refused one) the tablet
  checks nothing for expiry and installs nothing (NoTrustedTime): it is never
  kept on old metadata by a clock that stands still, because the timestamp
  role's metadata expires within a day and the time only moves forward.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from firmware_images.errors import NoTrustedTime, StaleTime, TimeTooFarAhead, TokenError

NONCE_SIZE = 16
MAX_TOKEN = 512
MAX_AHEAD = 30 * 24 * 3600  # how far past central's newest signed time a kiosk's clock may be
MAX_TIME = 2**40
_CONTEXT = "sallyport time"
_FIELDS = {"v", "nonce", "time", "key", "sig"}


@dataclass(frozen=True)
class TimeToken:
    nonce: bytes
    time: int
    key: str
    signature: bytes


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_SIZE)


def _statement(nonce: bytes, time: int, key: str) -> bytes:
    data: bytes = cbor2.dumps([_CONTEXT, 1, nonce, time, key], canonical=True)
    return data


def sign_time(private_key: Ed25519PrivateKey, key: str, nonce: bytes, time: int) -> bytes:
    """The kiosk's answer to ``nonce``: its clock ``time`` (whole seconds),
    signed with its time key named ``key``."""
    if len(nonce) != NONCE_SIZE or not 0 <= time < MAX_TIME or not 0 < len(key) <= 64:
        raise TokenError("a token needs a 16-byte nonce, a time and a key name",
                         nonce=len(nonce), time=time, key=key)
    signature = private_key.sign(_statement(nonce, time, key))
    data: bytes = cbor2.dumps({"v": 1, "nonce": nonce, "time": time, "key": key,
                               "sig": signature}, canonical=True)
    return data


def read_token(data: bytes) -> TimeToken:
    """The token's fields, unverified. Raises TokenError for anything else."""
    if len(data) > MAX_TOKEN:
        raise TokenError("a time token is short", observed=len(data))
    try:
        value = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as e:
        raise TokenError(f"a time token is CBOR: {e}") from e
    if not isinstance(value, dict) or set(value) != _FIELDS or value["v"] != 1:
        raise TokenError("a time token has the fields v, nonce, time, key, sig")
    nonce, time, key, sig = value["nonce"], value["time"], value["key"], value["sig"]
    if not (isinstance(nonce, bytes) and isinstance(time, int) and not isinstance(time, bool)
            and 0 <= time < MAX_TIME and isinstance(key, str) and 0 < len(key) <= 64
            and isinstance(sig, bytes) and len(sig) == 64):
        raise TokenError("a time token's fields are out of bounds")
    return TimeToken(nonce, time, key, sig)


def accept_time(data: bytes, *, nonce: bytes, keys: Mapping[str, Ed25519PublicKey],
                last: int, latest_signed: int) -> int:
    """The time in the token ``data``, if the tablet may believe it; raises
    otherwise: TokenError (malformed, another nonce, an unknown key, a bad
    signature), StaleTime (not later than ``last``, the time last accepted),
    TimeTooFarAhead (more than MAX_AHEAD past ``latest_signed``, the newest
    ``issued`` time of a timestamp whose signature checked)."""
    token = read_token(data)
    if not secrets.compare_digest(token.nonce, nonce):
        raise TokenError("the token answers another nonce (a replay)")
    public = keys.get(token.key)
    if public is None:
        raise TokenError("the token is signed by a key this tablet does not trust",
                         key=token.key)
    try:
        public.verify(token.signature, _statement(token.nonce, token.time, token.key))
    except InvalidSignature as e:
        raise TokenError("the token's signature does not verify", key=token.key) from e
    if token.time <= last:
        raise StaleTime("not later than the time last accepted", expected=f"> {last}",
                        observed=token.time)
    if latest_signed and token.time > latest_signed + MAX_AHEAD:
        raise TimeTooFarAhead("far past the newest time central signed",
                              expected=f"<= {latest_signed + MAX_AHEAD}", observed=token.time)
    return token.time


def trusted_now(accepted: int | None, latest_signed: int) -> datetime.datetime:
    """The time to check expiry at: the time accepted at this dock, or the
    newest signed ``issued`` time if that is later (a slow clock cannot bring it
    back). Raises NoTrustedTime when no token was accepted at this dock."""
    if accepted is None:
        raise NoTrustedTime("no fresh signed time at this dock; nothing is checked "
                            "for expiry, nothing is installed")
    return datetime.datetime.fromtimestamp(max(accepted, latest_signed), datetime.UTC)
