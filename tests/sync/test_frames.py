"""The sync session's wire format: vectors, bounds, value rules, and frames over transports."""

from __future__ import annotations

import dataclasses
import os
import select
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base import codec
from device_security.channel import SecureChannel, make_context
from device_security.errors import ChannelClosed
from device_security.pki import Role
from sync import frames
from sync.errors import FrameTooLarge, MalformedFrame, UnknownFrameType, WireError
from sync.frames import MAX_CHUNK_DATA, MAX_FRAME, MAX_RECORD_BODY
from sync.stream import FrameStream, FrameTransport
from tests.device_security.conftest import Facility, background, stream_pair
from tests.vectors.sync.make_sync_vectors import readme, vector_frames, vectors

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "sync"
FRAMES = {name: frame for name, (frame, _) in vector_frames().items()}
SHA = bytes(range(32))


def vector(kind: type) -> Any:
    """The vector frame of one type, to vary with dataclasses.replace."""
    return next(frame for frame in FRAMES.values() if type(frame) is kind)


def payload(frame: frames.Frame) -> bytes:
    return frames.encode(frame)[frames.PREFIX_SIZE:]


def plain_body(frame: frames.Frame) -> dict[str, Any]:
    """A frame's body as plain CBOR values, to alter before encoding by hand."""
    body: dict[str, Any] = cbor2.loads(payload(frame))[1]
    return body


def raw(frame_type: int, body: object) -> bytes:
    """A payload encoded directly, with none of frames.encode's checks."""
    return cbor2.dumps([frame_type, body], canonical=True)


def refused(data: bytes, where: str, error: type[WireError] = MalformedFrame) -> WireError:
    with pytest.raises(error) as info:
        frames.decode_body(data)
    assert where in str(info.value)
    return info.value


# -- the committed vectors ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(vectors()))
def test_regenerating_gives_the_committed_bytes(name: str) -> None:
    assert vectors()[name] == (VECTORS / name).read_bytes()


def test_the_readme_lists_the_vectors() -> None:
    assert readme() == (VECTORS / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(vectors()))
def test_each_vector_decodes_to_its_frame(name: str) -> None:
    frame = frames.decode((VECTORS / name).read_bytes())
    assert frame == FRAMES[name]
    assert type(frame) is type(FRAMES[name])


def test_there_is_a_vector_for_every_frame_type() -> None:
    assert sorted(type(frame).TYPE for frame in FRAMES.values()) == list(range(1, 21))
    assert {type(frame) for frame in FRAMES.values()} == set(frames.FRAME_TYPES)


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_every_frame_type_round_trips(name: str) -> None:
    frame = FRAMES[name]
    data = frames.encode(frame)
    assert int.from_bytes(data[:4], "big") == len(data) - 4
    assert frames.decode(data) == frame
    assert frames.decode_body(data[4:]) == frame
    assert frames.encode(frames.decode(data)) == data
    hash(frame)  # frames are immutable values


def test_any_bytes_like_input_decodes() -> None:
    data = frames.encode(vector(frames.Chunk))
    assert frames.decode(bytearray(data)) == vector(frames.Chunk)
    assert frames.decode_body(memoryview(data)[4:]) == vector(frames.Chunk)


def test_decoded_bodies_are_fresh_copies() -> None:
    data = frames.encode(vector(frames.Records))
    first, second = frames.decode(data), frames.decode(data)
    assert isinstance(first, frames.Records) and isinstance(second, frames.Records)
    assert first.records[0].body == second.records[0].body
    assert first.records[0].body is not second.records[0].body


def test_a_full_chunk_fits_in_a_frame() -> None:
    frame = frames.Chunk(sha=SHA, offset=2**40, data=b"\xa5" * MAX_CHUNK_DATA)
    data = frames.encode(frame)
    assert len(data) - 4 <= MAX_FRAME
    decoded = frames.decode(data)
    assert decoded == frame
    assert isinstance(decoded, frames.Chunk) and type(decoded.data) is bytes


# -- bounds: each edge accepted, one past it refused with the field named ------------------------


def record(**change: Any) -> frames.Record:
    return dataclasses.replace(vector(frames.Records).records[0], **change)


def outbox_item(**change: Any) -> frames.OutboxItem:
    return dataclasses.replace(vector(frames.OutboxItems).items[0], **change)


def nested(depth: int) -> dict[str, Any]:
    """A body of exactly ``depth`` levels of containers."""
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return {"n": value}


def body_of_size(size: int) -> dict[str, Any]:
    """A body whose canonical encoding is exactly ``size`` bytes (size > 300)."""
    return {"x": b"\x00" * (size - 6)}  # map head 1, key 2, byte-string head 3


UID = "d-0000001"

