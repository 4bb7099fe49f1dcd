"""Make the committed sync frame vectors: one complete frame per frame type.

    python tests/vectors/sync/make_sync_vectors.py     # rewrite the files
    (tests/sync/test_frames.py checks that this gives the same bytes)

Every value is fixed here (no randomness, no clock), and the encoding is
canonical CBOR, so the output never changes unless the wire format does.
Receipts and signatures are fixed stand-in bytes: at the wire level they are
opaque, and what they sign belongs to the session.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from sync import frames  # noqa: E402

HERE = Path(__file__).resolve().parent
NOW = 1767225600  # 2026-01-01T00:00:00Z


def sha(label: str) -> bytes:
    """A fixed SHA-256 standing for the blob or list named ``label``."""
    return hashlib.sha256(f"sallyport test: {label}".encode()).digest()


def stand_in(label: str, size: int = 64) -> bytes:
    """Fixed bytes standing for a receipt or a signature."""
    return hashlib.shake_256(f"sallyport TEST-ONLY: {label}".encode()).digest(size)


DRAFT_UID = "d-JP5S000001-000017"


def vector_frames() -> dict[str, tuple[frames.Frame, str]]:
    """Each vector's file name, its frame, and a line about what it holds."""
    return {
        "01-hello.frame": (frames.Hello(
            versions=(1,), caps=("blobs", "firmware", "outbox", "records"), kiosk="K-B2-01",
            session=bytes(range(16)), now=NOW),
            "the kiosk speaks version 1, with four capabilities"),
        "02-welcome.frame": (frames.Welcome(
            version=1, caps=("blobs", "outbox", "records"), serial="JP5S-000001", counter=42,
            firmware="1.4.2", free_bytes=12_884_901_888, cursor=1041,
            blobs_digest=sha("blob list of JP5S-000001"),
            partial=(frames.PartialBlob(sha=sha("videogram 3"), verified=262_144),), outbox=2),
            "the tablet holds feed records through 1041 and part of one blob"),
        "03-inventory-request.frame": (frames.InventoryRequest(page=0),
                                       "the first page of the tablet's blob list, please"),
        "04-inventory.frame": (frames.Inventory(
            page=0, blobs=(sha("photo 1"), sha("song 2")), more=False),
            "two blobs, and no more pages"),
        "05-records.frame": (frames.Records(batch=7, records=(
            frames.Record(seq=1042, kind="message", ref="msg-000913", body={
                "from": "Ana Ruiz", "text": "¡Nos vemos el domingo!", "sent": NOW - 600,
                "photos": [sha("photo 1")], "stamps": 1}),
            frames.Record(seq=1043, kind="receipt", ref="rcpt-000377", body={
                "message": "msg-000870", "read": True, "at": None}),
        )), "two feed records: a message with a photo and a read receipt"),
        "06-records-ack.frame": (frames.RecordsAck(
            batch=7, through=1043, receipt=stand_in("records receipt 7")),
            "batch 7 is durable through 1043"),
        "07-blob-start.frame": (frames.BlobStart(
            sha=sha("videogram 3"), size=1_500_000, offset=262_144, chunk=262_144),
            "a blob resumes at 256 KiB, in 256 KiB chunks"),
        "08-chunk.frame": (frames.Chunk(
            sha=sha("videogram 3"), offset=262_144, data=bytes(range(256)) * 4),
            "1 KiB of that blob"),
        "09-chunk-ack.frame": (frames.ChunkAck(sha=sha("videogram 3"), durable=263_168),
                               "the tablet holds the first 263168 bytes durably"),
        "10-blob-done.frame": (frames.BlobDone(
            sha=sha("videogram 3"), receipt=stand_in("blob receipt videogram 3"),
            entitlements=(1007, 1008), delivery=stand_in("delivery receipt videogram 3")),
            "the blob is complete and verified, the file of two of the owner's purchases"),
        "11-outbox-items.frame": (frames.OutboxItems(items=(
            frames.OutboxItem(uid=DRAFT_UID, kind="draft", body={
                "to": "contact-118", "text": "Happy birthday, Mamá!", "written": NOW - 86_400},
                signature=stand_in("draft signature")),
        ), more=False), "one signed draft, and nothing more"),
        "12-outbox-ack.frame": (frames.OutboxAck(uids=(DRAFT_UID,)),
                                "the kiosk has stored the draft"),
        "13-firmware-offer.frame": (frames.FirmwareOffer(
            version="JP5S/tablet-15.img", size=48_234_496, sha=sha("firmware 15"),
            metadata=stand_in("firmware 15 signed metadata", 96)),
            "a firmware image with its signed metadata"),
        "14-firmware-answer.frame": (frames.FirmwareAnswer(accept=True, offset=0, refusal=""),
                                     "the tablet takes it, from the start"),
        "15-done.frame": (frames.Done(through=1043, blobs=1),
                          "the kiosk is done: records through 1043, one blob"),
        "16-bye.frame": (frames.Bye(counter=42), "the tablet ends the session"),
        "17-error.frame": (frames.Error(
            code="malformed_frame",
            message="Records.records[0].seq: expected an unsigned integer (got text 'x')"),
            "a refusal, with its reason"),
        "18-device-status.frame": (frames.DeviceStatus(
            model="JP5S", kind="tablet", version=14, slot="b", event="marked_good",
            root_version=2, features=NOW - 3600, nonce=bytes(range(16))),
            "the tablet runs version 14 from slot b, and asks for the time"),
        "19-signed-time.frame": (frames.SignedTime(token=stand_in("signed time token", 120)),
                                 "the kiosk's clock, signed, answering the nonce"),
        "20-features.frame": (frames.Features(version=NOW, switches=(
            frames.FeatureSwitch("music", True), frames.FeatureSwitch("video_calls", False))),
            "two feature switches, one turned off"),
    }


def vectors() -> dict[str, bytes]:
    """Each vector's file name and its bytes: the complete frame."""
    return {name: frames.encode(frame) for name, (frame, _) in vector_frames().items()}


def readme() -> str:
    lines = [
        "# Sync frame vectors",
        "",
        "One complete frame of each type of the kiosk-tablet sync protocol (version "
        f"{frames.PROTOCOL_VERSION}): the",
        "4-byte length prefix, then canonical CBOR. docs/protocol.md describes the format.",
        "`make_sync_vectors.py` writes these files (and this one) from fixed values;",
        "`tests/sync/test_frames.py` checks that it still gives the same bytes and that each",
        "file decodes to its frame. Receipts and signatures are fixed stand-in bytes.",
        "",
        "| file | type | bytes | holds |",
        "|---|---|---:|---|",
    ]
    data = vectors()
    for name, (frame, about) in vector_frames().items():
        lines.append(f"| `{name}` | {frame.TYPE} {type(frame).__name__} | {len(data[name])} "
                     f"| {about} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    for name, data in vectors().items():
        (HERE / name).write_bytes(data)
        print(f"wrote tests/vectors/sync/{name}")
    (HERE / "README.md").write_text(readme())
    print("wrote tests/vectors/sync/README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
