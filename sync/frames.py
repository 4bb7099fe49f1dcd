"""The frames of the kiosk-tablet sync session (protocol version 1), declared
for the strict codec (base/codec.py). docs/protocol.md is the reference."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from base import codec
from base.codec import (
    Array,
    Body,
    Bool,
    Bytes,
    FrameCodec,
    Pair,
    Struct,
    Text,
    UInt,
    check_failed,
    wire,
)
from sync.errors import WIRE_ERRORS

PROTOCOL_VERSION = 1
PREFIX_SIZE = codec.PREFIX_SIZE  # the frame's length, big-endian
MAX_UINT = codec.MAX_UINT
MAX_CHUNK_DATA = 1024 * 1024
MAX_FRAME = MAX_CHUNK_DATA + 4 * 1024
MAX_RECORD_BODY = 64 * 1024
MAX_BODY_DEPTH = 8
MAX_BLOB_SIZE = 2**40
MIN_CHUNK = 4096
MAX_FRAME_ITEMS = 2**17  # CBOR data items in one frame, containers and their contents
SPLIT_BYTES = 16 * 1024  # a byte string this long is sent from where it is, not copied

# The codes an Error frame carries for a fault in the format itself; the
# session adds its own (docs/protocol.md lists them all).
FRAME_TOO_LARGE = "frame_too_large"
MALFORMED_FRAME = "malformed_frame"
UNKNOWN_FRAME_TYPE = "unknown_frame_type"
UNSUPPORTED_VERSION = "unsupported_version"

_SHA256 = Bytes(32, 32)
_RECEIPT = Bytes(1, 256)
_NAME = Text(1, 64)
_CAPS = Array(Text(1, 32, "a-z0-9_"), 0, 16)
_ITEM_KIND = Text(1, 24)
_UID = Text(8, 64, "A-Za-z0-9_-")
_VERSION = UInt(1, 0xFFFF)
_CODE_OR_EMPTY = Text(0, 32, "a-z0-9_")
_WORD = Text(1, 32, "A-Za-z0-9_-")


# -- what frames hold -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartialBlob:
    """A blob the tablet holds in part: how many of its first bytes are durable."""

    sha: bytes = field(metadata=wire(_SHA256))
    verified: int = field(metadata=wire(UInt()))


@dataclass(frozen=True, slots=True)
class Record:
    """One record of the resident's feed. ``body`` is compared but not hashed."""

    seq: int = field(metadata=wire(UInt()))
    kind: str = field(metadata=wire(_ITEM_KIND))
    ref: str = field(metadata=wire(_NAME))
    body: Mapping[str, Any] = field(hash=False, metadata=wire(Body()))


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One item written on the tablet (a draft, a receipt), signed by its device key."""

    uid: str = field(metadata=wire(_UID))
    kind: str = field(metadata=wire(_ITEM_KIND))
    body: Mapping[str, Any] = field(hash=False, metadata=wire(Body()))
    signature: bytes = field(metadata=wire(_RECEIPT))


# -- the frames -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """1, kiosk → tablet: the versions and capabilities the kiosk speaks, who it
    is, a fresh session id and its clock."""

    TYPE: ClassVar[int] = 1
    versions: tuple[int, ...] = field(metadata=wire(Array(_VERSION, 1, 8)))
    caps: tuple[str, ...] = field(metadata=wire(_CAPS))
    kiosk: str = field(metadata=wire(_NAME))
    session: bytes = field(metadata=wire(Bytes(16, 16)))
    now: int = field(metadata=wire(UInt()))


@dataclass(frozen=True, slots=True)
class Welcome:
    """2, tablet → kiosk: the chosen version and what the tablet has."""

    TYPE: ClassVar[int] = 2
    version: int = field(metadata=wire(_VERSION))
    caps: tuple[str, ...] = field(metadata=wire(_CAPS))
    serial: str = field(metadata=wire(_NAME))
    counter: int = field(metadata=wire(UInt()))
    firmware: str = field(metadata=wire(_NAME))
    free_bytes: int = field(metadata=wire(UInt()))
    cursor: int = field(metadata=wire(UInt()))
    blobs_digest: bytes = field(metadata=wire(_SHA256))
    partial: tuple[PartialBlob, ...] = field(metadata=wire(Array(Pair(PartialBlob), 0, 64)))
    outbox: int = field(metadata=wire(UInt()))


@dataclass(frozen=True, slots=True)
class InventoryRequest:
    """3, kiosk → tablet: send page ``page`` of your blob list."""

    TYPE: ClassVar[int] = 3
    page: int = field(metadata=wire(UInt()))


@dataclass(frozen=True, slots=True)
class Inventory:
    """4, tablet → kiosk: one page of the blobs the tablet holds in full."""

    TYPE: ClassVar[int] = 4
    page: int = field(metadata=wire(UInt()))
    blobs: tuple[bytes, ...] = field(metadata=wire(Array(_SHA256, 0, 16384)))
    more: bool = field(metadata=wire(Bool()))


@dataclass(frozen=True, slots=True)
class Records:
    """5, kiosk → tablet: a batch of feed records."""

    TYPE: ClassVar[int] = 5
    batch: int = field(metadata=wire(UInt()))
    records: tuple[Record, ...] = field(metadata=wire(Array(Struct(Record), 0, 512)))


@dataclass(frozen=True, slots=True)
class RecordsAck:
    """6, tablet → kiosk: the batch is durable through sequence ``through``."""

    TYPE: ClassVar[int] = 6
    batch: int = field(metadata=wire(UInt()))
    through: int = field(metadata=wire(UInt()))
    receipt: bytes = field(metadata=wire(_RECEIPT))


def _offset_within_size(frame: BlobStart) -> None:
    if frame.offset > frame.size:
        raise check_failed(f"must not be past size ({frame.size})", "offset", frame.offset)


@dataclass(frozen=True, slots=True)
class BlobStart:
    """7, kiosk → tablet: a blob follows, from ``offset``, in chunks of ``chunk`` bytes."""

    TYPE: ClassVar[int] = 7
    sha: bytes = field(metadata=wire(_SHA256))
    size: int = field(metadata=wire(UInt(0, MAX_BLOB_SIZE)))
    offset: int = field(metadata=wire(UInt(0, MAX_BLOB_SIZE)))
    chunk: int = field(metadata=wire(UInt(MIN_CHUNK, MAX_CHUNK_DATA)))


@dataclass(frozen=True, slots=True)
class Chunk:
    """8, kiosk → tablet: bytes of a blob at ``offset``."""

    TYPE: ClassVar[int] = 8
    sha: bytes = field(metadata=wire(_SHA256))
    offset: int = field(metadata=wire(UInt()))
    data: bytes = field(metadata=wire(Bytes(1, MAX_CHUNK_DATA)))


@dataclass(frozen=True, slots=True)
class ChunkAck:
    """9, tablet → kiosk: this many bytes of the blob are durable."""

    TYPE: ClassVar[int] = 9
    sha: bytes = field(metadata=wire(_SHA256))
    durable: int = field(metadata=wire(UInt()))


@dataclass(frozen=True, slots=True)
class BlobDone:
    """10, tablet → kiosk: the blob is complete, verified and durable; when it
    is the file of the owner's purchases, the delivery receipt naming them."""

    TYPE: ClassVar[int] = 10
    sha: bytes = field(metadata=wire(_SHA256))
    receipt: bytes = field(metadata=wire(_RECEIPT))
    entitlements: tuple[int, ...] = field(metadata=wire(Array(UInt(), 0, 64)))
    delivery: bytes = field(metadata=wire(Bytes(0, 256)))  # empty without entitlements