# (frame type, field, value at the edge, value past it, where the refusal points)
EDGES: list[tuple[type, str, Any, Any, str]] = [
    (frames.Hello, "versions", (1,) * 8, (1,) * 9, "Hello.versions"),
    (frames.Hello, "versions", (1,), (), "Hello.versions"),
    (frames.Hello, "versions", (65535,), (65536,), "Hello.versions[0]"),
    (frames.Hello, "versions", (1,), (0,), "Hello.versions[0]"),
    (frames.Hello, "caps", ("c",) * 16, ("c",) * 17, "Hello.caps"),
    (frames.Hello, "caps", ("c" * 32,), ("c" * 33,), "Hello.caps[0]"),
    (frames.Hello, "caps", ("c",), ("",), "Hello.caps[0]"),
    (frames.Hello, "caps", ("a_z0_9",), ("Blobs",), "Hello.caps[0]"),
    (frames.Hello, "caps", ("blobs",), ("blöbs",), "Hello.caps[0]"),
    (frames.Hello, "caps", ("blobs",), ("blobs\n",), "Hello.caps[0]"),
    (frames.Hello, "kiosk", "k" * 64, "k" * 65, "Hello.kiosk"),
    (frames.Hello, "kiosk", "k", "", "Hello.kiosk"),
    (frames.Hello, "session", b"s" * 16, b"s" * 17, "Hello.session"),
    (frames.Hello, "session", b"s" * 16, b"s" * 15, "Hello.session"),
    (frames.Hello, "now", 2**63 - 1, 2**63, "Hello.now"),
    (frames.Hello, "now", 0, -1, "Hello.now"),
    (frames.Welcome, "version", 65535, 65536, "Welcome.version"),
    (frames.Welcome, "version", 1, 0, "Welcome.version"),
    (frames.Welcome, "serial", "s" * 64, "s" * 65, "Welcome.serial"),
    (frames.Welcome, "firmware", "f" * 64, "", "Welcome.firmware"),
    (frames.Welcome, "blobs_digest", SHA, SHA + b"!", "Welcome.blobs_digest"),
    (frames.Welcome, "partial", (frames.PartialBlob(SHA, 0),) * 64,
     (frames.PartialBlob(SHA, 0),) * 65, "Welcome.partial"),
    (frames.Welcome, "partial", (frames.PartialBlob(SHA, 2**63 - 1),),
     (frames.PartialBlob(SHA[:31], 0),), "Welcome.partial[0].sha"),
    (frames.Inventory, "blobs", (SHA,) * 16384, (SHA,) * 16385, "Inventory.blobs"),
    (frames.Inventory, "blobs", (SHA,), (SHA[:31],), "Inventory.blobs[0]"),
    (frames.Records, "records", (record(),) * 512, (record(),) * 513, "Records.records"),
    (frames.Records, "records", (record(kind="k" * 24),), (record(kind="k" * 25),),
     "Records.records[0].kind"),
    (frames.Records, "records", (record(ref="r" * 64),), (record(ref="r" * 65),),
     "Records.records[0].ref"),
    (frames.Records, "records", (record(body=body_of_size(MAX_RECORD_BODY)),),
     (record(body=body_of_size(MAX_RECORD_BODY + 1)),), "Records.records[0].body"),
    (frames.Records, "records", (record(body=nested(8)),), (record(body=nested(9)),),
     "Records.records[0].body['n']" + "[0]" * 7),
    (frames.RecordsAck, "receipt", b"r", b"", "RecordsAck.receipt"),
    (frames.RecordsAck, "receipt", b"r" * 256, b"r" * 257, "RecordsAck.receipt"),
    (frames.BlobStart, "size", 2**40, 2**40 + 1, "BlobStart.size"),
    (frames.BlobStart, "offset", 1_500_000, 1_500_001, "BlobStart.offset"),
    (frames.BlobStart, "chunk", 4096, 4095, "BlobStart.chunk"),
    (frames.BlobStart, "chunk", MAX_CHUNK_DATA, MAX_CHUNK_DATA + 1, "BlobStart.chunk"),
    (frames.Chunk, "data", b"d", b"", "Chunk.data"),
    (frames.Chunk, "data", b"d" * MAX_CHUNK_DATA, b"d" * (MAX_CHUNK_DATA + 1), "Chunk.data"),
    (frames.BlobDone, "receipt", b"r" * 256, b"r" * 257, "BlobDone.receipt"),
    (frames.OutboxItems, "items", (outbox_item(),) * 64, (outbox_item(),) * 65,
     "OutboxItems.items"),
    (frames.OutboxItems, "items", (outbox_item(uid="u" * 8),), (outbox_item(uid="u" * 7),),
     "OutboxItems.items[0].uid"),
    (frames.OutboxItems, "items", (outbox_item(uid="u" * 64),), (outbox_item(uid="u" * 65),),
     "OutboxItems.items[0].uid"),
    (frames.OutboxItems, "items", (outbox_item(uid="Az09_-Az09",),),
     (outbox_item(uid="Az09 -Az09"),), "OutboxItems.items[0].uid"),
    (frames.OutboxItems, "items", (outbox_item(signature=b"s" * 256),),
     (outbox_item(signature=b"s" * 257),), "OutboxItems.items[0].signature"),
    (frames.OutboxItems, "items", (outbox_item(body=body_of_size(MAX_RECORD_BODY)),),
     (outbox_item(body=body_of_size(MAX_RECORD_BODY + 1)),), "OutboxItems.items[0].body"),
    (frames.OutboxAck, "uids", (UID,) * 64, (UID,) * 65, "OutboxAck.uids"),
    (frames.OutboxAck, "uids", (UID,), ("d-00001",), "OutboxAck.uids[0]"),
    (frames.FirmwareOffer, "version", "v" * 64, "v" * 65, "FirmwareOffer.version"),
    (frames.FirmwareOffer, "metadata", b"m" * 65536, b"m" * 65537, "FirmwareOffer.metadata"),
    (frames.FirmwareOffer, "metadata", b"", b"", "FirmwareOffer.metadata"),
    (frames.Error, "code", "c" * 32, "c" * 33, "Error.code"),
    (frames.Error, "code", "frame_too_large", "Frame_Too_Large", "Error.code"),
    (frames.Error, "message", "m" * 500, "m" * 501, "Error.message"),
    (frames.Error, "message", "", "", "Error.message"),
]


