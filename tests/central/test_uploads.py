"""Uploads stream to disk: bounded memory whatever their size, a size limit
checked as bytes arrive, a family's storage quota, and nothing left behind
when one is refused. Through the service and over HTTP, on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import func, select

from central.api.blob_io import store_stream
from central.api.models import BlobOut
from central.errors import InvalidInput, OverQuota, TooLarge
from central.schema import blob_uploads, blobs
from central.services import accounts, messaging, money, uploads
from central.services.core import Settings
from central.services.messaging import Attachment
from tests.central.api_server import ApiServer, Client
from tests.central.facility import SYSTEM, WASHINGTON, Facility

CHUNK = 64 << 10
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
FILLER = bytes(range(256)) * (CHUNK // 256)
MEMORY_BOUND = 4 << 20  # what an upload may hold in memory at its peak, whatever its size


def _photo(tag: bytes, size: int = 60_000) -> bytes:
    return (b"\xff\xd8\xff\xe0" + tag + b"." * size)[:size]


async def _chunks(total: int, head: bytes = MP4_HEAD) -> AsyncIterator[bytes]:
    """``total`` bytes of a would-be MP4 in 64 KiB chunks, made without
    allocating a chunk each time."""
    sent = 0
    first = head + FILLER[len(head):]
    while sent < total:
        chunk = first if sent == 0 else FILLER
        chunk = chunk[:total - sent] if total - sent < len(chunk) else chunk
        sent += len(chunk)
        yield chunk


def _in_memory_peak(coroutine: object) -> tuple[object, int]:
    """Run ``coroutine``; its result (or exception) and the peak of memory traced."""
    tracemalloc.start()
    try:
        try:
            result: object = asyncio.run(coroutine)  # type: ignore[arg-type]
        except (TooLarge, OverQuota) as e:
            result = e
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _family(f: Facility) -> int:
    f.admit("100001", "Ann Example")
    return f.family("sis@example.org", "Sis", approved_for="100001")


def _kept(f: Facility) -> tuple[int, int]:
    """Blob rows and upload rows."""
    with f.central.db.read() as conn:
        return (conn.execute(select(func.count()).select_from(blobs)).scalar_one(),
                conn.execute(select(func.count()).select_from(blob_uploads)).scalar_one())


def _quota(f: Facility, limit: int) -> None:
    accounts.set_policy(f.central, "WA", dataclasses.replace(
        WASHINGTON, family_storage_quota_bytes=limit), scope=SYSTEM)


def _store(f: Facility, cid: int, data: bytes, media_type: str = "image/jpeg", *,
           expected: str | None = None) -> BlobOut:
    async def one() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start:start + CHUNK]
    return asyncio.run(store_stream(f.central, one(), media_type=media_type,
                                    allowed=("image/jpeg", "video/mp4"),
                                    uploader=f"contact:{cid}", purpose="message",
                                    expected_sha256=expected))


def test_an_upload_streams_in_bounded_memory(facility: Facility) -> None:
    f = facility
    cid = _family(f)
    f.central.settings = Settings(max_videogram_bytes=24 << 20)
    stored, peak = _in_memory_peak(store_stream(
        f.central, _chunks(20 << 20), media_type="video/mp4", allowed=("video/mp4",),
        uploader=f"contact:{cid}", purpose="message"))
    assert isinstance(stored, BlobOut) and stored.size == 20 << 20
    assert peak < MEMORY_BOUND, f"{peak} bytes at the peak for a 20 MiB upload"
    data = f.central.blobs.path(stored.sha256).read_bytes()
    assert hashlib.sha256(data).hexdigest() == stored.sha256
    assert f.central.blobs.leftovers() == []


def test_an_upload_over_the_limit_is_refused_as_it_arrives_and_leaves_nothing(
        facility: Facility) -> None:
    f = facility
    cid = _family(f)
    f.central.settings = Settings(max_videogram_bytes=24 << 20)
    before = _kept(f)
    refused, peak = _in_memory_peak(store_stream(
        f.central, _chunks(48 << 20), media_type="video/mp4", allowed=("video/mp4",),
        uploader=f"contact:{cid}", purpose="message"))
    assert isinstance(refused, TooLarge) and refused.limit == 24 << 20
    assert refused.status == 413
    assert peak < MEMORY_BOUND, f"{peak} bytes at the peak for a 48 MiB upload"
    assert f.central.blobs.leftovers() == []
    assert [p for p in f.central.blobs.directory.rglob("*") if p.is_file()] == []
    assert _kept(f) == before
    # Bytes that do not start like the type they claim are refused at their start.
    with pytest.raises(InvalidInput) as wrong:
        asyncio.run(store_stream(f.central, _chunks(1 << 20, head=b"MZ\x90\x00"),
                                 media_type="video/mp4", allowed=("video/mp4",),
                                 uploader=f"contact:{cid}", purpose="message"))
    assert wrong.value.code == "content_mismatch"
    assert f.central.blobs.leftovers() == [] and _kept(f) == before


def test_a_family_past_its_quota_is_refused_and_nothing_is_kept(facility: Facility) -> None:
    f = facility
    cid = _family(f)
    _quota(f, 100_000)
    first = _store(f, cid, _photo(b"one"))
    assert uploads.storage(f.central, f"contact:{cid}") == uploads.Quota(100_000, 60_000, 7)
    before = _kept(f)
    second = _photo(b"two")
    with pytest.raises(OverQuota) as over:
        _store(f, cid, second)
    assert (over.value.quota, over.value.used, over.value.status) == (100_000, 60_000, 413)
    assert not f.central.blobs.exists(hashlib.sha256(second).hexdigest())
    assert f.central.blobs.leftovers() == [] and _kept(f) == before
    # The same file again, said to be so, takes no more room.
    assert _store(f, cid, _photo(b"one"), expected=first.sha256).created is False
    assert _kept(f) == before
    # Once the first is delivered it no longer counts, and the second fits.
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    sent = messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                       body="the garden",
                                       attached=[Attachment("photo", first.sha256)])
    assert sent.status == "delivered"
    assert uploads.storage(f.central, f"contact:{cid}") == uploads.Quota(100_000, 0, 7)
    third = _store(f, cid, second)
    assert third.created
    # An upload left unsent expires: it no longer counts, nor can it be attached.
    f.clock.advance(8 * 86400)
    assert uploads.storage(f.central, f"contact:{cid}") == uploads.Quota(100_000, 0, 7)
    with pytest.raises(InvalidInput) as expired:
        messaging.send_from_contact(f.central, cid, uid=f.uid(), resident_agency_id="100001",
                                    body="late", attached=[Attachment("photo", third.sha256)])
    assert expired.value.code == "upload_expired"


def test_two_uploads_at_once_cannot_both_take_the_last_of_a_quota(facility: Facility) -> None:
    """Both pass the look before their bytes are read; the transaction that
    keeps each looks again, with the family's row locked."""
    f = facility
    cid = _family(f)
    _quota(f, 100_000)
    assert uploads.storage(f.central, f"contact:{cid}") == uploads.Quota(100_000, 0, 7)
    racing = []
    for tag in (b"one", b"two"):
        incoming = f.central.blobs.incoming(max_size=1 << 20)
        incoming.write(_photo(tag))
        incoming.finish()
        racing.append(incoming)
    uploads.keep(f.central, racing[0], "image/jpeg", uploader=f"contact:{cid}",
                 purpose="message")
    with racing[1], pytest.raises(OverQuota):
        uploads.keep(f.central, racing[1], "image/jpeg", uploader=f"contact:{cid}",
                     purpose="message")
    assert not f.central.blobs.exists(hashlib.sha256(_photo(b"two")).hexdigest())
    assert f.central.blobs.leftovers() == []
    assert _kept(f) == (1, 1)