@dataclass(frozen=True, slots=True)
class OutboxItems:
    """11, tablet → kiosk: items waiting to go up."""

    TYPE: ClassVar[int] = 11
    items: tuple[OutboxItem, ...] = field(metadata=wire(Array(Struct(OutboxItem), 0, 64)))
    more: bool = field(metadata=wire(Bool()))


@dataclass(frozen=True, slots=True)
class OutboxAck:
    """12, kiosk → tablet: these items are stored on the kiosk; drop them."""

    TYPE: ClassVar[int] = 12
    uids: tuple[str, ...] = field(metadata=wire(Array(_UID, 0, 64)))


@dataclass(frozen=True, slots=True)
class FirmwareOffer:
    """13, kiosk → tablet: a signed firmware image is available: its name in
    the signed targets, size and SHA-256, and the metadata to check it with."""

    TYPE: ClassVar[int] = 13
    version: str = field(metadata=wire(_NAME))
    size: int = field(metadata=wire(UInt()))
    sha: bytes = field(metadata=wire(_SHA256))
    metadata: bytes = field(metadata=wire(Bytes(0, 64 * 1024)))


@dataclass(frozen=True, slots=True)
class FirmwareAnswer:
    """14, tablet → kiosk: whether the tablet wants the image, and from where."""

    TYPE: ClassVar[int] = 14
    accept: bool = field(metadata=wire(Bool()))
    offset: int = field(metadata=wire(UInt()))
    refusal: str = field(metadata=wire(_CODE_OR_EMPTY))  # why the image was refused, or ""