def wire_form(value: Any) -> Any:
    """A field's value as plain CBOR values, encoded without frames.encode's checks."""
    if isinstance(value, frames.PartialBlob):
        return [value.sha, value.verified]
    if isinstance(value, frames.Record | frames.OutboxItem):
        return {f.name: wire_form(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [wire_form(item) for item in value]
    return value


@pytest.mark.parametrize(("kind", "name", "edge", "past", "where"), EDGES,
                         ids=[f"{case[4]}-{i}" for i, case in enumerate(EDGES)])
def test_bounds(kind: type, name: str, edge: Any, past: Any, where: str) -> None:
    good = dataclasses.replace(vector(kind), **{name: edge})
    assert frames.decode(frames.encode(good)) == good
    if past == edge:  # the edge is the limit itself (an empty value allowed)
        return
    bad = dataclasses.replace(vector(kind), **{name: past})
    with pytest.raises(MalformedFrame) as info:
        frames.encode(bad)
    assert str(info.value).startswith(where + ":")
    body = plain_body(good)
    body[name] = wire_form(past)
    error = refused(raw(vector(kind).TYPE, body), where + ":")
    assert str(error).startswith(where + ":")


def test_an_error_names_the_frame_and_field_and_shows_the_value() -> None:
    hello = dataclasses.replace(vector(frames.Hello), caps=("blobs", "Outbox"))
    with pytest.raises(MalformedFrame) as info:
        frames.encode(hello)
    error = info.value
    assert str(error) == "Hello.caps[1]: may hold only [a-z0-9_] (got 'Outbox')"
    assert (error.code, error.frame, error.field, error.value) == (
        "malformed_frame", "Hello", "caps[1]", "'Outbox'")
    body = plain_body(vector(frames.Hello))
    body["caps"] = ["blobs", "Outbox"]
    assert str(refused(raw(1, body), "Hello.caps[1]")) == str(error)


def test_long_bad_values_are_shown_shortened() -> None:
    error = refused(raw(17, {"code": "x" * 5000, "message": ""}), "Error.code")
    assert len(str(error)) < 200
    body = plain_body(vector(frames.Hello))
    body["session"] = b"\x01" * 5000
    error = refused(raw(1, body), "Hello.session")
    assert "5000 bytes" in str(error) and len(str(error)) < 200


# -- value rules ---------------------------------------------------------------------------


def with_field(kind: type, name: str, value: object) -> bytes:
    body = plain_body(vector(kind))
    body[name] = value
    return raw(vector(kind).TYPE, body)


def with_record_body(value: object) -> bytes:
    body = plain_body(vector(frames.Records))
    body["records"][0]["body"] = value
    return raw(frames.Records.TYPE, body)


@pytest.mark.parametrize(("data", "where", "problem"), [
    (with_field(frames.Hello, "now", cbor2.CBORTag(2, b"\x05")), "Hello.now", "tags"),
    (with_field(frames.Hello, "now", 2**64), "Hello.now", "tags"),  # cbor2 writes a bignum
    (with_field(frames.Hello, "now", cbor2.CBORTag(1, 1767225600)), "Hello.now", "tags"),
    (with_field(frames.Hello, "kiosk", cbor2.CBORTag(40000, "K-1")), "Hello.kiosk", "tags"),
    (with_field(frames.Hello, "versions", [cbor2.CBORTag(2, b"\x01")]), "Hello.versions[0]",
     "tags"),
    (cbor2.dumps(cbor2.CBORTag(55799, [16, {"counter": 1}])), "", "tags"),
    (with_record_body({"at": cbor2.CBORTag(1, 5)}), "Records.records[0].body['at']", "tags"),
    (with_record_body({"a": [cbor2.CBORTag(99, 1)]}), "Records.records[0].body['a'][0]",
     "tags"),
    (with_field(frames.Hello, "now", 1.5), "Hello.now", "floats"),
    (with_field(frames.Hello, "now", 1.0e300), "Hello.now", "floats"),
    (with_field(frames.Inventory, "more", 0.0), "Inventory.more", "floats"),
    (with_record_body({"x": 2.5}), "Records.records[0].body['x']", "floats"),
    (with_field(frames.Hello, "now", cbor2.undefined), "Hello.now", "simple values"),
    (with_field(frames.Hello, "now", cbor2.CBORSimpleValue(99)), "Hello.now", "simple values"),
    (with_record_body({"x": cbor2.undefined}), "Records.records[0].body['x']", "simple"),
    (with_field(frames.Hello, "now", -5), "Hello.now", "negative"),
    (with_record_body({"x": -1}), "Records.records[0].body['x']", "negative"),
    (with_record_body({"x": 2**63}), "Records.records[0].body['x']", "2**63-1"),
    (with_record_body({1: "x"}), "Records.records[0].body", "keys must be text"),
    (with_record_body({b"k": "x"}), "Records.records[0].body", "keys must be text"),
    (with_record_body(["not", "a", "map"]), "Records.records[0].body", "expected a map"),
    (raw(3, {"page": 0, 1: 2}), "InventoryRequest", "keys must be text"),
    (with_field(frames.Hello, "extra", 1), "Hello", "unknown key"),
    (with_field(frames.Hello, "x" * 100, 1), "Hello", "unknown key"),
    (raw(5, {**plain_body(vector(frames.Records)),
             "records": [{**wire_form(record()), "extra": 1}]}), "Records.records[0]",
     "unknown key"),
    (raw(3, {}), "InventoryRequest", "missing page"),
    (raw(16, {"counter": "x"}), "Bye.counter", "expected an unsigned integer"),
])
def test_values_outside_the_rules_are_refused(data: bytes, where: str, problem: str) -> None:
    error = refused(data, where)
    assert problem in str(error)


@pytest.mark.parametrize(("kind", "name", "value", "expected"), [
    (frames.Hello, "session", "s" * 16, "a byte string"),  # text for bytes
    (frames.Hello, "kiosk", b"K-B2-01", "text"),  # bytes for text
    (frames.Inventory, "more", 1, "true or false"),  # int for bool
    (frames.Inventory, "more", None, "true or false"),
    (frames.InventoryRequest, "page", True, "an unsigned integer"),  # bool for int
    (frames.InventoryRequest, "page", None, "an unsigned integer"),
    (frames.InventoryRequest, "page", "0", "an unsigned integer"),
    (frames.Hello, "versions", 1, "an array"),
    (frames.Records, "records", {}, "an array"),
    (frames.Welcome, "partial", [[SHA]], "an array of 2 items"),
    (frames.Records, "records", [[1, "k", "r", {}]], "a map"),
    (frames.FirmwareAnswer, "offset", [1], "an unsigned integer"),
])
def test_wrong_types_are_refused_on_the_wire(kind: type, name: str, value: object,
                                             expected: str) -> None:
    error = refused(with_field(kind, name, value), f"{kind.__name__}.{name}")
    assert f"expected {expected}" in str(error)


@pytest.mark.parametrize(("frame", "where", "problem"), [
    (frames.InventoryRequest(page=True), "InventoryRequest.page", "must be an int"),
    (frames.FirmwareAnswer(accept=1, offset=0, refusal=""),  # type: ignore[arg-type]
     "FirmwareAnswer.accept", "must be a bool"),
    (frames.Bye(counter="1"), "Bye.counter", "must be an int"),  # type: ignore[arg-type]
    (dataclasses.replace(vector(frames.Hello), versions=[1]), "Hello.versions", "must be a tuple"),
    (dataclasses.replace(vector(frames.Hello), session=bytearray(16)), "Hello.session",
     "must be bytes"),
    (dataclasses.replace(vector(frames.Hello), kiosk=b"K-1"), "Hello.kiosk", "must be a str"),
    (dataclasses.replace(vector(frames.Hello), kiosk="K-\udc80"), "Hello.kiosk", "UTF-8"),
    (frames.Records(batch=1, records=(record(body={"x": 1.5}),)),
     "Records.records[0].body['x']", "a float cannot be sent"),
    (frames.Records(batch=1, records=(record(body={"x": [1, -1]}),)),
     "Records.records[0].body['x'][1]", "integers must be"),
    (frames.Records(batch=1, records=(record(body={1: "x"}),)), "Records.records[0].body",
     "keys must be text"),
    (frames.Records(batch=1, records=(record(body={"x": {1, 2}}),)),
     "Records.records[0].body['x']", "a set cannot be sent"),
    (frames.Records(batch=1, records=(record(body=["x"]),)), "Records.records[0].body",
     "must be a mapping"),
    (frames.Records(batch=1, records=({"seq": 1},)), "Records.records[0]",  # type: ignore[arg-type]
     "must be a Record"),
    (dataclasses.replace(vector(frames.Welcome), partial=((SHA, 1),)), "Welcome.partial[0]",
     "must be a PartialBlob"),
])
def test_wrong_values_are_never_sent(frame: frames.Frame, where: str, problem: str) -> None:
    with pytest.raises(MalformedFrame) as info:
        frames.encode(frame)
    assert str(info.value).startswith(where + ":")
    assert problem in str(info.value)


def test_what_is_not_a_frame_is_not_encoded() -> None:
    with pytest.raises(UnknownFrameType):
        frames.encode("hello")  # type: ignore[arg-type]
    with pytest.raises(UnknownFrameType):
        frames.encode(record())  # type: ignore[arg-type]


PAGE_KEY = b"\x64page"


@pytest.mark.parametrize(("data", "problem"), [
    (b"\x82\x03\xa2" + PAGE_KEY + b"\x00" + PAGE_KEY + b"\x01", "duplicate key"),
    (b"\x82\x03\xa1" + PAGE_KEY + b"\x18\x05", "shortest form"),  # 5 in two bytes
    (b"\x82\x03\xa1\x78\x04page\x00", "shortest form"),  # a key's length in two bytes
    (b"\x98\x02\x03\xa1" + PAGE_KEY + b"\x00", "shortest form"),
    (b"\x9f\x03\xa1" + PAGE_KEY + b"\x00\xff", "indefinite"),
    (b"\x82\x03\xbf" + PAGE_KEY + b"\x00\xff", "indefinite"),
    (b"\x82\x03\xa1\x7f\x64page\xff\x00", "indefinite"),
    (b"\x82\x03\xa1" + PAGE_KEY + b"\x1c", "reserved"),
    (b"\x82\x03\xa1" + PAGE_KEY + b"\xff", "indefinite"),
    (b"\x82\x03\xa1\x64pag\xff\x00", "UTF-8"),
    (b"\x82\x03\xa1" + PAGE_KEY + b"\x00\x00", "after the end"),
    (b"\xa0", "expected a frame"),
    (b"\x83\x03\xa1" + PAGE_KEY + b"\x00\x00", "expected a frame"),
    (b"\x82\x63\x03\xa1" + PAGE_KEY + b"\x00", "expected a frame type"),
    (b"", "the data ends"),
])
def test_malformed_cbor_is_refused(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedFrame) as info:
        frames.decode_body(data)
    assert problem in str(info.value)


def test_duplicate_and_unordered_keys_are_refused() -> None:
    data = with_record_body({"a": 1, "b": 2})
    duplicate = data.replace(b"\x61b\x02", b"\x61a\x02")
    assert str(refused(duplicate, "")) == "Records.records[0].body: duplicate key (got 'a')"
    swapped = data.replace(b"\x61a\x01\x61b\x02", b"\x61b\x02\x61a\x01")
    assert "canonical order" in str(refused(swapped, "Records.records[0].body"))
    # The keys of a frame too: "durable" (7 bytes) may not come before "sha" (3).
    chunk_ack = b"\x82\x09\xa2\x67durable\x00\x63sha\x58\x20" + SHA
    assert "canonical order" in str(refused(chunk_ack, "ChunkAck"))
    assert frames.decode_body(b"\x82\x09\xa2\x63sha\x58\x20" + SHA + b"\x67durable\x00") \
        == frames.ChunkAck(sha=SHA, durable=0)


@pytest.mark.parametrize("number", [0, 21, 255, 2**32, 2**63 - 1])
def test_unknown_frame_types_are_refused(number: int) -> None:
    with pytest.raises(UnknownFrameType) as info:
        frames.decode_body(raw(number, {}))
    assert info.value.code == "unknown_frame_type"
    assert str(number) in str(info.value)


# -- lengths, prefixes and truncation ---------------------------------------------------------


def test_decode_wants_the_prefix_to_match() -> None:
    data = frames.encode(vector(frames.Hello))
    for bad in (data[:-1], data + b"\x00", data[:3], b"",
                (len(data) - 3).to_bytes(4, "big") + data[4:]):
        with pytest.raises(MalformedFrame):
            frames.decode(bad)
    with pytest.raises(FrameTooLarge):
        frames.decode((MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(FrameTooLarge):
        frames.decode_body(b"\x00" * (MAX_FRAME + 1))


def test_a_frame_over_the_limit_is_not_encoded() -> None:
    big = record(body=body_of_size(MAX_RECORD_BODY))
    with pytest.raises(FrameTooLarge) as info:
        frames.encode(frames.Records(batch=1, records=(big,) * 17))
    assert info.value.code == "frame_too_large"


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_every_truncation_of_a_frame_is_refused(name: str) -> None:
    data = payload(FRAMES[name])
    for size in range(len(data)):
        with pytest.raises(MalformedFrame):
            frames.decode_body(data[:size])


# -- random and mutated bytes -------------------------------------------------------------------


def decodes_cleanly(data: bytes, *, prefixed: bool = False) -> None:
    """``data`` is refused with a WireError (that no stray exception caused), or
    is a frame whose encoding is exactly ``data``: one encoding per frame."""
    try:
        frame = frames.decode(data) if prefixed else frames.decode_body(data)
    except WireError as e:
        assert e.__cause__ is None, f"a stray {type(e.__cause__).__name__} behind {e}"
        return
    encoded = frames.encode(frame)
    assert (encoded if prefixed else encoded[4:]) == data


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_wire_errors(data: bytes) -> None:
    decodes_cleanly(data)
    decodes_cleanly(data, prefixed=True)
    decodes_cleanly(len(data).to_bytes(4, "big") + data, prefixed=True)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 17), st.binary(max_size=300))
def test_random_bodies_after_a_good_start_only_raise_wire_errors(number: int,
                                                                  data: bytes) -> None:
    decodes_cleanly(bytes([0x82, number]) + data)
    decodes_cleanly(bytes([0x82, number, 0xa0 + data[0] % 8]) + data[1:] if data else b"")


# Strategies built from the same field specs that the codec uses.

def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


SCALARS = (st.none() | st.booleans() | st.integers(0, 2**63 - 1) | st.text(max_size=12)
           | st.binary(max_size=12))
BODIES = st.dictionaries(st.text(max_size=8), st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8),
    max_size=4).filter(lambda body: _depth(body) <= frames.MAX_BODY_DEPTH)


def strategy(kind: codec.Kind) -> st.SearchStrategy[Any]:
    if isinstance(kind, codec.UInt):
        return st.integers(kind.lo, kind.hi)
    if isinstance(kind, codec.Bool):
        return st.booleans()
    if isinstance(kind, codec.Bytes):
        return st.binary(min_size=kind.lo, max_size=min(kind.hi, kind.lo + 40))
    if isinstance(kind, codec.Text):
        if kind.charset:
            return st.from_regex(f"[{kind.charset}]{{{kind.lo},{kind.hi}}}", fullmatch=True)
        return st.text(min_size=kind.lo, max_size=kind.hi)
    if isinstance(kind, codec.Array):
        return st.lists(strategy(kind.item), min_size=kind.lo,
                        max_size=max(kind.lo, min(kind.hi, 4))).map(tuple)
    if isinstance(kind, codec.Struct | codec.Pair):
        return frame_strategy(kind.cls)
    assert isinstance(kind, codec.Body)
    return BODIES


def frame_strategy(cls: type) -> st.SearchStrategy[Any]:
    built = st.builds(cls, **{name: strategy(kind)
                              for name, kind in codec.field_kinds(cls).items()})
    if cls is frames.BlobStart:
        built = built.filter(lambda frame: frame.offset <= frame.size)
    return built


ANY_FRAME = st.one_of([frame_strategy(cls) for cls in frames.FRAME_TYPES])


@settings(max_examples=300, deadline=None)
@given(ANY_FRAME)
def test_generated_frames_round_trip(frame: frames.Frame) -> None:
    data = frames.encode(frame)
    assert frames.decode(data) == frame
    assert frames.encode(frames.decode(data)) == data
    assert data == len(data[4:]).to_bytes(4, "big") + cbor2.dumps(
        cbor2.loads(data[4:]), canonical=True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_FRAME | st.sampled_from(list(FRAMES.values())), st.data())
def test_mutated_frames_are_refused_or_still_valid(frame: frames.Frame,
                                                   data: st.DataObject) -> None:
    body = bytearray(payload(frame))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(body) - 1))
        edit = data.draw(st.sampled_from(["set", "insert", "delete"]))
        byte = data.draw(st.integers(0, 255))
        if edit == "set":
            body[at] = byte
        elif edit == "insert":
            body.insert(at, byte)
        elif len(body) > 1:
            del body[at]
    decodes_cleanly(bytes(body))


