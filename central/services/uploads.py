"""Who uploaded a blob, for what, and how much a family account may hold.

A family account's storage quota (the agency's policy,
``family_storage_quota_bytes``) counts the bytes of its uploads for
messages that no message has yet delivered or rejected, and that were
uploaded within ``unsent_upload_days`` (an upload never sent past then
expires: it counts no more and can no longer be attached). A family in
touch with residents of several agencies has the largest of their quotas.
Residents' uploads at kiosks and staff's media are bounded by size alone.

:func:`forget_unsent` (run by the server's sweep) removes expired unsent
uploads, and their files when nothing else refers to them, so what a
family can leave on the disk is bounded too.

The quota is checked twice: before the bytes are read (so an upload that
cannot fit is refused at its first byte past what is left) and again in
the transaction that records it, with the family's row locked, so two
uploads at once cannot both take the last of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, exists, func, select, update

from central.blobs import Incoming, StoredBlob
from central.database import for_update, insert_ignore
from central.errors import Forbidden, InvalidInput, OverQuota
from central.pricing import PricingPolicy
from central.schema import (
    agencies,
    approvals,
    attachments,
    blob_uploads,
    blobs,
    catalog,
    contacts,
    messages,
    residents,
)
from central.services.core import Central

log = logging.getLogger(__name__)
UPLOAD_PURPOSES = ("message", "media")


@dataclass(frozen=True)
class Quota:
    """A family account's storage: ``limit`` bytes, ``used`` by uploads not yet
    delivered, and ``unsent_days`` before an unsent upload expires."""

    limit: int
    used: int
    unsent_days: int

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    def check(self, size: int) -> None:
        """Raises OverQuota when ``size`` more bytes do not fit."""
        if size > self.left:
            raise OverQuota(
                f"this upload of {size} bytes does not fit in your storage: "
                f"{self.used} of {self.limit} bytes are held by files not yet delivered; "
                "send or wait for those first", quota=self.limit, used=self.used, size=size)


def contact_of(uploader: str) -> int | None:
    """The family account's id of ``contact:<id>``; None for anyone else."""
    kind, _, number = uploader.partition(":")
    if kind != "contact":
        return None
    if not number.isdigit():
        raise InvalidInput(f"not an uploader: {uploader[:60]!r}")
    return int(number)


def _policies(conn: Connection, contact_id: int) -> list[PricingPolicy]:
    texts = conn.execute(select(agencies.c.policy).distinct()
                         .join(residents, residents.c.agency == agencies.c.id)
                         .join(approvals, approvals.c.resident_id == residents.c.id)
                         .where(approvals.c.contact_id == contact_id,
                                approvals.c.status == "approved")).scalars().all()
    return [PricingPolicy.from_json(t) for t in texts]


def used_bytes(conn: Connection, contact_id: int, *, since: int,
               except_sha256: str | None = None) -> int:
    """The bytes of ``contact_id``'s uploads for messages made at ``since`` or
    later that no message of theirs has delivered or rejected."""
    uploader = f"contact:{contact_id}"
    settled = exists().where(
        attachments.c.blob_sha256 == blob_uploads.c.sha256,
        attachments.c.state.in_(("delivered", "rejected")),
        messages.c.id == attachments.c.message_id, messages.c.contact_id == contact_id,
        messages.c.direction == "to_resident")
    query = (select(func.coalesce(func.sum(blobs.c.size), 0))
             .select_from(blob_uploads.join(blobs, blobs.c.sha256 == blob_uploads.c.sha256))
             .where(blob_uploads.c.uploader == uploader, blob_uploads.c.purpose == "message",
                    blob_uploads.c.at >= since, ~settled))
    if except_sha256 is not None:
        query = query.where(blob_uploads.c.sha256 != except_sha256)
    return int(conn.execute(query).scalar_one())


def quota_of(conn: Connection, c: Central, uploader: str, *,
             except_sha256: str | None = None) -> Quota | None:
    """The storage quota of a family uploader (None: not a family's upload,
    bounded by size alone). Raises Forbidden for a family account no
    resident has approved: uploads are for approved contacts."""
    contact_id = contact_of(uploader)
    if contact_id is None:
        return None
    policies = _policies(conn, contact_id)
    if not policies:
        raise Forbidden("uploads are for approved contacts", code="not_approved")
    best = max(policies, key=lambda p: p.family_storage_quota_bytes)
    since = c.clock() - best.unsent_upload_days * 86400
    return Quota(best.family_storage_quota_bytes,
                 used_bytes(conn, contact_id, since=since, except_sha256=except_sha256),
                 best.unsent_upload_days)


def storage(c: Central, uploader: str, *, except_sha256: str | None = None) -> Quota | None:
    """What a family's storage quota allows now (for the family's page); None
    for an uploader bounded by size alone. ``except_sha256``: a file about to
    be uploaded again, which takes no more room than it does already."""
    if contact_of(uploader) is None:
        return None
    with c.db.read() as conn:
        return quota_of(conn, c, uploader, except_sha256=except_sha256)


