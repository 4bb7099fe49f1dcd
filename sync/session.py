"""The kiosk-tablet sync session, both sides, as state machines over frames:
:func:`run_kiosk` drives, :func:`serve_tablet` answers. docs/protocol.md
("The session") gives the steps and their frames. An unplug ends a session
anywhere and the next dock resumes from what the tablet made durable; a frame
that breaks the format or comes out of order ends it with an ``Error`` frame.
The tablet writes, syncs and hashes chunks on a thread of its own
(:class:`_BlobWrites`) while it reads the next frame. When both ends speak
``firmware`` (sync/firmware_step.py), the tablet reports what it runs, and
the kiosk ends with the signed time, the feature switches and, when there is
one, a firmware image."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NoReturn, Protocol, TypeVar, cast

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from base import codec
from device_security.errors import IntegrityError
from sync import frames
from sync.errors import BlobMismatchError, SessionError, StatementError, WireError
from sync.firmware_step import (
    Answer,
    FirmwareStatus,
    KioskFirmware,
    OfferedImage,
    TabletFirmware,
)
from sync.frames import (
    BlobDone,
    BlobStart,
    Bye,
    Chunk,
    ChunkAck,
    DeviceStatus,
    Done,
    Features,
    FeatureSwitch,
    FirmwareAnswer,
    FirmwareOffer,
    Frame,
    Hello,
    Inventory,
    InventoryRequest,
    OutboxAck,
    OutboxItem,
    OutboxItems,
    PartialBlob,
    Record,
    Records,
    RecordsAck,
    SignedTime,
    Welcome,
)
from sync.receipts import delivery_fields, draft_fields, request_fields, verify
from sync.stream import FrameStream

log = logging.getLogger(__name__)

VERSIONS = (frames.PROTOCOL_VERSION,)
CAPS = ("blobs", "outbox", "records")  # the steps this side speaks (Hello.caps, Welcome.caps)
FIRMWARE = "firmware"  # spoken by an end that has firmware to offer or to take
REQUIRED_CAPS = frozenset({"blobs", "records"})  # a session without these is no sync
CHUNK = frames.MAX_CHUNK_DATA
WINDOW = 4  # frames in flight before the sender waits for an acknowledgement
FRAME_TIMEOUT = 30.0  # the longest wait for the peer's next frame
WRITES_QUEUED = 4 * CHUNK  # bytes of blobs the tablet holds received, not yet being written
START_COST = 64 * 1024  # what a BlobStart counts for in WRITES_QUEUED
ACK_POLL = 0.002  # while chunks are being written, how often the tablet looks up from the link
RECORDS_PER_BATCH = 512
BATCH_BYTES = 768 * 1024  # records' bodies per batch, well inside MAX_FRAME
INVENTORY_PAGE = 16384
FRAME_ITEMS = frames.MAX_FRAME_ITEMS - 64  # data items for the records or outbox items of a frame
ITEM_ITEMS = 8  # a record's (or outbox item's) own: its map, four keys, three fields
OUTBOX_PAGE = 64
FIRMWARE_CHUNK = frames.MAX_CHUNK_DATA  # one at a time: an unplug costs at most one twice


@dataclass(frozen=True)
class OutboxBounds:
    """How much of a tablet's outbox the kiosk takes in one dock: at most
    ``items`` items, ``bytes`` bytes (each item's body and signature as sent)
    and ``seconds`` from the first outbox frame. What is left stays on the
    tablet, unacknowledged, for the next dock (docs/protocol.md, "Up first")."""

    items: int = 500
    bytes: int = 8 * 1024 * 1024
    seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.items < 1 or self.bytes < 1 or not self.seconds > 0:
            raise ValueError(f"outbox bounds must be positive: {self}")


OUTBOX_BOUNDS = OutboxBounds()

# Error codes a session adds to the wire format's own.
MISSING_CAPABILITY = "missing_capability"
UNEXPECTED_FRAME = "unexpected_frame"
WRONG_TABLET = "wrong_tablet"
BAD_RECEIPT = "bad_receipt"
BLOB_MISMATCH = "blob_mismatch"
BAD_ACK = "bad_ack"
INTERNAL_ERROR = "internal_error"

F = TypeVar("F", bound=Frame)


def blobs_digest(shas: Iterable[bytes]) -> bytes:
    """The digest of a set of blobs: SHA-256 over their sorted hashes."""
    digest = hashlib.sha256()
    for sha in sorted(shas):
        digest.update(sha)
    return digest.digest()


def batch_digest(records: Sequence[Record]) -> bytes:
    """What a records receipt names: SHA-256 of the batch as canonical CBOR."""
    return hashlib.sha256(cbor2.dumps([[r.seq, r.kind, r.ref, dict(r.body)] for r in records],
                                      canonical=True)).digest()


@dataclass(frozen=True)
class Progress:
    """One step of a session, for the kiosk's screen: ``phase`` is ``outbox``,
    ``messages``, ``files``, ``firmware`` or ``done``; ``item`` names what moved."""

    phase: str
    item: str
    items_done: int
    items_total: int
    bytes_done: int
    bytes_total: int


@dataclass
class SessionSummary:
    serial: str = ""
    records: int = 0
    through: int = 0
    blobs: int = 0
    blob_bytes: int = 0  # blob bytes sent in this session
    resumed_at: dict[str, int] = field(default_factory=dict)  # sha hex -> offset resumed from
    outbox: int = 0
    outbox_left: int = 0  # drafts the tablet still holds for the next dock (OutboxBounds)
    skipped_no_room: int = 0
    firmware: str = ""  # the image installed in this session, by name
    firmware_bytes: int = 0  # its bytes sent in this session
    firmware_refused: str = ""  # why the tablet refused the image offered, if it did
    seconds: float = 0.0


# -- both sides ------------------------------------------------------------------------


class _Side:
    def __init__(self, stream: FrameStream) -> None:
        self.stream = stream

    def send(self, frame: Frame) -> None:
        self.stream.send(frame, FRAME_TIMEOUT)

    def receive(self) -> Frame:
        return self.stream.recv(FRAME_TIMEOUT)

    def expect(self, *kinds: type[F]) -> F:
        """The next frame, which must be one of ``kinds``; anything else ends the
        session (an Error frame to the peer first, when the fault is theirs)."""
        try:
            frame = self.receive()
        except WireError as e:
            self.fail(e.code, str(e))
        if isinstance(frame, frames.Error):
            raise SessionError(frame.code, frame.message, by_peer=True)
        if not isinstance(frame, kinds):
            self.fail(UNEXPECTED_FRAME, f"{type(frame).__name__} where "
                      f"{' or '.join(k.__name__ for k in kinds)} belongs")
        return cast(F, frame)

    def fail(self, code: str, message: str) -> NoReturn:
        """Tell the peer why the session ends (if the link still works), and end it."""
        self.tell(code, message)
        raise SessionError(code, message)

    def tell(self, code: str, message: str) -> None:
        try:
            self.stream.send(frames.Error(code, message[:500]), 2.0)
        except Exception as e:  # noqa: BLE001 - a courtesy; the session ends either way
            log.debug("could not send the error frame: %s", e)


# -- the tablet ------------------------------------------------------------------------


class TabletContent(Protocol):
    """What the tablet side of a session reads and writes (tablet/store.py)."""

    serial: str
    firmware: str

    def cursor(self) -> int: ...

    def apply_records(self, records: Sequence[Record], through: int) -> int: ...

    def complete_blobs(self) -> list[bytes]: ...

    def partials(self) -> list[tuple[bytes, int]]: ...

    def begin_blob(self, sha: bytes, size: int, offset: int) -> BlobWriter: ...

    def free_bytes(self) -> int: ...

    def outbox_count(self) -> int: ...

    def outbox_items(self, limit: int) -> list[OutboxItem]: ...

    def outbox_handed(self, uids: Iterable[str]) -> None: ...

    def sign(self, kind: str, fields: Mapping[str, Any]) -> bytes: ...

    def delivery_receipt(self, sha: bytes) -> tuple[dict[str, Any], bytes] | None: ...


class BlobWriter(Protocol):
    sha: bytes
    size: int
    position: int

    def write(self, offset: int, data: bytes) -> int: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...


def serve_tablet(stream: FrameStream, content: TabletContent, *, counter: int,
                 firmware: TabletFirmware | None = None) -> SessionSummary:
    """Answer one kiosk's session on the tablet. Returns what arrived; raises
    SessionError (the protocol broken, either way) or the transport's errors.
    With ``firmware``, the tablet speaks ``firmware``."""
    side = _TabletSide(stream, content, counter, firmware)
    try:
        return side.run()
    except SessionError:
        raise
    except Exception as e:
        side.tell(INTERNAL_ERROR, f"the tablet could not go on: {type(e).__name__}")
        raise


class _TabletSide(_Side):
    def __init__(self, stream: FrameStream, content: TabletContent, counter: int,
                 firmware: TabletFirmware | None) -> None:
        super().__init__(stream)
        self.content = content
        self.counter = counter
        self.firmware: TabletFirmware | None = None
        self._firmware = firmware
        self.summary = SessionSummary(serial=content.serial)
        self.session = b""
        self.writes = _BlobWrites(content)
        self.blob: _Receiving | None = None  # the blob whose chunks come next

    def run(self) -> SessionSummary:
        started = time.monotonic()
        hello = self.expect(Hello)
        if frames.PROTOCOL_VERSION not in hello.versions:
            self.fail(frames.UNSUPPORTED_VERSION, f"this tablet speaks version "
                      f"{frames.PROTOCOL_VERSION}, not {list(hello.versions)}")
        missing = REQUIRED_CAPS - set(hello.caps)
        if missing:
            self.fail(MISSING_CAPABILITY, f"the kiosk does not offer {sorted(missing)}")
        self.session = hello.session
        own = CAPS + ((FIRMWARE,) if self._firmware is not None else ())
        caps = tuple(cap for cap in own if cap in hello.caps)  # what both ends speak
        self.firmware = self._firmware if FIRMWARE in caps else None
        c = self.content
        outbox = c.outbox_count() if "outbox" in caps else 0
        status = self.firmware.status() if self.firmware is not None else None
        self.send(Welcome(
            version=frames.PROTOCOL_VERSION, caps=caps, serial=c.serial, counter=self.counter,
            firmware=str(status[0].version) if status else c.firmware,
            free_bytes=c.free_bytes(), cursor=c.cursor(),
            blobs_digest=blobs_digest(c.complete_blobs()),
            partial=tuple(PartialBlob(s, n) for s, n in c.partials()), outbox=outbox))
        if status is not None:
            st, nonce = status
            self.send(DeviceStatus(st.model, st.kind, st.version, st.slot, st.event,
                                   st.root_version, st.features, nonce))
        if outbox:
            self._send_outbox()
        try:
            while True:
                frame = self.expect(InventoryRequest, Records, BlobStart, Chunk, Done,
                                    SignedTime, Features, FirmwareOffer)
                if isinstance(frame, BlobStart | Chunk):
                    self._take_blob_frame(frame)
                    continue
                # Every chunk durable and acknowledged before anything else is answered,
                # so that the answers keep the order of the frames.
                self._acknowledge(wait=True)
                if isinstance(frame, SignedTime | Features | FirmwareOffer):
                    self._take_firmware_frame(frame)
                    continue
                if isinstance(frame, Done):
                    self.send(Bye(self.counter))
                    self.summary.seconds = time.monotonic() - started
                    if self.firmware is not None:  # after Bye: the kiosk need not wait
                        self.firmware.dock_ended()
                    return self.summary
                self._answer(frame)
        finally:
            self.writes.close()
            if self.firmware is not None:
                self.firmware.close()

    def receive(self) -> Frame:
        """The next frame; while chunks are being written, look up from the link
        every ACK_POLL seconds to acknowledge those that became durable (the
        kiosk may be waiting for one before it sends more)."""
        deadline = time.monotonic() + FRAME_TIMEOUT
        while self._acknowledge() and time.monotonic() < deadline:
            frame = self.stream.poll(ACK_POLL)
            if frame is not None:
                return frame
        return self.stream.recv(max(0.001, deadline - time.monotonic()))

    def _send_outbox(self) -> None:
        while True:
            items = _fit(self.content.outbox_items(OUTBOX_PAGE))
            if not items:
                return
            more = self.content.outbox_count() > len(items)
            self.send(OutboxItems(tuple(items), more))
            ack = self.expect(OutboxAck)
            sent = {i.uid for i in items}
            stray = [u for u in ack.uids if u not in sent]
            if stray:
                self.fail(BAD_ACK, f"the kiosk acknowledged items it was not sent: {stray[:3]}")
            self.content.outbox_handed(ack.uids)
            self.summary.outbox += len(ack.uids)
            if not more or not ack.uids:
                return

    def _answer(self, frame: Frame) -> None:
        if isinstance(frame, InventoryRequest):
            blobs = self.content.complete_blobs()
            start = frame.page * INVENTORY_PAGE
            page = tuple(blobs[start:start + INVENTORY_PAGE])
            self.send(Inventory(frame.page, page, start + INVENTORY_PAGE < len(blobs)))
        elif isinstance(frame, Records):
            if not frame.records:
                self.fail(UNEXPECTED_FRAME, "an empty batch of records")
            seqs = [r.seq for r in frame.records]
            if seqs != sorted(set(seqs)):
                self.fail(UNEXPECTED_FRAME, "records out of order")
            through = self.content.apply_records(frame.records, seqs[-1])
            receipt = self.content.sign("records", {
                "serial": self.content.serial, "session": self.session, "through": through,
                "batch_digest": batch_digest(frame.records)})
            self.send(RecordsAck(frame.batch, through, receipt))
            self.summary.records += len(frame.records)
            self.summary.through = through

    def _take_firmware_frame(self, frame: SignedTime | Features | FirmwareOffer) -> None:
        firmware = self.firmware
        if firmware is None:
            self.fail(UNEXPECTED_FRAME, f"{type(frame).__name__} without the firmware step")
            return
        if isinstance(frame, SignedTime):
            firmware.take_time(frame.token)
        elif isinstance(frame, Features):
            firmware.take_features(frame.version, {s.name: s.enabled for s in frame.switches})
        else:
            self._take_image(firmware, OfferedImage(frame.version, frame.size, frame.sha,
                                                    frame.metadata))

    def _take_image(self, firmware: TabletFirmware, image: OfferedImage) -> None:
        """Answer an offer; if taken, write its chunks (each durable before its
        ChunkAck), then verify and install it and say so with BlobDone."""
        answer = firmware.consider(image)
        offset = min(answer.offset, image.size) if answer.accept else 0
        self.send(FirmwareAnswer(answer.accept, offset, answer.refusal[:32]))
        if not answer.accept:
            self.summary.firmware_refused = answer.refusal
            return
        position = offset
        try:
            while position < image.size:
                chunk = self.expect(Chunk)
                if chunk.sha != image.sha or chunk.offset != position:
                    self.fail(BLOB_MISMATCH, f"a firmware chunk at {chunk.offset} does not "
                              f"follow {position}")
                position = firmware.write(chunk.offset, chunk.data)
                self.send(ChunkAck(image.sha, position))
            firmware.finish()
        except BlobMismatchError as e:
            self.fail(e.code, e.message)
        receipt = self.content.sign("blob", {"serial": self.content.serial, "sha": image.sha})
        self.send(BlobDone(image.sha, receipt, (), b""))
        self.summary.firmware = image.name

    def _take_blob_frame(self, frame: BlobStart | Chunk) -> None:
        """Check a blob's frame against the blob being received and hand it to
        the writes; acknowledge what has become durable meanwhile."""
        if isinstance(frame, BlobStart):
            self.blob = _Receiving(frame.sha, frame.size, frame.offset)
            if frame.offset:
                self.summary.resumed_at[frame.sha.hex()] = frame.offset
            if frame.size == frame.offset:
                self.blob = None
        else:
            blob = self.blob
            if blob is None or frame.sha != blob.sha:
                self.fail(UNEXPECTED_FRAME, "a chunk of a blob that was not started")
                return
            if frame.offset != blob.position or blob.position + len(frame.data) > blob.size:
                self.fail(BLOB_MISMATCH, f"a chunk of {blob.sha.hex()[:12]} at {frame.offset} "
                          f"({len(frame.data)} bytes) does not follow {blob.position} "
                          f"within {blob.size}")
            blob.position += len(frame.data)
            if blob.position == blob.size:
                self.blob = None
        self.writes.put(frame)
        self._acknowledge()

    def _acknowledge(self, *, wait: bool = False) -> bool:
        """Send the acknowledgements of what the writes have made durable (all of
        it, when ``wait``), in order; end the session if they failed. Returns
        whether writes are still under way."""
        done, failure, busy = self.writes.take(wait=wait)
        for sha, durable, size in done:
            if size:
                self.summary.blob_bytes += size
                self.send(ChunkAck(sha, durable))
            else:
                receipt = self.content.sign("blob", {"serial": self.content.serial, "sha": sha})
                delivery = self.content.delivery_receipt(sha)
                self.send(BlobDone(sha, receipt, tuple(delivery[0]["entitlements"])
                                   if delivery else (), delivery[1] if delivery else b""))
                self.summary.blobs += 1
        if isinstance(failure, BlobMismatchError):
            self.fail(failure.code, failure.message)
        if failure is not None:
            raise failure
        return busy


@dataclass
class _Receiving:
    """A blob whose chunks the tablet expects: where the next one starts."""

    sha: bytes
    size: int
    position: int


class _BlobWrites:
    """The tablet's blob writes, on a thread of their own (started with the
    first blob): each chunk is written, synced and hashed there while the
    session's thread reads the next frame; the session acknowledges a chunk
    only once it is durable here. The link stays with the session's thread.

    :meth:`put` takes a BlobStart or a Chunk already checked by the session;
    it waits while WRITES_QUEUED bytes are waiting. :meth:`take` gives what
    became durable, in order: (sha, bytes durable, the chunk's size) for a
    chunk, (sha, 0, 0) for a blob complete and in place. After a failure (the
    bytes do not match the blob, or the disk failed) nothing more is written.
    :meth:`close` writes what is queued, then stops.
    """

    def __init__(self, content: TabletContent) -> None:
        self._content = content
        self._queued: deque[BlobStart | Chunk] = deque()
        self._queued_bytes = 0
        self._done: list[tuple[bytes, int, int]] = []
        self._working = False
        self._failure: BaseException | None = None
        self._closing = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._sink: BlobWriter | None = None

    def put(self, frame: BlobStart | Chunk) -> None:
        with self._cond:
            while self._queued_bytes >= WRITES_QUEUED and self._failure is None:
                self._cond.wait()
            if self._failure is not None:
                return  # take() reports it
            self._queued.append(frame)
            self._queued_bytes += _cost(frame)
            self._cond.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"blob-writes-{self._content.serial}")
            self._thread.start()

    def take(self, *, wait: bool = False) -> tuple[list[tuple[bytes, int, int]],
                                                   BaseException | None, bool]:
        """(what became durable, the failure if any, whether writes are under way)."""
        with self._cond:
            while wait and (self._queued or self._working):
                self._cond.wait()
            done, self._done = self._done, []
            return done, self._failure, bool(self._queued or self._working)

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queued and not self._closing:
                    self._cond.wait()
                if not self._queued:
                    return
                frame = self._queued.popleft()
                self._queued_bytes -= _cost(frame)
                self._working = True
                self._cond.notify_all()
            try:
                done = self._write(frame)
            except BaseException as e:  # noqa: BLE001 - the session reports it
                with self._cond:
                    self._failure = e
                    self._queued.clear()
                    self._queued_bytes = 0
                    self._working = False
                    self._cond.notify_all()
                return
            with self._cond:
                self._done += done
                self._working = False
                self._cond.notify_all()

    def _write(self, frame: BlobStart | Chunk) -> list[tuple[bytes, int, int]]:
        if isinstance(frame, BlobStart):
            if self._sink is not None:
                self._sink.close()
            self._sink = None
            self._sink = self._content.begin_blob(frame.sha, frame.size, frame.offset)
            return self._finish() if frame.size == frame.offset else []
        sink = self._sink
        assert sink is not None and sink.sha == frame.sha  # checked by the session
        durable = sink.write(frame.offset, frame.data)
        done = [(frame.sha, durable, len(frame.data))]
        return done + self._finish() if durable == sink.size else done

    def _finish(self) -> list[tuple[bytes, int, int]]:
        sink = self._sink
        assert sink is not None
        self._sink = None
        sink.finish()
        return [(sink.sha, 0, 0)]


def _cost(frame: BlobStart | Chunk) -> int:
    return len(frame.data) if isinstance(frame, Chunk) else START_COST


def _fit(items: list[OutboxItem]) -> list[OutboxItem]:
    """As many items as fit in one frame, in its bytes and in its data items."""
    room, items_room, fitting = frames.MAX_FRAME - 1024, FRAME_ITEMS, list[OutboxItem]()
    for item in items:
        size = len(cbor2.dumps(dict(item.body), canonical=True)) + len(item.signature) + 160
        count = codec.count_items(item.body) + ITEM_ITEMS
        if size > room or count > items_room:
            break
        room -= size
        items_room -= count
        fitting.append(item)
    return fitting


# -- the kiosk -------------------------------------------------------------------------


@dataclass(frozen=True)
class OfferedBlob:
    sha: bytes
    size: int
    label: str  # what the resident sees ("photo from Rosa", a song's title)


class KioskContent(Protocol):
    """What the kiosk side of a session reads and writes (kiosk/cache.py)."""

    def records_after(self, resident_id: int, after: int, limit: int) -> list[Record]: ...

    def blobs_for(self, resident_id: int, serial: str) -> list[OfferedBlob]: ...

    def open_blob(self, sha: bytes) -> BinaryIO:
        """A complete blob to read and seek; raises IntegrityError or OSError
        (opening or reading) for a copy that is damaged or gone."""
        ...

    def blob_damaged(self, sha: bytes) -> None:
        """The kiosk's copy of a blob did not read back: forget it (to fetch again)."""
        ...

    def delivered(self, serial: str) -> set[bytes]: ...

    def replace_delivered(self, serial: str, shas: set[bytes]) -> None: ...

    def store_outbox(self, serial: str, items: Sequence[OutboxItem]) -> None: ...

    def records_delivered(self, serial: str, *, session: bytes, through: int,
                          batch_digest: bytes, receipt: bytes) -> None: ...

    def blob_delivered(self, serial: str, sha: bytes, receipt: bytes,
                       delivery: Delivery | None = None) -> None: ...


@dataclass(frozen=True)
class Delivery:
    """A tablet's signed statement that it holds a file as the file of its
    owner's entitlements (sync/receipts.py, ``delivery``)."""

    owner: str  # the owner's agency ID, as the tablet signed it
    entitlements: tuple[int, ...]
    signature: bytes


@dataclass(frozen=True)
class DockedResident:
    """Whose tablet is docked: its serial, its owner's feed, its signing key."""

    serial: str
    resident_id: int
    resident_agency_id: str
    key: Ed25519PublicKey


def run_kiosk(stream: FrameStream, content: KioskContent, tablet: DockedResident, *,
              kiosk: str, on_progress: Callable[[Progress], None] | None = None,
              clock: Callable[[], float] = time.time,
              outbox_bounds: OutboxBounds = OUTBOX_BOUNDS,
              firmware: KioskFirmware | None = None) -> SessionSummary:
    """Run one session with a paired tablet. Returns what moved; raises
    SessionError (the protocol broken, either way) or the transport's errors.
    With ``firmware``, the kiosk speaks ``firmware``."""
    return _KioskSide(stream, content, tablet, kiosk, on_progress or (lambda p: None),
                      clock, outbox_bounds, firmware).run()


class _KioskSide(_Side):
    def __init__(self, stream: FrameStream, content: KioskContent, tablet: DockedResident,
                 kiosk: str, on_progress: Callable[[Progress], None],
                 clock: Callable[[], float], outbox_bounds: OutboxBounds,
                 firmware: KioskFirmware | None) -> None:
        super().__init__(stream)
        self.firmware = firmware
        self.caps = CAPS + ((FIRMWARE,) if firmware is not None else ())
        self.content = content
        self.tablet = tablet
        self.outbox_bounds = outbox_bounds
        self.kiosk = kiosk
        self.progress = on_progress
        self.clock = clock
        self.session = secrets.token_bytes(16)
        self.summary = SessionSummary(serial=tablet.serial)

    def run(self) -> SessionSummary:
        started = time.monotonic()
        self.send(Hello(VERSIONS, self.caps, self.kiosk, self.session, int(self.clock())))
        welcome = self.expect(Welcome)
        if welcome.serial != self.tablet.serial:
            self.fail(WRONG_TABLET, f"the tablet says it is {welcome.serial}, "
                      f"not {self.tablet.serial}")
        if welcome.version not in VERSIONS:
            self.fail(frames.UNSUPPORTED_VERSION, f"version {welcome.version} was not offered")
        caps = set(welcome.caps)
        if not caps <= set(self.caps) or REQUIRED_CAPS - caps:
            self.fail(MISSING_CAPABILITY, f"the tablet takes up {sorted(caps)}; this kiosk "
                      f"offers {list(self.caps)} and needs {sorted(REQUIRED_CAPS)}")
        status = None
        if FIRMWARE in caps:
            status = self.expect(DeviceStatus)
        if welcome.outbox and "outbox" in caps:
            self._receive_outbox(welcome.outbox)
        held = self._tablet_blobs(welcome.blobs_digest)
        through = self._send_records(welcome.cursor)
        self._send_blobs(held, {p.sha: p.verified for p in welcome.partial},
                         welcome.free_bytes)
        if status is not None and self.firmware is not None:
            self._firmware_step(self.firmware, status)
        self.send(Done(through, self.summary.blobs))
        self.expect(Bye)
        self.summary.seconds = time.monotonic() - started
        self.progress(Progress("done", "", self.summary.blobs, self.summary.blobs,
                               self.summary.blob_bytes, self.summary.blob_bytes))
        return self.summary

    # -- firmware ----------------------------------------------------------------------

    def _firmware_step(self, firmware: KioskFirmware, frame: DeviceStatus) -> None:
        """The signed time, newer feature switches, and an image if there is one
        for this tablet: sent one chunk at a time, each acknowledged durable."""
        serial = self.tablet.serial
        status = FirmwareStatus(frame.model, frame.kind, frame.version, frame.slot,
                                frame.event, frame.root_version, frame.features)
        firmware.status(serial, status)
        self.send(SignedTime(firmware.signed_time(frame.nonce)))
        switches = firmware.features(frame.features)
        if switches is not None:
            version, named = switches
            self.send(Features(version, tuple(FeatureSwitch(n, bool(e))
                                              for n, e in sorted(named.items()))))
        image = firmware.offer(serial, status)
        if image is None:
            return
        self.send(FirmwareOffer(image.name, image.size, image.sha, image.metadata))
        got = self.expect(FirmwareAnswer)
        answer = Answer(got.accept, got.offset, got.refusal)
        firmware.answered(serial, image, answer)
        if not got.accept:
            self.summary.firmware_refused = got.refusal
            return
        if got.offset > image.size:
            self.fail(BAD_ACK, f"the tablet would resume {image.name} at {got.offset}, "
                      f"past its size {image.size}")
        position = got.offset
        while position < image.size:
            data = firmware.chunk(image.sha, position, min(FIRMWARE_CHUNK, image.size - position))
            if not data:
                raise SessionError(BLOB_MISMATCH, f"the kiosk's copy of {image.name} is "
                                   "shorter than its size")
            self.send(Chunk(image.sha, position, data))
            ack = self.expect(ChunkAck)
            if ack.sha != image.sha or ack.durable != position + len(data):
                self.fail(BAD_ACK, f"a firmware chunk acknowledged at {ack.durable}, "
                          f"expected {position + len(data)}")
            position = ack.durable
            self.summary.firmware_bytes += len(data)
            self.progress(Progress("firmware", image.name, 0, 1, position, image.size))
        done = self.expect(BlobDone)
        try:
            if done.sha != image.sha:
                raise StatementError("malformed", "BlobDone for another image")
            verify(self.tablet.key, "blob", {"serial": serial, "sha": image.sha}, done.receipt)
        except StatementError as e:
            self.fail(BAD_RECEIPT, f"firmware receipt: {e}")
        firmware.installed(serial, image)
        self.summary.firmware = image.name
        self.progress(Progress("firmware", image.name, 1, 1, image.size, image.size))

    # -- up ----------------------------------------------------------------------------

    def _receive_outbox(self, waiting: int) -> None:
        """Take the tablet's outbox, oldest first, within ``outbox_bounds``.
        Items past a bound are not acknowledged, so the tablet keeps them for
        the next dock; once one is reached, a frame the tablet sends anyway is
        answered with an empty acknowledgement, which ends the outbox step."""
        bounds = self.outbox_bounds
        deadline = time.monotonic() + bounds.seconds
        taken = taken_bytes = 0
        full = False
        while True:
            frame = self.expect(OutboxItems)
            take: list[OutboxItem] = []
            for item in () if full else frame.items:
                size = _outbox_size(item)
                # The first item always goes (however large), so none waits for ever.
                if taken and (taken + 1 > bounds.items or taken_bytes + size > bounds.bytes
                              or time.monotonic() > deadline):
                    full = True
                    break
                take.append(item)
                taken += 1
                taken_bytes += size
            good = []
            for item in take:
                if self._signed_draft(item):
                    good.append(item)
                else:
                    log.warning("tablet %s: outbox item %s is not signed by it; dropped",
                                self.tablet.serial, item.uid)
            self.content.store_outbox(self.tablet.serial, good)  # durable before the ack
            self.send(OutboxAck(tuple(i.uid for i in take)))
            self.summary.outbox += len(good)
            if take:
                self.progress(Progress("outbox", f"{len(good)} messages to send",
                                       self.summary.outbox, self.summary.outbox, 0, 0))
            if not frame.more or not take:
                break
        self.summary.outbox_left = max(0, waiting - taken)
        if self.summary.outbox_left:
            log.info("tablet %s: %d outbox items taken (%d bytes); %d wait for the next "
                     "dock", self.tablet.serial, taken, taken_bytes, self.summary.outbox_left)

    def _signed_draft(self, item: OutboxItem) -> bool:
        body = item.body
        if item.kind == "request":
            try:
                verify(self.tablet.key, "request", request_fields(
                    serial=self.tablet.serial, uid=item.uid, resident=body.get("resident"),
                    type_=body.get("type"), body=body.get("body"),
                    written_at=body.get("written_at")), item.signature)
            except StatementError:
                return False
            return body.get("resident") == self.tablet.resident_agency_id
        if item.kind != "draft":
            return False
        try:
            verify(self.tablet.key, "draft", draft_fields(
                serial=self.tablet.serial, uid=item.uid, resident=body.get("resident"),
                contact=body.get("contact"), body=body.get("body"),
                attachments=body.get("attachments")), item.signature)
        except StatementError:
            return False
        return body.get("resident") == self.tablet.resident_agency_id

    # -- down: what the tablet holds ----------------------------------------------------

    def _tablet_blobs(self, digest: bytes) -> set[bytes]:
        known = self.content.delivered(self.tablet.serial)
        if blobs_digest(known) == digest:
            return known
        held: set[bytes] = set()
        page = 0
        while True:
            self.send(InventoryRequest(page))
            answer = self.expect(Inventory)
            if answer.page != page:
                self.fail(UNEXPECTED_FRAME, f"inventory page {answer.page}, not {page}")
            held.update(answer.blobs)
            if not answer.more:
                break
            page += 1
        if blobs_digest(held) != digest:
            self.fail(BAD_ACK, "the inventory does not match the digest in the welcome")
        self.content.replace_delivered(self.tablet.serial, held)
        return held

    # -- down: records ------------------------------------------------------------------

    def _send_records(self, cursor: int) -> int:
        resident = self.tablet.resident_id
        through = cursor
        batch_no = 0
        in_flight: list[tuple[int, tuple[Record, ...]]] = []
        while True:
            records = self.content.records_after(resident, through, RECORDS_PER_BATCH)
            batch = _records_batch(records)
            if not batch:
                break
            self.send(Records(batch_no, batch))
            in_flight.append((batch_no, batch))
            batch_no += 1
            through = batch[-1].seq
            if len(in_flight) >= WINDOW:
                self._records_acked(in_flight.pop(0))
        while in_flight:
            self._records_acked(in_flight.pop(0))
        return through

    def _records_acked(self, sent: tuple[int, tuple[Record, ...]]) -> None:
        number, batch = sent
        ack = self.expect(RecordsAck)
        if ack.batch != number or ack.through < batch[-1].seq:
            self.fail(BAD_ACK, f"batch {number} through {batch[-1].seq} acknowledged as "
                      f"batch {ack.batch} through {ack.through}")
        digest = batch_digest(batch)
        try:
            verify(self.tablet.key, "records", {
                "serial": self.tablet.serial, "session": self.session, "through": ack.through,
                "batch_digest": digest}, ack.receipt)
        except StatementError as e:
            self.fail(BAD_RECEIPT, f"records receipt: {e}")
        self.content.records_delivered(self.tablet.serial, session=self.session,
                                       through=ack.through, batch_digest=digest,
                                       receipt=ack.receipt)
        self.summary.records += len(batch)
        self.summary.through = ack.through
        self.progress(Progress("messages", f"{len(batch)} messages", self.summary.records,
                               self.summary.records, 0, 0))

    # -- down: blobs ---------------------------------------------------------------------

    def _send_blobs(self, held: set[bytes], partial: dict[bytes, int], free: int) -> None:
        """Every blob the tablet lacks, pipelined: up to WINDOW acknowledgements
        (of chunks, or of a whole blob) are outstanding at any time, across blob
        boundaries, so the link never idles while the tablet syncs a file."""
        todo = [b for b in self.content.blobs_for(self.tablet.resident_id, self.tablet.serial)
                if b.sha not in held]
        total = sum(b.size - min(partial.get(b.sha, 0), b.size) for b in todo)
        waiting: deque[_Awaited] = deque()
        base = 0
        for number, blob in enumerate(todo, 1):
            offset = min(partial.get(blob.sha, 0), blob.size)
            if blob.size - offset > free:
                self.summary.skipped_no_room += 1
                log.info("tablet %s: no room for %s (%d bytes)", self.tablet.serial,
                         blob.label, blob.size)
                continue
            free -= blob.size - offset
            self.send(BlobStart(blob.sha, blob.size, offset, CHUNK))
            if offset:
                self.summary.resumed_at[blob.sha.hex()] = offset
            sent = offset
            try:
                source = self.content.open_blob(blob.sha)
            except (IntegrityError, OSError) as e:
                self._damaged(blob, e)
            with source:
                source.seek(offset)
                while sent < blob.size:
                    try:
                        data = source.read(min(CHUNK, blob.size - sent))
                    except (IntegrityError, OSError) as e:
                        self._damaged(blob, e)
                    if not data:
                        raise SessionError(BLOB_MISMATCH, f"the kiosk's copy of "
                                           f"{blob.sha.hex()} is shorter than its size")
                    self.send(Chunk(blob.sha, sent, data))
                    sent += len(data)
                    self.summary.blob_bytes += len(data)
                    waiting.append(_Awaited(blob, sent, base + sent - offset, number))
                    while len(waiting) >= WINDOW:
                        self._settle(waiting.popleft(), len(todo), total)
            waiting.append(_Awaited(blob, None, base + blob.size - offset, number))
            base += blob.size - offset
            while len(waiting) >= WINDOW:
                self._settle(waiting.popleft(), len(todo), total)
        while waiting:
            self._settle(waiting.popleft(), len(todo), total)

    def _damaged(self, blob: OfferedBlob, error: Exception) -> NoReturn:
        """The kiosk's copy of ``blob`` does not read back (altered on disk, or
        gone): the cache forgets it, to fetch it again, and the session ends
        (the tablet keeps what it made durable; the next dock goes on)."""
        log.error("the kiosk's copy of %s (%s) is damaged: %s", blob.sha.hex()[:12],
                  blob.label, error)
        self.content.blob_damaged(blob.sha)
        self.fail(BLOB_MISMATCH, f"the kiosk's copy of {blob.sha.hex()} is damaged; it will "
                  "be fetched again")

    def _settle(self, awaited: _Awaited, count: int, total: int) -> None:
        """Read the acknowledgement that comes next, which must be ``awaited``."""
        blob = awaited.blob
        if awaited.durable is not None:
            ack = self.expect(ChunkAck)
            if ack.sha != blob.sha or ack.durable != awaited.durable:
                self.fail(BAD_ACK, f"a chunk acknowledgement for {ack.sha.hex()[:12]} at "
                          f"{ack.durable}, expected {blob.sha.hex()[:12]} at {awaited.durable}")
            self.progress(Progress("files", blob.label, awaited.number - 1, count,
                                   awaited.moved, total))
            return
        done = self.expect(BlobDone)
        if done.sha != blob.sha:
            self.fail(BAD_ACK, f"BlobDone for {done.sha.hex()}, not {blob.sha.hex()}")
        delivery = None
        try:
            verify(self.tablet.key, "blob", {"serial": self.tablet.serial, "sha": blob.sha},
                   done.receipt)
            if done.entitlements:
                delivery = Delivery(self.tablet.resident_agency_id, done.entitlements,
                                    done.delivery)
                verify(self.tablet.key, "delivery", delivery_fields(
                    serial=self.tablet.serial, owner=delivery.owner, sha=blob.sha,
                    entitlements=delivery.entitlements), delivery.signature)
        except StatementError as e:
            self.fail(BAD_RECEIPT, f"blob receipt: {e}")
        self.content.blob_delivered(self.tablet.serial, blob.sha, done.receipt, delivery)
        self.summary.blobs += 1
        self.progress(Progress("files", blob.label, awaited.number, count, awaited.moved,
                               total))


@dataclass(frozen=True)
class _Awaited:
    """An acknowledgement the kiosk waits for: a chunk's (``durable`` is where the
    blob will stand) or a whole blob's (``durable`` is None)."""

    blob: OfferedBlob
    durable: int | None
    moved: int  # bytes of this session's blobs sent once it arrives
    number: int  # which blob of the session, from 1


def _outbox_size(item: OutboxItem) -> int:
    """An outbox item's bytes, as OutboxBounds counts them: its body and signature."""
    return len(cbor2.dumps(dict(item.body), canonical=True)) + len(item.signature)


def _records_batch(records: list[Record]) -> tuple[Record, ...]:
    """The first records that fit one frame, in its bytes and in its data items
    (one record always fits alone: a body of MAX_RECORD_BODY bytes holds fewer
    than half of MAX_FRAME_ITEMS)."""
    room, items_room, batch = BATCH_BYTES, FRAME_ITEMS, list[Record]()
    for record in records:
        size = len(cbor2.dumps(dict(record.body), canonical=True)) + 128
        count = codec.count_items(record.body) + ITEM_ITEMS
        if batch and (size > room or count > items_room):
            break
        room -= size
        items_room -= count
        batch.append(record)
    return tuple(batch)

