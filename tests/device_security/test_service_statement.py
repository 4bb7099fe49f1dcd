"""A kiosk's service statement verifies only against its own key, for the
tablet, dock and words it was made for."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.errors import StatementRefused
from device_security.service_statement import ServiceStatement, sign_statement, verify_statement

KIOSK = Ed25519PrivateKey.generate()
SAID = ServiceStatement("B-2", "JP5S-000001", 7, 1_795_400_000)


def test_a_statement_verifies_against_the_kiosks_key() -> None:
    verify_statement(SAID, sign_statement(SAID, KIOSK.sign), KIOSK.public_key())
    in_service = dataclasses.replace(SAID, out_of_service_since=None)
    verify_statement(in_service, sign_statement(in_service, KIOSK.sign), KIOSK.public_key())


@pytest.mark.parametrize("changed", [
    {"unit": "C-3"},  # another unit's
    {"serial": "JP5S-000002"},  # said to another tablet
    {"counter": 8},  # at another dock: a replay
    {"out_of_service_since": 1_795_300_000},  # another time
    {"out_of_service_since": None},
])
def test_a_statement_is_bound_to_what_it_says(changed: dict[str, object]) -> None:
    signature = sign_statement(SAID, KIOSK.sign)
    with pytest.raises(StatementRefused, match="not signed by this kiosk"):
        verify_statement(dataclasses.replace(SAID, **changed),  # type: ignore[arg-type]
                         signature, KIOSK.public_key())


def test_unsigned_forged_and_malformed_statements_are_refused() -> None:
    with pytest.raises(StatementRefused, match="not signed"):
        verify_statement(SAID, None, KIOSK.public_key())
    forged = sign_statement(SAID, Ed25519PrivateKey.generate().sign)
    with pytest.raises(StatementRefused, match="not signed by this kiosk"):
        verify_statement(SAID, forged, KIOSK.public_key())
    with pytest.raises(StatementRefused, match="64 bytes"):
        verify_statement(SAID, bytes(63), KIOSK.public_key())
    with pytest.raises(StatementRefused, match="Ed25519"):
        verify_statement(SAID, sign_statement(SAID, KIOSK.sign),
                         generate_private_key(SECP256R1()).public_key())
