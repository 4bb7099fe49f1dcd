"""Uploading and serving blobs over HTTP, with size bounds and Range."""

from __future__ import annotations

import functools
import logging

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from central.api.models import BlobOut
from central.blobs import check_content, check_sha256
from central.errors import InvalidInput, NotFound
from central.services import messaging
from central.services.core import Central

log = logging.getLogger(__name__)


def _limit(c: Central, media_type: str) -> int:
    if media_type.startswith("image/"):
        return c.settings.max_photo_bytes
    if media_type.startswith("video/"):
        return c.settings.max_videogram_bytes
    return c.settings.max_media_bytes


async def read_upload(request: Request, c: Central, *, allowed: tuple[str, ...],
                      uploader: str, purpose: str) -> BlobOut:
    """Read a raw upload body (bounded by its type's limit) into the blob store,
    recorded as ``uploader``'s upload for ``purpose``.

    The bytes must start like the declared type; ``X-Content-SHA256``, when
    sent, must match them."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in allowed:
        raise InvalidInput(f"upload one of: {', '.join(allowed)} (got {media_type or 'none'})",
                           code="bad_media_type")
    limit = _limit(c, media_type)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InvalidInput(f"the upload is over {limit} bytes", code="too_large")
    expected = request.headers.get("x-content-sha256")
    if expected is not None:
        check_sha256(expected)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidInput(f"the upload is over {limit} bytes", code="too_large")
        chunks.append(chunk)
    check_content(media_type, b"".join(chunks)[:16] if chunks else b"")
    stored = await run_in_threadpool(c.blobs.put, chunks, max_size=limit,
                                     expected_sha256=expected)
    await run_in_threadpool(functools.partial(
        messaging.record_upload, c, stored.sha256, stored.size, media_type,
        uploader=uploader, purpose=purpose))
    return BlobOut(sha256=stored.sha256, size=stored.size, created=stored.created)


def serve_blob(c: Central, sha256: str) -> FileResponse:
    path = c.blobs.path(check_sha256(sha256))
    if not path.is_file():
        raise NotFound(f"no blob {sha256}")
    return FileResponse(path, media_type="application/octet-stream",
                        headers={"X-Content-SHA256": sha256})
