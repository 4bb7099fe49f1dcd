"""A peer that sends anything: each side of the session ends cleanly (a
SessionError, or the transport's own error when the peer falls silent), never
with another exception and never by hanging, and stores nothing it should not."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_security.at_rest import Sealer
from sync import frames
from sync.session import DockedResident, SessionError, SessionSummary, run_kiosk, serve_tablet
from sync.stream import FrameStream
from tablet.store import TabletStore
from tests.sync.rig import open_cache
from tests.sync.test_frames import vector

SERIAL = "JP5S-000303"


class Silent(TimeoutError):
    """The scripted peer has nothing more to say."""


class ScriptedPeer:
    """A transport whose incoming bytes are a script; what is sent is kept."""

    def __init__(self, script: bytes) -> None:
        self._script = script
        self._pos = 0
        self.sent: list[bytes] = []

    def send(self, data: bytes, timeout: float) -> None:
        self.sent.append(data)

    def recv_into(self, buffer: memoryview, timeout: float) -> int:
        size = min(len(buffer), len(self._script) - self._pos)
        if size <= 0:
            raise Silent("the peer is silent")
        buffer[:size] = self._script[self._pos:self._pos + size]
        self._pos += size
        return size


def _frame_bytes() -> st.SearchStrategy[bytes]:
    valid = [frames.encode(vector(kind)) for kind in frames.FRAME_TYPES]
    tweaked = [frames.encode(dataclasses.replace(vector(frames.Hello), versions=(2, 3))),
               frames.encode(dataclasses.replace(vector(frames.BlobStart), offset=0)),
               frames.encode(frames.Records(0, ())), frames.encode(frames.Done(0, 0))]

    def damaged(data: bytes, at: int, value: int) -> bytes:
        at %= len(data)
        return data[:at] + bytes([value]) + data[at + 1:]

    return st.one_of(
        st.sampled_from(valid + tweaked),
        st.builds(damaged, st.sampled_from(valid), st.integers(0, 10**6), st.integers(0, 255)),
        st.binary(max_size=64),
        st.builds(lambda n, tail: n.to_bytes(4, "big") + tail,
                  st.integers(0, 2**32 - 1), st.binary(max_size=32)),
    )


script = st.lists(_frame_bytes(), max_size=8).map(b"".join)
HELLO = frames.encode(vector(frames.Hello))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=script, with_hello=st.booleans())
def test_the_tablet_side_ends_cleanly_whatever_the_kiosk_sends(tmp_path: Path, data: bytes,
                                                               with_hello: bool) -> None:
    key = Ed25519PrivateKey.generate()
    store = TabletStore(tmp_path / f"t{time.monotonic_ns()}", serial=SERIAL, sign=key.sign,
                        sealer=Sealer(bytes(32)))
    store.write_draft(resident="874512", contact=1, body="mine")
    peer = ScriptedPeer((HELLO if with_hello else b"") + data)
    started = time.monotonic()
    with contextlib.suppress(SessionError, Silent):
        serve_tablet(FrameStream(peer), store, counter=1)
    assert time.monotonic() - started < 5
    for path in (store.directory / "blobs").iterdir():  # only blobs that match their hash
        assert path.is_dir() or path.name in {s.hex() for s in store.complete_blobs()}
    store.close()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=script, welcome=st.booleans())
def test_the_kiosk_side_ends_cleanly_whatever_the_tablet_sends(tmp_path: Path, data: bytes,
                                                               welcome: bool) -> None:
    cache = open_cache(tmp_path / f"k{time.monotonic_ns()}")
    cache.apply_feed(7, 1, [{"seq": 1, "kind": "message", "ref": "m-1", "body": {"body": "x"}}])
    key = Ed25519PrivateKey.generate()
    first = frames.encode(dataclasses.replace(vector(frames.Welcome), serial=SERIAL)) \
        if welcome else b""
    peer = ScriptedPeer(first + data)
    started = time.monotonic()
    try:
        result = run_kiosk(FrameStream(peer), cache,
                           DockedResident(SERIAL, 7, "874512", key.public_key()), kiosk="K")
        assert isinstance(result, SessionSummary)
    except (SessionError, Silent):
        pass
    assert time.monotonic() - started < 5
    # Nothing the tablet did not sign is believed.
    assert cache.pending_receipts() == [] and cache.pending_outbox() == []
    cache.close()


def test_capabilities_are_compared_at_both_ends(tmp_path: Path) -> None:
    """A kiosk that does not offer records and blobs gets no session; a tablet
    that takes up what the kiosk did not offer, or leaves out records, neither."""
    store = TabletStore(tmp_path / "t", serial=SERIAL, sign=Ed25519PrivateKey.generate().sign,
                        sealer=Sealer(bytes(32)))
    store.write_draft(resident="874512", contact=1, body="mine")
    hello = frames.encode(dataclasses.replace(vector(frames.Hello), caps=("blobs", "outbox")))
    with pytest.raises(SessionError) as refused:
        serve_tablet(FrameStream(ScriptedPeer(hello)), store, counter=1)
    assert refused.value.code == "missing_capability"
    # Offered no outbox, the tablet takes none up and keeps its draft for another kiosk.
    hello = frames.encode(dataclasses.replace(vector(frames.Hello), caps=("blobs", "records")))
    peer = ScriptedPeer(hello + frames.encode(frames.Done(0, 0)))
    serve_tablet(FrameStream(peer), store, counter=1)
    welcome = frames.decode(peer.sent[0])
    assert isinstance(welcome, frames.Welcome)
    assert welcome.caps == ("blobs", "records") and welcome.outbox == 0
    assert store.outbox_count() == 1
    store.close()
    cache = open_cache(tmp_path / "k")
    key = Ed25519PrivateKey.generate()
    for caps in (("blobs", "outbox", "records", "telepathy"), ("blobs", "outbox")):
        welcome_bytes = frames.encode(dataclasses.replace(vector(frames.Welcome), serial=SERIAL,
                                                          caps=caps))
        with pytest.raises(SessionError) as stopped:
            run_kiosk(FrameStream(ScriptedPeer(welcome_bytes)), cache,
                      DockedResident(SERIAL, 7, "874512", key.public_key()), kiosk="K")
        assert stopped.value.code == "missing_capability"
    cache.close()