# -- frames over transports ---------------------------------------------------------------------


class BytePipe:
    """An in-memory byte pipe: what is sent can then be received (one thread).
    It keeps the size of every read, to show what was read."""

    def __init__(self, data: bytes = b"") -> None:
        self.buffer = bytearray(data)
        self.reads: list[int] = []

    def send(self, data: bytes, timeout: float) -> None:
        self.buffer += data

    def recv_into(self, buffer: memoryview, timeout: float) -> int:
        self.reads.append(len(buffer))
        if not self.buffer:
            raise TimeoutError(f"nothing within {timeout} s")
        size = min(len(buffer), len(self.buffer))
        buffer[:size] = self.buffer[:size]
        del self.buffer[:size]
        return size


def _secure_channel_is_a_frame_transport(channel: SecureChannel) -> FrameTransport:
    return channel  # what mypy checks


def test_frames_through_a_byte_pipe() -> None:
    pipe = BytePipe()
    sender, receiver = FrameStream(pipe), FrameStream(pipe)
    for frame in FRAMES.values():
        sender.send(frame, timeout=1)
    assert [receiver.recv(timeout=1) for _ in FRAMES] == list(FRAMES.values())
    total = sum(len(data) for data in vectors().values())
    assert sender.bytes_sent == receiver.bytes_received == total
    assert not pipe.buffer