def _record(conn: Connection, c: Central, sha256: str, size: int, media_type: str, *,
            uploader: str, purpose: str) -> None:
    if purpose not in UPLOAD_PURPOSES:
        raise InvalidInput(f"purpose is one of {', '.join(UPLOAD_PURPOSES)}")
    at = c.clock()
    insert_ignore(conn, blobs, [{"sha256": sha256, "size": size, "media_type": media_type,
                                 "created_at": at}], ["sha256"])
    insert_ignore(conn, blob_uploads, [{"sha256": sha256, "uploader": uploader,
                                        "purpose": purpose, "media_type": media_type,
                                        "at": at}], ["sha256", "uploader", "purpose"])
    # Uploaded again: the same file is fresh again (and counts again until sent).
    conn.execute(update(blob_uploads).where(and_(
        blob_uploads.c.sha256 == sha256, blob_uploads.c.uploader == uploader,
        blob_uploads.c.purpose == purpose)).values(at=at, media_type=media_type))


def record(c: Central, sha256: str, size: int, media_type: str, *, uploader: str,
           purpose: str) -> None:
    """Record who uploaded a blob already in the store, and for what (no quota:
    for blobs written by other means, such as seeding)."""
    with c.db.write() as conn:
        _record(conn, c, sha256, size, media_type, uploader=uploader, purpose=purpose)


def keep(c: Central, incoming: Incoming, media_type: str, *, uploader: str,
         purpose: str) -> StoredBlob:
    """Keep a finished upload: in one transaction, check the family's quota
    again with their row locked, record the upload, and rename the file into
    place. Raises OverQuota (and nothing is kept) when it does not fit."""
    sha256 = incoming.sha256
    if sha256 is None:
        raise InvalidInput("an upload is finished before it is kept")
    with c.db.write() as conn:
        contact_id = contact_of(uploader)
        if contact_id is not None:
            conn.execute(for_update(select(contacts.c.id).where(contacts.c.id == contact_id)))
            quota = quota_of(conn, c, uploader, except_sha256=sha256)
            assert quota is not None
            quota.check(incoming.size)
        _record(conn, c, sha256, incoming.size, media_type, uploader=uploader,
                purpose=purpose)
        stored = incoming.commit()
    log.info("upload %s by %s for %s: %d bytes", sha256, uploader, purpose, incoming.size)
    return stored


def forget_unsent(c: Central, *, limit: int = 500) -> int:
    """Remove family uploads left unsent past their agency's
    ``unsent_upload_days``: the upload's row, and the file with its row when
    nothing else refers to it (another upload of the same bytes, a message's
    attachment, a catalog item). Returns how many uploads were forgotten; at
    most ``limit`` a call (the server's sweep calls it again)."""
    at = c.clock()
    removed = 0
    with c.db.write() as conn:
        shortest = min((PricingPolicy.from_json(t).unsent_upload_days for t in
                        conn.execute(select(agencies.c.policy)).scalars()), default=None)
        if shortest is None:
            return 0
        attached = exists().where(attachments.c.blob_sha256 == blob_uploads.c.sha256)
        candidates = conn.execute(
            select(blob_uploads.c.sha256, blob_uploads.c.uploader, blob_uploads.c.at)
            .where(blob_uploads.c.uploader.like("contact:%"),
                   blob_uploads.c.purpose == "message",
                   blob_uploads.c.at < at - shortest * 86400, ~attached)
            .order_by(blob_uploads.c.at).limit(limit)).all()
        days: dict[str, int] = {}
        files: list[str] = []
        for row in candidates:
            if row.uploader not in days:
                contact_id = contact_of(row.uploader)
                policies = _policies(conn, contact_id) if contact_id is not None else []
                days[row.uploader] = max((p.unsent_upload_days for p in policies),
                                         default=shortest)
            if row.at >= at - days[row.uploader] * 86400:
                continue
            conn.execute(delete(blob_uploads).where(
                blob_uploads.c.sha256 == row.sha256, blob_uploads.c.uploader == row.uploader,
                blob_uploads.c.purpose == "message"))
            removed += 1
            still = conn.execute(select(blob_uploads.c.sha256).where(
                blob_uploads.c.sha256 == row.sha256).limit(1)).first() or conn.execute(
                select(attachments.c.message_id).where(
                    attachments.c.blob_sha256 == row.sha256).limit(1)).first() or \
                conn.execute(select(catalog.c.id).where(
                    catalog.c.blob_sha256 == row.sha256).limit(1)).first()
            if still is None:
                conn.execute(delete(blobs).where(blobs.c.sha256 == row.sha256))
                files.append(row.sha256)
        # The files go last, inside the transaction: had a row refused to go,
        # the file would stay with it.
        for sha256 in files:
            c.blobs.path(sha256).unlink(missing_ok=True)
    if removed:
        log.info("forgot %d unsent uploads (%d files)", removed, len(files))
    return removed
