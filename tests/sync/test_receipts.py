"""Signed statements: a tablet's receipts and drafts verify with its key and
with nothing else, and any change to what was signed is caught."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from sync.receipts import StatementError, delivery_fields, statement_bytes, verify

RECORDS = {"serial": "JP5S-000001", "session": b"\x01" * 16, "through": 42,
           "batch_digest": b"\x02" * 32}
DRAFT = {"serial": "JP5S-000001", "uid": "draft-000001", "resident": "874512", "contact": 7,
         "body": "See you Sunday", "attachments": []}


def _signed(key: Ed25519PrivateKey, kind: str, fields: Mapping[str, object]) -> bytes:
    return key.sign(statement_bytes(kind, fields))


def test_a_receipt_verifies_with_the_tablets_key_only() -> None:
    tablet, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    signature = _signed(tablet, "records", RECORDS)
    verify(tablet.public_key(), "records", RECORDS, signature)
    with pytest.raises(StatementError) as refused:
        verify(other.public_key(), "records", RECORDS, signature)
    assert refused.value.reason == "bad_signature"


@pytest.mark.parametrize(("field", "value"), [
    ("through", 43), ("serial", "JP5S-000002"), ("session", b"\x09" * 16),
    ("batch_digest", b"\x00" * 32)])
def test_changing_anything_signed_is_caught(field: str, value: object) -> None:
    tablet = Ed25519PrivateKey.generate()
    signature = _signed(tablet, "records", RECORDS)
    with pytest.raises(StatementError, match="not signed"):
        verify(tablet.public_key(), "records", {**RECORDS, field: value}, signature)


def test_a_signature_for_one_kind_means_nothing_for_another() -> None:
    tablet = Ed25519PrivateKey.generate()
    blob = {"serial": "JP5S-000001", "sha": b"\x03" * 32}
    signature = _signed(tablet, "blob", blob)
    with pytest.raises(StatementError):
        verify(tablet.public_key(), "records", RECORDS, signature)
    # ... nor a bare signature over the same CBOR without the domain tag.
    with pytest.raises(StatementError):
        verify(tablet.public_key(), "blob", blob, tablet.sign(b"\x82" + b"blob"))


@pytest.mark.parametrize("fields", [
    {k: v for k, v in DRAFT.items() if k != "body"},
    {**DRAFT, "extra": 1},
    {**DRAFT, "contact": "7"},
    {**DRAFT, "contact": True},
])
def test_malformed_statements_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(StatementError) as refused:
        statement_bytes("draft", fields)
    assert refused.value.reason == "malformed"


@given(st.binary(max_size=80))
def test_garbage_signatures_never_verify(signature: bytes) -> None:
    tablet = Ed25519PrivateKey.generate()
    with pytest.raises(StatementError):
        verify(tablet.public_key(), "draft", DRAFT, signature)


DELIVERY = {"serial": "JP5S-000001", "owner": "874512", "sha": b"\x03" * 32,
            "entitlements": [7, 41]}


def test_a_delivery_receipt_binds_the_owner_and_the_entitlements() -> None:
    tablet = Ed25519PrivateKey.generate()
    signature = _signed(tablet, "delivery", DELIVERY)
    verify(tablet.public_key(), "delivery", DELIVERY, signature)
    assert delivery_fields(serial="JP5S-000001", owner="874512", sha=b"\x03" * 32,
                           entitlements=(41, 7, 41)) == DELIVERY
    for field, value in (("owner", "903377"), ("entitlements", [7]),
                         ("entitlements", [7, 41, 42]), ("sha", b"\x04" * 32)):
        with pytest.raises(StatementError, match="not signed"):
            verify(tablet.public_key(), "delivery", {**DELIVERY, field: value}, signature)
    # A receipt that names no owner is another statement, not this one.
    with pytest.raises(StatementError):
        verify(tablet.public_key(), "blob", {"serial": "JP5S-000001", "sha": b"\x03" * 32},
               signature)


@pytest.mark.parametrize("ids", [[], [41, 7], [7, 7], [0], [-3], [True], ["7"], [7.0],
                                 list(range(1, 66))])
def test_a_delivery_names_its_entitlements_once_each_in_order(ids: list[object]) -> None:
    with pytest.raises(StatementError) as refused:
        statement_bytes("delivery", {**DELIVERY, "entitlements": ids})
    assert refused.value.reason == "malformed"
