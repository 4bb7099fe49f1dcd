"""The review queue and streamed uploads, on SQLite.

The queue: a migrated database with one facility and 1,000 messages held for
review (each sent through the services: screened, charged, held; every other
one with a photo, held by the agency's policy), then pages of 25 read with
``review_queue`` (one query a page) and, for comparison in the same run,
with ``list_holds`` (a query for the page, then a few for each hold).

Uploads: 64 MiB streamed in 64 KiB chunks through ``store_stream`` (the path
every HTTP upload takes) into the blob store, its peak of traced memory
against its size, and its time (the median of five, after one to warm up)
against ``BlobStore.put`` of as many bytes held in memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

from central.api.blob_io import store_stream
from central.services import accounts, messaging, money, review, screening_lists
from central.services.core import Settings
from central.services.messaging import Attachment
from tests.central.facility import SYSTEM, WASHINGTON, Facility, build

HELD = 1_000
PER_PAGE = 25
READS = 200
UPLOAD = 64 << 20
CHUNK = 64 << 10
SEED = 20261204


def _held_world(state: Path) -> Facility:
    f = build(f"sqlite:///{state / 'central.db'}", state)
    accounts.set_policy(f.central, "WA", dataclasses.replace(
        WASHINGTON, review_attachments=True, max_photos=5), scope=SYSTEM)
    f.admit("100001", "Ann Example")
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    card = "tok_sandbox_visa"  # the payments sandbox's test card
    for i in range(HELD * 2 // 60 + 1):
        money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                     offer_id="bundle-60", card_token=card,
                                     key=f"purchase-{i:05d}")
    screening_lists.save_list(f.central, scope="facility", scope_id="F1", language="en",
                              terms=["burner phone", "meet at the fence"],
                              reach=f.scope("reviewer"))
    photo = f.central.blobs.put([b"\xff\xd8\xff\xe0 a photo"], max_size=1 << 20)
    messaging.record_upload(f.central, photo.sha256, photo.size, "image/jpeg",
                            uploader=f"contact:{cid}", purpose="message")
    for i in range(HELD):
        messaging.send_from_contact(
            f.central, cid, uid=f"held-{i:06d}", resident_agency_id="100001",
            body=f"letter {i}: can you get a burner phone before we meet at the fence",
            attached=[Attachment("photo", photo.sha256)] if i % 2 else [])
    return f


def _queue(f: Facility) -> tuple[float, float]:
    reviewer = f.scope("reviewer")
    pages = HELD // PER_PAGE
    rng = random.Random(SEED)
    one_query: list[float] = []
    with f.central.db.read() as conn:
        for _ in range(READS):
            page = rng.randint(1, pages)
            start = time.perf_counter()
            found = review.review_queue(conn, reviewer, page=page, per_page=PER_PAGE)
            one_query.append(time.perf_counter() - start)
            assert len(found.items) == PER_PAGE and found.total == HELD
    per_hold: list[float] = []
    for _ in range(READS // 4):
        start = time.perf_counter()
        listed = review.list_holds(f.central, limit=PER_PAGE, scope=reviewer)
        per_hold.append(time.perf_counter() - start)
        assert len(listed) == PER_PAGE
    return statistics.median(one_query) * 1000, statistics.median(per_hold) * 1000


async def _chunks() -> AsyncIterator[bytes]:
    filler = bytes(range(256)) * (CHUNK // 256)
    first = b"\x00\x00\x00\x18ftypmp42" + filler[12:]
    yield first
    for _ in range(UPLOAD // CHUNK - 1):
        yield filler


def _upload(f: Facility) -> tuple[float, float, float]:
    f.central.settings = Settings(max_videogram_bytes=UPLOAD)
    resident = f"resident:{f.residents['100001'].id}"

    def stream() -> float:
        start = time.perf_counter()
        asyncio.run(store_stream(f.central, _chunks(), media_type="video/mp4",
                                 allowed=("video/mp4",), uploader=resident,
                                 purpose="message"))
        return time.perf_counter() - start

    stream()  # the first makes the event loop's worker threads
    streamed = statistics.median(stream() for _ in range(5))
    tracemalloc.start()
    try:
        stream()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    filler = bytes(range(256)) * (CHUNK // 256)
    puts = []
    for i in range(5):  # other bytes each time, so each is written
        whole = [b"\x00\x00\x00\x18ftypmp4" + bytes([65 + i]) + filler[13:]] \
            + [filler] * (UPLOAD // CHUNK - 1)
        start = time.perf_counter()
        f.central.blobs.put(whole, max_size=UPLOAD)
        puts.append(time.perf_counter() - start)
    put = statistics.median(puts)
    return peak / UPLOAD, streamed / put, peak / (1 << 20)


def run() -> dict[str, tuple[float, str, str]]:
    with tempfile.TemporaryDirectory(prefix="sallyport-bench-review-") as directory:
        f = _held_world(Path(directory))
        try:
            queue_ms, list_ms = _queue(f)
            peak_ratio, time_ratio, peak_mib = _upload(f)
        finally:
            f.central.db.dispose()
    return {
        "review.queue_page_ms_p50": (
            queue_ms, "ms", f"median time of review_queue() for a page of {PER_PAGE} of "
            f"{HELD:,} held messages (hits, translation, attachments; one query), SQLite"),
        "review.queue_vs_list_holds_ratio": (
            queue_ms / list_ms, "ratio", "that time over list_holds() for the same page "
            "size (a query for the page, then more for each hold), same run"),
        "uploads.stream_peak_to_size_ratio": (
            peak_ratio, "ratio", f"peak traced memory while streaming a {UPLOAD >> 20} MiB "
            f"upload through store_stream() over its size ({peak_mib:.1f} MiB at the peak)"),
        "uploads.stream_vs_put_time_ratio": (
            time_ratio, "ratio", "its time over BlobStore.put() of the same bytes from "
            "memory (both hash, write and fsync), same run"),
    }


if __name__ == "__main__":
    for name, (value, unit, note) in run().items():
        print(f"{name}: {value:.3f} {unit}  ({note})")