def test_a_length_over_the_limit_is_refused_before_the_body_is_read() -> None:
    pipe = BytePipe((MAX_FRAME + 1).to_bytes(4, "big") + b"\x00" * 100)
    with pytest.raises(FrameTooLarge):
        FrameStream(pipe).recv(timeout=1)
    assert pipe.reads == [4]
    assert len(pipe.buffer) == 100
    chunk = frames.encode(vector(frames.Chunk))
    pipe = BytePipe(chunk)
    with pytest.raises(FrameTooLarge):
        FrameStream(pipe, max_frame=len(chunk) - 5).recv(timeout=1)
    assert pipe.reads == [4]
    assert FrameStream(BytePipe(chunk), max_frame=len(chunk) - 4).recv(timeout=1) == \
        vector(frames.Chunk)


def test_a_stream_refuses_limits_it_cannot_keep() -> None:
    for limit in (0, MAX_FRAME + 1):
        with pytest.raises(ValueError, match="max_frame"):
            FrameStream(BytePipe(), max_frame=limit)


def test_bad_frames_and_transport_errors_on_a_stream() -> None:
    with pytest.raises(MalformedFrame):
        FrameStream(BytePipe(b"\x00\x00\x00\x00")).recv(timeout=1)
    bad = raw(3, {"page": -1})
    with pytest.raises(MalformedFrame, match=r"InventoryRequest\.page"):
        FrameStream(BytePipe(len(bad).to_bytes(4, "big") + bad)).recv(timeout=1)
    truncated = frames.encode(vector(frames.Hello))[:-3]
    with pytest.raises(TimeoutError):  # the transport's own error, unchanged
        FrameStream(BytePipe(truncated)).recv(timeout=1)
    with pytest.raises(TimeoutError):
        FrameStream(BytePipe()).recv(timeout=1)

    class Closed(BytePipe):
        def recv_into(self, buffer: memoryview, timeout: float) -> int:
            raise ChannelClosed("the peer closed the channel")

    with pytest.raises(ChannelClosed):
        FrameStream(Closed()).recv(timeout=1)

    class Empty(BytePipe):  # breaks its promise of at least one byte
        def recv_into(self, buffer: memoryview, timeout: float) -> int:
            return 0

    with pytest.raises(MalformedFrame, match="the transport gave 0 bytes"):
        FrameStream(Empty()).recv(timeout=1)
    pipe = BytePipe()
    with pytest.raises(MalformedFrame):
        FrameStream(pipe).send(frames.Bye(counter=-1), timeout=1)
    assert not pipe.buffer  # nothing is sent of a frame the peer must refuse


