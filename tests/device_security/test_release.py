"""Release tokens: one tablet, once, before they expire, signed by the agency."""

import contextlib
import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from device_security import reasons
from device_security.errors import TokenError
from device_security.release import (
    make_release_token,
    token_from_text,
    token_text,
    verify_release_token,
)

NOW = datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC)
AGENCY = Ed25519PrivateKey.generate()


def verify(token: bytes, *, serial: str = "JP5S-000001", now=NOW, used=(), key=AGENCY):
    return verify_release_token(token, key.public_key(), serial=serial, now=now, used=set(used))


def reason(fn) -> str:
    with pytest.raises(TokenError) as info:
        fn()
    return info.value.reason


def test_a_valid_token_round_trips_as_text() -> None:
    token = make_release_token(AGENCY, serial="JP5S-000001", agency="DOC", now=NOW)
    parsed = verify(token_from_text(token_text(token)))
    assert parsed.serial == "JP5S-000001" and parsed.agency == "DOC"


def test_for_another_serial() -> None:
    token = make_release_token(AGENCY, serial="JP5S-000002", agency="DOC", now=NOW)
    assert reason(lambda: verify(token)) == reasons.TOKEN_WRONG_SERIAL


def test_expired() -> None:
    token = make_release_token(AGENCY, serial="JP5S-000001", agency="DOC",
                               now=NOW - datetime.timedelta(days=40), valid_days=30)
    assert reason(lambda: verify(token)) == reasons.TOKEN_EXPIRED


def test_reused() -> None:
    token = make_release_token(AGENCY, serial="JP5S-000001", agency="DOC", now=NOW,
                               token_id="t-1")
    assert reason(lambda: verify(token, used=["t-1"])) == reasons.TOKEN_REUSED


def test_signed_by_someone_else() -> None:
    token = make_release_token(Ed25519PrivateKey.generate(), serial="JP5S-000001",
                               agency="DOC", now=NOW)
    assert reason(lambda: verify(token)) == reasons.TOKEN_BAD_SIGNATURE


@given(st.binary(max_size=2000))
def test_garbage_is_a_token_error(data: bytes) -> None:
    with contextlib.suppress(TokenError):
        verify(data)