@dataclass(frozen=True, slots=True)
class Done:
    """15, kiosk → tablet: the kiosk has nothing more to send."""

    TYPE: ClassVar[int] = 15
    through: int = field(metadata=wire(UInt()))
    blobs: int = field(metadata=wire(UInt()))


@dataclass(frozen=True, slots=True)
class Bye:
    """16, tablet → kiosk: the session is over; the counter it ends on."""

    TYPE: ClassVar[int] = 16
    counter: int = field(metadata=wire(UInt()))


@dataclass(frozen=True, slots=True)
class Error:
    """17, either way: the sender stops the session, for the reason ``code``."""

    TYPE: ClassVar[int] = 17
    code: str = field(metadata=wire(Text(1, 32, "a-z0-9_")))
    message: str = field(metadata=wire(Text(0, 500)))


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """18, tablet → kiosk, right after Welcome when both speak ``firmware``:
    what the tablet runs and from which slot, the root metadata version it
    trusts, its feature switches' version, and a fresh nonce for the kiosk's
    signed time."""

    TYPE: ClassVar[int] = 18
    model: str = field(metadata=wire(_WORD))
    kind: str = field(metadata=wire(_WORD))
    version: int = field(metadata=wire(UInt()))
    slot: str = field(metadata=wire(Text(1, 1, "ab")))
    event: str = field(metadata=wire(Text(1, 16, "a-z_")))
    root_version: int = field(metadata=wire(UInt()))
    features: int = field(metadata=wire(UInt()))
    nonce: bytes = field(metadata=wire(Bytes(16, 16)))


@dataclass(frozen=True, slots=True)
class SignedTime:
    """19, kiosk → tablet: the kiosk's clock, signed, answering the nonce."""

    TYPE: ClassVar[int] = 19
    token: bytes = field(metadata=wire(Bytes(1, 512)))


@dataclass(frozen=True, slots=True)
class FeatureSwitch:
    name: str = field(metadata=wire(Text(1, 32, "a-z0-9_")))
    enabled: bool = field(metadata=wire(Bool()))


@dataclass(frozen=True, slots=True)
class Features:
    """20, kiosk → tablet: the agency's feature switches, newer than the
    tablet's (``version``: when they last changed)."""

    TYPE: ClassVar[int] = 20
    version: int = field(metadata=wire(UInt()))
    switches: tuple[FeatureSwitch, ...] = field(metadata=wire(Array(Pair(FeatureSwitch), 0, 64)))


Frame: TypeAlias = (Hello | Welcome | InventoryRequest | Inventory | Records | RecordsAck
                    | BlobStart | Chunk | ChunkAck | BlobDone | OutboxItems | OutboxAck
                    | FirmwareOffer | FirmwareAnswer | Done | Bye | Error | DeviceStatus
                    | SignedTime | Features)

FRAME_TYPES: tuple[type[Frame], ...] = (
    Hello, Welcome, InventoryRequest, Inventory, Records, RecordsAck, BlobStart, Chunk,
    ChunkAck, BlobDone, OutboxItems, OutboxAck, FirmwareOffer, FirmwareAnswer, Done, Bye, Error,
    DeviceStatus, SignedTime, Features)

CODEC = FrameCodec("sync protocol version 1", FRAME_TYPES, max_frame=MAX_FRAME,
                   max_items=MAX_FRAME_ITEMS, split_bytes=SPLIT_BYTES,
                   checks={BlobStart: _offset_within_size}, errors=WIRE_ERRORS)


def encode(frame: Frame) -> bytes:
    """The complete frame: the length prefix, then canonical CBOR. Raises
    MalformedFrame, FrameTooLarge or UnknownFrameType (sync.errors) for a
    frame the peer would refuse."""
    return CODEC.encode(frame)


def encode_parts(frame: Frame) -> list[bytes]:
    """:func:`encode`'s bytes in pieces, a chunk's data uncopied."""
    return CODEC.encode_parts(frame)


def decode_body(payload: bytes | bytearray | memoryview) -> Frame:
    """Decode what follows the length prefix. Raises FrameTooLarge,
    UnknownFrameType or MalformedFrame; never any other exception."""
    frame: Frame = CODEC.decode_body(payload)
    return frame


def decode(data: bytes | bytearray | memoryview) -> Frame:
    """Decode exactly one complete frame, length prefix included."""
    frame: Frame = CODEC.decode(data)
    return frame


