"""The tablet checks every field of the kiosk's answer before it acts on any."""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tablet.peer import KioskAnswer, parse_kiosk_answer

PAIRED = {"v": 1, "result": "paired", "owner": "874512",
          "terms": {"lock_after_days": 14, "stamps_per_message": 1},
          "kiosk": {"out_of_service_since": None}}


def test_a_paired_answer_gives_the_owner_terms_and_service_state() -> None:
    assert parse_kiosk_answer(PAIRED) == KioskAnswer(True, None, "874512", 14, 1, None)
    out = parse_kiosk_answer({**PAIRED, "kiosk": {"out_of_service_since": 1_795_400_000}})
    assert out.out_of_service_since == datetime.datetime.fromtimestamp(1_795_400_000,
                                                                       datetime.UTC)
    assert out.kiosk_status.out_of_service_since == out.out_of_service_since


def test_an_answer_from_a_kiosk_that_knows_no_terms_yet() -> None:
    bare = parse_kiosk_answer({"v": 1, "result": "paired", "owner": "874512"})
    assert (bare.lock_after_days, bare.stamps_per_message, bare.out_of_service_since) == (
        None, None, None)
    refused = parse_kiosk_answer({"v": 1, "result": "refused", "reason": "not_registered"})
    assert not refused.paired and refused.reason == "not_registered"


@pytest.mark.parametrize(("change", "says"), [
    ({"v": 2}, "version-1"),
    ({"result": "maybe"}, "neither"),
    ({"owner": None}, "agency ID"),
    ({"owner": ""}, "agency ID"),
    ({"owner": "x" * 33}, "agency ID"),
    ({"owner": "87\n4512"}, "agency ID"),
    ({"owner": " 874512"}, "agency ID"),
    ({"owner": 874512}, "agency ID"),
    ({"terms": {"lock_after_days": 0}}, "lock_after_days"),
    ({"terms": {"lock_after_days": 366}}, "lock_after_days"),
    ({"terms": {"lock_after_days": True}}, "lock_after_days"),
    ({"terms": {"lock_after_days": 14.0}}, "lock_after_days"),
    ({"terms": {"stamps_per_message": -1}}, "stamps_per_message"),
    ({"terms": {"stamps_per_message": 101}}, "stamps_per_message"),
    ({"kiosk": {"out_of_service_since": -5}}, "out_of_service_since"),
    ({"kiosk": {"out_of_service_since": 2**41}}, "out_of_service_since"),
    ({"v": True}, "version-1"),
    ({"kiosk": []}, "maps"),
    ({"reason": "x" * 65}, "reason"),
])
def test_a_malformed_field_is_refused_by_name(change: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_kiosk_answer({**PAIRED, **change})


def test_a_refusal_cannot_name_an_owner() -> None:
    with pytest.raises(ValueError, match="no owner"):
        parse_kiosk_answer({"v": 1, "result": "refused", "reason": "x", "owner": "874512"})


values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
                      | st.binary(max_size=40),
                      lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=20), inner, max_size=4), max_leaves=12)


@given(st.dictionaries(st.sampled_from(["v", "result", "owner", "terms", "kiosk", "reason", "x"]),
                       values, max_size=7) | values)
def test_anything_a_kiosk_sends_parses_or_is_a_value_error(message: Any) -> None:
    with contextlib.suppress(ValueError):
        parse_kiosk_answer(message)
