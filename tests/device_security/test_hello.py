"""The tablet's hello is checked before anything trusts its counter."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_security.errors import ChannelError
from device_security.pairing import parse_hello


def test_a_good_hello() -> None:
    assert parse_hello({"v": 1, "serial": "JP5S-000001", "counter": 7}) == ("JP5S-000001", 7)


@pytest.mark.parametrize("hello", [
    None, [], "hello", {"v": 2, "serial": "S", "counter": 1}, {"serial": "S", "counter": 1},
    {"v": 1, "counter": 1}, {"v": 1, "serial": 5, "counter": 1},
    {"v": 1, "serial": "S", "counter": True}, {"v": 1, "serial": "S", "counter": -1},
    {"v": 1, "serial": "S", "counter": 2**63}, {"v": 1, "serial": "S", "counter": 1.5},
])
def test_malformed_hellos_are_channel_errors(hello: object) -> None:
    with pytest.raises(ChannelError):
        parse_hello(hello)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=10))
def test_any_decoded_value_is_accepted_or_refused_cleanly(value: object) -> None:
    try:
        serial, counter = parse_hello(value)
    except ChannelError:
        return
    assert isinstance(serial, str) and isinstance(counter, int)