class PipeEnd:
    """One end of a pair of OS pipes: a byte stream between two threads."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd

    def send(self, data: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while view:
            if not select.select([], [self.write_fd], [], deadline - time.monotonic())[1]:
                raise TimeoutError("the pipe stayed full")
            view = view[os.write(self.write_fd, view):]

    def recv_into(self, buffer: memoryview, timeout: float) -> int:
        if not select.select([self.read_fd], [], [], timeout)[0]:
            raise TimeoutError(f"nothing within {timeout} s")
        got = os.readv(self.read_fd, [buffer])
        if not got:
            raise ChannelClosed("the other end closed the pipe")
        return got


@pytest.fixture
def pipes() -> Iterator[tuple[PipeEnd, PipeEnd]]:
    down_r, down_w = os.pipe()
    up_r, up_w = os.pipe()
    yield PipeEnd(up_r, down_w), PipeEnd(down_r, up_w)
    for fd in (down_r, down_w, up_r, up_w):
        os.close(fd)


def test_frames_through_os_pipes_between_two_threads(pipes: tuple[PipeEnd, PipeEnd]) -> None:
    kiosk_end, tablet_end = pipes
    kiosk, tablet = FrameStream(kiosk_end), FrameStream(tablet_end)
    sent = [*FRAMES.values(), frames.Chunk(sha=SHA, offset=0, data=os.urandom(MAX_CHUNK_DATA)),
            frames.Done(through=1, blobs=1)]

    def tablet_side() -> int:
        count = 0
        while True:
            frame = tablet.recv(timeout=10)
            tablet.send(frame, timeout=10)  # each frame back, as its acknowledgement
            count += 1
            if isinstance(frame, frames.Done) and frame.through == 1:
                return count

    answered = background(tablet_side)
    for frame in sent:
        kiosk.send(frame, timeout=10)
        assert kiosk.recv(timeout=10) == frame
    assert answered.result(timeout=10) == len(sent)
    assert kiosk.bytes_sent == tablet.bytes_received == kiosk.bytes_received \
        == tablet.bytes_sent > MAX_CHUNK_DATA


def test_frames_through_the_secure_channel(tmp_path: Path) -> None:
    facility = Facility(tmp_path / "facility")
    kiosk_cert = facility.issue(Role.KIOSK, "K-B2-01")
    tablet_cert = facility.issue(Role.TABLET, "tablet JP5S-000001", "JP5S-000001")
    kiosk_end, tablet_end = stream_pair()
    accepted = background(SecureChannel.accept, tablet_end,
                          make_context("accept", tablet_cert.credentials, facility.ca))
    kiosk = FrameStream(SecureChannel.connect(
        kiosk_end, make_context("connect", kiosk_cert.credentials, facility.ca)))
    tablet = FrameStream(accepted.result(timeout=10))
    chunk = frames.Chunk(sha=SHA, offset=0, data=os.urandom(MAX_CHUNK_DATA))
    for frame in (vector(frames.Hello), chunk, vector(frames.Records)):
        kiosk.send(frame, timeout=10)
        assert tablet.recv(timeout=10) == frame
    tablet.send(vector(frames.Bye), timeout=10)
    assert kiosk.recv(timeout=10) == vector(frames.Bye)


def test_a_frame_arriving_in_pieces_is_kept_across_polls() -> None:
    data = frames.encode(vector(frames.Records)) + frames.encode(vector(frames.Bye))
    pieces: list[bytes | None] = [data[:3], None, data[3:40], None, None, data[40:]]

    class Dribble:
        def send(self, data: bytes, timeout: float) -> None:
            raise AssertionError("nothing is sent")

        def recv_into(self, buffer: memoryview, timeout: float) -> int:
            if not pieces:
                raise TimeoutError("nothing more")
            piece = pieces[0]
            if piece is None:
                pieces.pop(0)
                raise TimeoutError("a pause")
            size = min(len(buffer), len(piece))
            buffer[:size] = piece[:size]
            if size == len(piece):
                pieces.pop(0)
            else:
                pieces[0] = piece[size:]
            return size

    stream = FrameStream(Dribble())
    assert stream.poll(0.01) is None
    assert stream.poll(0.01) is None
    assert stream.poll(0.01) is None
    assert stream.recv(timeout=1) == vector(frames.Records)
    assert stream.poll(0.01) == vector(frames.Bye)
    assert stream.bytes_received == len(data)
    assert stream.poll(0.01) is None


# -- sending a chunk without copying it -----------------------------------------------------------


@pytest.mark.parametrize("size", [1, frames.SPLIT_BYTES - 1, frames.SPLIT_BYTES, 300_001,
                                  MAX_CHUNK_DATA])
def test_the_parts_of_a_frame_are_its_encoding(size: int) -> None:
    data = os.urandom(size)
    frame = frames.Chunk(sha=SHA, offset=2**33, data=data)
    parts = frames.encode_parts(frame)
    assert b"".join(parts) == frames.encode(frame)
    assert any(part is data for part in parts) == (size >= frames.SPLIT_BYTES)
    big = frames.FirmwareOffer("2.0", 10, SHA, b"m" * 65536)
    assert b"".join(frames.encode_parts(big)) == frames.encode(big)


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_every_vector_in_parts(name: str) -> None:
    assert b"".join(frames.encode_parts(FRAMES[name])) == vectors()[name]


@settings(max_examples=200, deadline=None)
@given(ANY_FRAME)
def test_generated_frames_in_parts(frame: frames.Frame) -> None:
    assert b"".join(frames.encode_parts(frame)) == frames.encode(frame)


def test_parts_are_checked_as_encode_checks() -> None:
    with pytest.raises(MalformedFrame, match=r"Chunk\.data"):
        frames.encode_parts(frames.Chunk(sha=SHA, offset=0, data=b"d" * (MAX_CHUNK_DATA + 1)))
    with pytest.raises(MalformedFrame, match=r"Chunk\.sha"):
        frames.encode_parts(frames.Chunk(sha=SHA[:5], offset=0, data=b"d" * MAX_CHUNK_DATA))


# -- the number of data items in a frame ----------------------------------------------------------


def items_in(frame: frames.Frame) -> int:
    return codec.count_items(cbor2.loads(payload(frame)))


def records_with_items(total: int) -> frames.Records:
    """A Records frame of exactly ``total`` CBOR data items: four records whose
    bodies are arrays of small integers (one byte, one item each)."""
    base = items_in(frames.Records(0, tuple(record(body={"a": []}) for _ in range(4))))
    extra = total - base
    sizes = [extra // 4 + (1 if i < extra % 4 else 0) for i in range(4)]
    return frames.Records(0, tuple(record(body={"a": [0] * n}) for n in sizes))


def wire_form_frame(frame: frames.Frame) -> dict[str, Any]:
    return {f.name: wire_form(getattr(frame, f.name)) for f in dataclasses.fields(frame)}


def test_a_frame_of_exactly_the_allowed_items_is_read() -> None:
    frame = records_with_items(frames.MAX_FRAME_ITEMS)
    assert items_in(frame) == frames.MAX_FRAME_ITEMS
    assert frames.decode(frames.encode(frame)) == frame


def test_one_item_more_is_refused_and_never_sent() -> None:
    frame = records_with_items(frames.MAX_FRAME_ITEMS + 1)
    error = refused(raw(5, wire_form_frame(frame)), "Records.records[3].body['a']")
    assert f"more than {frames.MAX_FRAME_ITEMS} CBOR data items in one frame" in str(error)
    assert "an array of" in str(error)
    with pytest.raises(MalformedFrame, match="CBOR data items"):
        frames.encode(frame)
    with pytest.raises(MalformedFrame, match="CBOR data items"):
        frames.encode_parts(frame)


@pytest.mark.parametrize("filler", [0, [], {}, "x", b"x", [[[[[[0]]]]]]],
                         ids=["ints", "arrays", "maps", "texts", "bytes", "nests"])
def test_a_megabyte_of_tiny_items_is_refused(filler: Any) -> None:
    """512 records whose bodies fill a whole frame with tiny items: refused once
    the allowance is spent, in the record where it ran out."""
    unit = len(cbor2.dumps(filler))
    per_body = (MAX_FRAME - 20_000) // 512 // unit
    body = raw(5, {"batch": 0, "records": [
        {"seq": i + 1, "kind": "m", "ref": "r", "body": {"a": [filler] * per_body}}
        for i in range(512)]})
    assert len(body) <= MAX_FRAME
    error = refused(body, "Records.records[")
    assert "CBOR data items in one frame" in str(error)
    assert error.field is not None
    where = int(error.field.removeprefix("records[").split("]")[0])
    assert where < 400  # long before the end of the frame


def test_the_largest_honest_frames_are_read() -> None:
    inventory = frames.Inventory(page=0, blobs=(SHA,) * 16384, more=True)
    assert frames.decode(frames.encode(inventory)) == inventory
    # One record with as many items as MAX_RECORD_BODY bytes can hold travels alone.
    dense = record(body={"": [0] * (MAX_RECORD_BODY - 5)})
    assert len(cbor2.dumps(dict(dense.body), canonical=True)) == MAX_RECORD_BODY
    assert frames.decode(frames.encode(frames.Records(0, (dense,)))) == frames.Records(0, (dense,))
    # A full batch of messages as the kiosk sends them.
    message = {"uid": "m-000001", "body": "x" * 400, "contact_name": "Rosa Diaz",
               "direction": "to_resident", "attachments": [
                   {"kind": "photo", "sha256": "ab" * 32, "size": 200_000,
                    "media_type": "image/jpeg"}] * 4}
    batch = frames.Records(7, tuple(record(seq=i + 1, body=message) for i in range(512)))
    assert frames.decode(frames.encode(batch)) == batch


def test_the_kiosk_batches_records_within_the_item_allowance() -> None:
    from sync.session import _records_batch
    dense = [record(seq=i + 1, body={"a": [0] * 600}) for i in range(512)]
    sent = 0
    while sent < len(dense):
        batch = _records_batch(dense[sent:])
        assert batch
        assert items_in(frames.Records(0, batch)) <= frames.MAX_FRAME_ITEMS
        frames.decode(frames.encode(frames.Records(0, batch)))
        sent += len(batch)
    assert len(_records_batch(dense)) < 512