def test_a_resident_at_a_kiosk_has_no_family_quota(facility: Facility) -> None:
    f = facility
    ann = f.admit("100001", "Ann Example")
    _quota(f, 0)
    stored = asyncio.run(store_stream(f.central, _chunks(1 << 20), media_type="video/mp4",
                                      allowed=("video/mp4",), uploader=f"resident:{ann.id}",
                                      purpose="message"))
    assert stored.size == 1 << 20


# -- over HTTP -------------------------------------------------------------------------


def _chunked(total: int, head: bytes = b"\xff\xd8\xff\xe0") -> Iterator[bytes]:
    first = head + FILLER[len(head):]
    sent = 0
    while sent < total:
        chunk = (first if sent == 0 else FILLER)[:total - sent]
        sent += len(chunk)
        yield chunk


def _approved(api: ApiServer) -> Client:
    api.facility.admit("100001", "Ann Example")
    api.facility.family("sis@example.org", "Sis", approved_for="100001")
    return api.family("sis@example.org")


def test_http_uploads_over_the_limit_are_413_and_leave_nothing(api: ApiServer) -> None:
    f = api.facility
    fam = _approved(api)
    f.central.settings = Settings(max_photo_bytes=10 << 20)
    before = _kept(f)
    # Declared too large: refused before a byte is stored.
    declared = fam.post("/v1/family/blobs", data=_photo(b"big", (10 << 20) + 1),
                        headers={"Content-Type": "image/jpeg"})
    assert declared.status_code == 413 and declared.json()["error"] == "too_large"
    # Chunked, with no length said: refused as the bytes pass the limit, in
    # bounded memory, the client still hearing the answer.
    tracemalloc.start()
    try:
        streamed = fam.post("/v1/family/blobs", data=_chunked(15 << 20),
                            headers={"Content-Type": "image/jpeg"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert streamed.status_code == 413 and streamed.json()["error"] == "too_large"
    assert peak < 2 * MEMORY_BOUND, f"{peak} bytes at the peak (client and server)"
    assert f.central.blobs.leftovers() == [] and _kept(f) == before
    assert [p for p in f.central.blobs.directory.rglob("*") if p.is_file()] == []


def test_http_upload_past_the_quota_is_413_and_storage_says_why(api: ApiServer) -> None:
    f = api.facility
    fam = _approved(api)
    _quota(f, 100_000)
    ok = fam.post("/v1/family/blobs", data=_photo(b"one"),
                  headers={"Content-Type": "image/jpeg"})
    assert ok.status_code == 201, ok.text
    before = _kept(f)
    over = fam.post("/v1/family/blobs", data=_chunked(60_000),
                    headers={"Content-Type": "image/jpeg"})
    assert over.status_code == 413 and over.json()["error"] == "over_quota"
    assert "60000 of 100000 bytes" in over.json()["message"]
    assert f.central.blobs.leftovers() == [] and _kept(f) == before
    assert fam.get("/v1/family/storage").json() == {
        "limit": 100_000, "used": 60_000, "left": 40_000, "unsent_days": 7}


def test_unsent_uploads_are_forgotten_and_their_files_removed(facility: Facility) -> None:
    """An upload left unsent past the agency's days goes, with its file unless
    something else refers to it: a held message's attachment, or the same
    bytes uploaded by someone else."""
    f = facility
    cid = _family(f)
    other = f.family("bro@example.org", "Bro", approved_for="100001")
    money.buy_stamps_for_contact(f.central, cid, resident_agency_id="100001",
                                 offer_id="bundle-20", card_token="tok_sandbox_visa",
                                 key="purchase-0001")
    lonely = _store(f, cid, _photo(b"lonely"))
    shared = _store(f, cid, _photo(b"shared"))
    sent = _store(f, cid, _photo(b"sent"))
    accounts.set_policy(f.central, "WA", dataclasses.replace(
        WASHINGTON, review_attachments=True), scope=SYSTEM)
    held = messaging.send_from_contact(f.central, cid, uid=f.uid(),
                                       resident_agency_id="100001", body="soon",
                                       attached=[Attachment("photo", sent.sha256)])
    assert held.status == "held"
    f.clock.advance(4 * 86400)
    assert _store(f, other, _photo(b"shared")).sha256 == shared.sha256
    assert uploads.forget_unsent(f.central) == 0  # nothing is old yet
    f.clock.advance(4 * 86400)
    assert uploads.forget_unsent(f.central) == 2  # the sister's lonely and shared photos
    assert not f.central.blobs.exists(lonely.sha256)
    assert f.central.blobs.exists(shared.sha256)  # the brother's upload of it is not old
    assert f.central.blobs.exists(sent.sha256)  # a held message's attachment stays
    f.clock.advance(4 * 86400)
    assert uploads.forget_unsent(f.central) == 1
    assert not f.central.blobs.exists(shared.sha256)
    assert f.central.blobs.exists(sent.sha256)
    assert _kept(f) == (1, 1)
    assert uploads.forget_unsent(f.central) == 0
