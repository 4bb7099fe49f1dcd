"""The tablet checks every field of the kiosk's answer before it acts on any."""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_security.messages import CODEC, MessageError, Paired, Refused
from tablet.peer import KioskAnswer

PAIRED = {"owner": "874512", "unit": "CC-A", "lock_after_days": 14, "stamps_per_message": 1,
          "out_of_service_since": None, "signature": bytes(64)}
REFUSED = {"reason": "not_registered", "unit": None, "out_of_service_since": None,
           "signature": None}


def answer(body: Any, frame_type: int = Paired.TYPE) -> KioskAnswer:
    """The kiosk's answer as sent on the wire, decoded and read by the tablet."""
    message = CODEC.decode_body(cbor2.dumps([frame_type, body], canonical=True))
    assert isinstance(message, Paired | Refused)
    return KioskAnswer.of(message)


def test_a_paired_answer_gives_the_owner_terms_and_service_state() -> None:
    assert answer(PAIRED) == KioskAnswer(True, None, "874512", 14, 1, None, "CC-A", bytes(64))
    out = answer({**PAIRED, "out_of_service_since": 1_795_400_000})
    assert out.out_of_service_since == datetime.datetime.fromtimestamp(1_795_400_000,
                                                                       datetime.UTC)
    assert out.kiosk_status.out_of_service_since == out.out_of_service_since


def test_an_answer_from_a_kiosk_that_knows_no_terms_yet() -> None:
    bare = answer({**PAIRED, "lock_after_days": None, "stamps_per_message": None})
    assert (bare.lock_after_days, bare.stamps_per_message, bare.out_of_service_since) == (
        None, None, None)
    refused = answer(REFUSED, Refused.TYPE)
    assert not refused.paired and refused.reason == "not_registered"


@pytest.mark.parametrize(("change", "says"), [
    ({"v": 2}, "unknown key"),
    ({"owner": None}, "owner"),
    ({"owner": ""}, "owner"),
    ({"owner": "x" * 33}, "owner"),
    ({"owner": "87\n4512"}, "owner"),
    ({"owner": " 874512"}, "owner"),
    ({"owner": 874512}, "owner"),
    ({"lock_after_days": 0}, "lock_after_days"),
    ({"lock_after_days": 366}, "lock_after_days"),
    ({"lock_after_days": True}, "lock_after_days"),
    ({"lock_after_days": 14.0}, "floats"),
    ({"stamps_per_message": 101}, "stamps_per_message"),
    ({"out_of_service_since": 2**41}, "out_of_service_since"),
    ({"out_of_service_since": []}, "out_of_service_since"),
    ({"unit": ""}, "unit"),
    ({"unit": "x" * 65}, "unit"),
    ({"unit": "CC-A\n"}, "unit"),
    ({"signature": bytes(63)}, "signature"),
    ({"signature": bytes(65)}, "signature"),
    ({"signature": "sig"}, "signature"),
])
def test_a_malformed_field_is_refused_by_name(change: dict[str, Any], says: str) -> None:
    with pytest.raises(MessageError, match=says):
        answer({**PAIRED, **change})


@pytest.mark.parametrize("body", [
    {**REFUSED, "reason": "x" * 65},
    {**REFUSED, "reason": "Not Registered"},
    {**REFUSED, "owner": "874512"},
    {**REFUSED, "unit": " CC-A"},
    {**REFUSED, "signature": b"short"},
    {"reason": "x", "out_of_service_since": None},  # the fields of before
])
def test_a_refusal_is_checked_too(body: dict[str, Any]) -> None:
    with pytest.raises(MessageError):
        answer(body, Refused.TYPE)


def test_a_negative_number_is_no_number() -> None:
    with pytest.raises(MessageError, match="negative"):
        answer({**PAIRED, "stamps_per_message": -1})


values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
                      | st.binary(max_size=40),
                      lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=20), inner, max_size=4), max_leaves=12)


@given(st.sampled_from([Paired.TYPE, Refused.TYPE, 1, 99]),
       st.dictionaries(st.sampled_from([*PAIRED, "reason", "x"]), values, max_size=7) | values)
def test_anything_a_kiosk_sends_parses_or_is_a_message_error(frame_type: int,
                                                              body: Any) -> None:
    with contextlib.suppress(MessageError):
        CODEC.decode_body(cbor2.dumps([frame_type, body]))
