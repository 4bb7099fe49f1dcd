"""The tablet's hello is checked before anything trusts its counter."""

from typing import Any

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_security.errors import ChannelError
from device_security.messages import CODEC, TabletHello


def hello(body: Any, frame_type: int = TabletHello.TYPE) -> TabletHello:
    """A hello as a peer might send it, decoded by the strict codec."""
    message = CODEC.decode_body(cbor2.dumps([frame_type, body], canonical=True))
    assert isinstance(message, TabletHello)
    return message


def test_a_good_hello() -> None:
    assert hello({"serial": "JP5S-000001", "counter": 7}) == TabletHello("JP5S-000001", 7)
    assert CODEC.decode(CODEC.encode(TabletHello("JP5S-000001", 7))).counter == 7


@pytest.mark.parametrize("body", [
    None, [], "hello", {"v": 1, "serial": "S", "counter": 1}, {"counter": 1},
    {"serial": 5, "counter": 1}, {"serial": "S", "counter": True},
    {"serial": "S", "counter": -1}, {"serial": "S", "counter": 2**63},
    {"serial": "S", "counter": 1.5}, {"serial": "", "counter": 1},
])
def test_malformed_hellos_are_channel_errors(body: object) -> None:
    with pytest.raises(ChannelError):
        hello(body)


def test_another_message_type_is_no_hello() -> None:
    with pytest.raises(ChannelError):
        hello({"serial": "S", "counter": 1}, frame_type=99)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=10))
def test_any_decoded_value_is_accepted_or_refused_cleanly(value: object) -> None:
    try:
        message = CODEC.decode_body(cbor2.dumps([TabletHello.TYPE, value]))
    except ChannelError:
        return
    assert isinstance(message, TabletHello)
    assert isinstance(message.serial, str) and isinstance(message.counter, int)
