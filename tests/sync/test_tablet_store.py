"""The tablet's blob sink: every write durable before it returns, chunks of any
size and resumes at any offset giving the blob's bytes; and the session
acknowledging a chunk only once its write has returned."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.at_rest import Sealer
from sync import frames
from sync.session import CHUNK, serve_tablet
from sync.stream import FrameStream
from tablet.store import BlobSink, TabletStore
from tests.sync.test_session_fuzz import HELLO, ScriptedPeer, Silent

SERIAL = "JP5S-000404"


def _store(path: Path) -> TabletStore:
    return TabletStore(path, serial=SERIAL, sign=Ed25519PrivateKey.generate().sign,
                       sealer=Sealer(os.urandom(32)))


def _pieces(size: int, rand: random.Random) -> list[int]:
    """Chunk sizes that add up to ``size``: aligned, unaligned and tiny."""
    sizes, left = [], size
    while left:
        piece = min(left, rand.choice([4096 * 16, 4096 * 3 + 1, 5000, 1, CHUNK]))
        sizes.append(piece)
        left -= piece
    return sizes


def test_chunks_of_any_size_and_resumes_at_any_offset_give_the_blob(tmp_path: Path) -> None:
    store = _store(tmp_path / "tablet")
    rand = random.Random(3)
    data = rand.randbytes(3 * CHUNK + 12345)
    sha = hashlib.sha256(data).digest()
    pieces = _pieces(len(data), rand)
    cut = len(pieces) // 2
    sink = store.begin_blob(sha, len(data), 0)
    at = 0
    for size in pieces[:cut]:
        assert sink.write(at, data[at:at + size]) == at + size
        at += size
        assert store.partials() == [(sha, at)]  # what the file holds is what is durable
    sink.close()  # the cable comes out
    assert at % 4096  # the next dock resumes at an unaligned offset
    sink = store.begin_blob(sha, len(data), at)
    for size in pieces[cut:]:
        sink.write(at, data[at:at + size])
        at += size
    sink.finish()
    assert store.read_blob(sha) == data
    assert store.complete_blobs() == [sha] and store.partials() == []
    store.close()


def test_a_chunk_is_acknowledged_only_after_its_write_returned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tablet writes chunks on a thread of its own while it reads on; each
    ChunkAck (and the BlobDone) still follows the write that made it true, and
    they keep the order of the frames."""
    events: list[tuple[str, Any]] = []
    real_write, real_finish = BlobSink.write, BlobSink.finish

    def write(sink: BlobSink, offset: int, data: bytes) -> int:
        time.sleep(0.01)  # a slow disk, so that the session reads ahead
        durable = real_write(sink, offset, data)
        events.append(("durable", durable))
        return durable

    def finish(sink: BlobSink) -> None:
        real_finish(sink)
        events.append(("stored", sink.sha))

    monkeypatch.setattr(BlobSink, "write", write)
    monkeypatch.setattr(BlobSink, "finish", finish)

    class Recording(ScriptedPeer):
        def send(self, data: bytes, timeout: float) -> None:
            super().send(data, timeout)
            if len(data) > frames.PREFIX_SIZE:  # whole frames here: they are small
                events.append(("sent", frames.decode(data)))

    blobs = [os.urandom(size) for size in (3 * CHUNK + 7, 5000, 2 * CHUNK)]
    script = HELLO
    for data in blobs:
        sha = hashlib.sha256(data).digest()
        script += frames.encode(frames.BlobStart(sha, len(data), 0, CHUNK))
        for at in range(0, len(data), CHUNK):
            script += frames.encode(frames.Chunk(sha, at, data[at:at + CHUNK]))
    script += frames.encode(frames.Done(0, len(blobs)))
    store = _store(tmp_path / "tablet")
    peer = Recording(script)
    summary = serve_tablet(FrameStream(peer), store, counter=1)
    assert summary.blobs == len(blobs)
    sent = [(i, frame) for i, (kind, frame) in enumerate(events) if kind == "sent"]
    acks = [(i, f) for i, f in sent if isinstance(f, frames.ChunkAck | frames.BlobDone)]
    assert len(acks) == sum(-(-len(d) // CHUNK) + 1 for d in blobs)
    expected: list[tuple[type, bytes]] = []
    for data in blobs:
        sha = hashlib.sha256(data).digest()
        expected += [(frames.ChunkAck, sha)] * -(-len(data) // CHUNK) + [(frames.BlobDone, sha)]
    assert [(type(f), f.sha) for _, f in acks] == expected
    for at, frame in acks:
        made_true = ("durable", frame.durable) if isinstance(frame, frames.ChunkAck) \
            else ("stored", frame.sha)
        assert made_true in events[:at], f"{frame} was sent before it was true"
    assert isinstance(sent[-1][1], frames.Bye)
    assert not any(t.name.startswith("blob-writes") for t in threading.enumerate())
    store.close()


def test_an_unplug_leaves_every_chunk_that_arrived_durable(tmp_path: Path) -> None:
    """Chunks received but not yet written when the link fails are still written."""
    data = os.urandom(4 * CHUNK)
    sha = hashlib.sha256(data).digest()
    script = HELLO + frames.encode(frames.BlobStart(sha, len(data), 0, CHUNK))
    for at in range(0, 3 * CHUNK, CHUNK):
        script += frames.encode(frames.Chunk(sha, at, data[at:at + CHUNK]))
    store = _store(tmp_path / "tablet")
    with pytest.raises(Silent):
        serve_tablet(FrameStream(ScriptedPeer(script)), store, counter=1)
    assert store.partials() == [(sha, 3 * CHUNK)]
    store.close()

