"""Uploading and serving blobs over HTTP, with size bounds, storage quotas and Range.

An upload streams: its bytes go to a temporary file in the blob store's
directory as they arrive, hashed on the way, in batches of at most
:data:`BATCH` bytes, so memory stays bounded whatever the file's size. The
limit of its type (and, for a family, what is left of their storage quota)
is checked as bytes arrive: the first byte past it ends the upload with a
413 and the temporary file is removed. A finished upload is recorded and
renamed into place in one transaction (:func:`central.services.uploads.keep`).

:func:`read_upload` reads a raw request body; :func:`store_upload_file` does
the same for a form's ``UploadFile``; both go through :func:`store_stream`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator

from fastapi import Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.requests import ClientDisconnect

from central.api.models import BlobOut
from central.blobs import HEAD_BYTES, check_content, check_sha256
from central.errors import InvalidInput, NotFound, OverQuota, TooLarge
from central.services import uploads
from central.services.core import Central

log = logging.getLogger(__name__)
BATCH = 1 << 20  # bytes gathered before a write to the temporary file
READ_SIZE = 256 << 10  # what store_upload_file reads at a time
DRAIN_LIMIT = 8 << 20  # after a 413, at most this much more is read (and dropped)


def upload_limit(c: Central, media_type: str) -> int:
    """The most bytes an upload of ``media_type`` may have."""
    if media_type.startswith("image/"):
        return c.settings.max_photo_bytes
    if media_type.startswith("video/"):
        return c.settings.max_videogram_bytes
    return c.settings.max_media_bytes


def _media_type(declared: str | None, allowed: tuple[str, ...]) -> str:
    media_type = (declared or "").split(";")[0].strip().lower()
    if media_type not in allowed:
        raise InvalidInput(f"upload one of: {', '.join(allowed)} (got {media_type or 'none'})",
                           code="bad_media_type")
    return media_type


async def store_stream(c: Central, chunks: AsyncIterator[bytes], *, media_type: str,
                       allowed: tuple[str, ...], uploader: str, purpose: str,
                       declared_size: int | None = None,
                       expected_sha256: str | None = None) -> BlobOut:
    """Stream ``chunks`` into the blob store as ``uploader``'s upload for
    ``purpose``, and return what was stored.

    Raises InvalidInput for a type not in ``allowed``, bytes that do not
    start like ``media_type``, an empty upload or one that does not hash to
    ``expected_sha256``; TooLarge the moment the bytes pass the type's limit;
    OverQuota the moment they pass what is left of a family's storage quota
    (or at once, when ``declared_size`` already does); Forbidden for a family
    account no resident has approved. Nothing is kept when it raises."""
    media_type = _media_type(media_type, allowed)
    limit = upload_limit(c, media_type)
    if expected_sha256 is not None:
        check_sha256(expected_sha256)
    # A file said to be one uploaded before (X-Content-SHA256) is not counted twice.
    quota = await run_in_threadpool(functools.partial(uploads.storage, c, uploader,
                                                      except_sha256=expected_sha256))
    room = limit if quota is None else min(limit, quota.left)

    def refuse(size: int) -> None:
        if size > limit:
            raise TooLarge(f"the upload is over {limit} bytes", limit=limit)
        if quota is not None:
            quota.check(size)

    if declared_size is not None and declared_size > room:
        refuse(declared_size)
    incoming = await run_in_threadpool(functools.partial(
        c.blobs.incoming, max_size=limit, expected_sha256=expected_sha256))
    try:
        pending = bytearray()
        seen = 0
        checked = False
        async for chunk in chunks:
            seen += len(chunk)
            if seen > room:
                refuse(seen)
            pending += chunk
            if not checked and len(pending) >= HEAD_BYTES:
                check_content(media_type, bytes(pending[:HEAD_BYTES]))
                checked = True
            if len(pending) >= BATCH:
                await run_in_threadpool(incoming.write, pending)
                pending.clear()
        if pending:
            await run_in_threadpool(incoming.write, pending)
        pending.clear()
        if not checked:
            check_content(media_type, incoming.head)
        await run_in_threadpool(incoming.finish)
        stored = await run_in_threadpool(functools.partial(
            uploads.keep, c, incoming, media_type, uploader=uploader, purpose=purpose))
    finally:
        incoming.discard()
    return BlobOut(sha256=stored.sha256, size=stored.size, created=stored.created)


async def read_upload(request: Request, c: Central, *, allowed: tuple[str, ...],
                      uploader: str, purpose: str) -> BlobOut:
    """Stream a raw upload body into the blob store, recorded as ``uploader``'s
    upload for ``purpose`` (see :func:`store_stream`).

    The bytes must start like the declared Content-Type; ``X-Content-SHA256``,
    when sent, must match them. After a 413 the rest of the body is read and
    dropped up to :data:`DRAIN_LIMIT`, so the client hears the answer."""
    declared = request.headers.get("content-length")
    stream = request.stream()
    try:
        return await store_stream(
            c, stream, media_type=request.headers.get("content-type", ""), allowed=allowed,
            uploader=uploader, purpose=purpose,
            declared_size=int(declared) if declared is not None and declared.isdigit()
            else None,
            expected_sha256=request.headers.get("x-content-sha256"))
    except (TooLarge, OverQuota):
        await _drain(stream)
        raise


async def _drain(stream: AsyncIterator[bytes]) -> None:
    dropped = 0
    try:
        async for chunk in stream:
            dropped += len(chunk)
            if dropped > DRAIN_LIMIT:
                return
    except ClientDisconnect:  # the client went away: the refusal stands all the same
        log.info("upload refused; the client left while the rest was read")


async def _file_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while True:
        chunk = await upload.read(READ_SIZE)
        if not chunk:
            return
        yield chunk


async def store_upload_file(c: Central, upload: UploadFile, *, allowed: tuple[str, ...],
                            uploader: str, purpose: str) -> BlobOut:
    """A web form's file into the blob store, the same way as :func:`read_upload`
    (its declared type, its size bound, the family's quota, nothing kept on refusal)."""
    return await store_stream(c, _file_chunks(upload), media_type=upload.content_type or "",
                              allowed=allowed, uploader=uploader, purpose=purpose,
                              declared_size=upload.size)


def serve_blob(c: Central, sha256: str) -> FileResponse:
    path = c.blobs.path(check_sha256(sha256))
    if not path.is_file():
        raise NotFound(f"no blob {sha256}")
    return FileResponse(path, media_type="application/octet-stream",
                        headers={"X-Content-SHA256": sha256})
