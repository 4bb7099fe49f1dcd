"""A resident's archive as one file, and the retention period.

The archive is a zip: ``archive.json`` (the resident, every message both
ways, every entitlement and ticket) and ``blobs/<sha256>`` for each photo,
videogram and media file, for release or transfer to agency storage.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Iterator
from typing import Any

from sqlalchemy import delete, select

from central.errors import NotFound
from central.schema import attachments, feed_records, holds, messages
from central.services import media, tickets
from central.services.accounts import resident
from central.services.core import Central, audit
from central.services.messaging import message_record
from central.services.scope import Scope

log = logging.getLogger(__name__)
PURGE_BATCH = 500


def export(c: Central, resident_id: int, *, scope: Scope) -> bytes:
    """Everything kept for a resident of a facility in ``scope``, as zip bytes.
    Raises NotFound."""
    staff_id = scope.staff_id
    with c.db.read() as conn:
        res = resident(conn, id=resident_id)
        scope.facility(res.facility_id, f"resident {resident_id}")
        ids = conn.execute(select(messages.c.id).where(messages.c.resident_id == resident_id,
                                                       messages.c.legal.is_(False))
                           .order_by(messages.c.id)).scalars().all()
        # Privileged mail with an attorney is never in a staff export; that it
        # was withheld is audited, message by message.
        privileged = conn.execute(select(messages.c.uid).where(
            messages.c.resident_id == resident_id, messages.c.legal.is_(True))
            .order_by(messages.c.id)).scalars().all()
        # The investigator's view: what review withheld too, with each part's state.
        records = [message_record(conn, i, withheld_too=True) | {"status": s}
                   for i, s in conn.execute(select(messages.c.id, messages.c.status)
                                            .where(messages.c.id.in_(ids))
                                            .order_by(messages.c.id))]
    ents = media.entitlements_of(c, resident_id)
    tix = tickets.list_tickets(c, resident_id=resident_id)
    manifest: dict[str, Any] = {
        "format": "sallyport-archive/1",
        "exported_at": c.clock(),
        "resident": {"id": res.id, "agency_id": res.agency_id, "name": res.name,
                     "facility": res.facility_id, "unit": res.unit_id},
        "messages": records,
        "entitlements": [e.__dict__ for e in ents],
        "tickets": [t.__dict__ for t in tix],
    }
    hashes = sorted({a["sha256"] for r in records for a in r["attachments"]}
                    | {e.sha256 for e in ents if e.sha256 and e.state != "refunded"})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive.json", json.dumps(manifest, indent=1, sort_keys=True))
        for sha in hashes:
            try:
                zf.writestr(f"blobs/{sha}", c.blobs.read(sha), compress_type=zipfile.ZIP_STORED)
            except NotFound:
                log.error("archive of resident %s: blob %s is missing", resident_id, sha)
    with c.db.write() as conn:
        audit(conn, c, staff_id, "resident.export", f"resident:{resident_id}",
              resident=resident_id,
              messages=len(records), blobs=len(hashes), legal_withheld=len(privileged))
        for uid in privileged:
            audit(conn, c, staff_id, "legal.withheld", f"message:{uid}", resident=resident_id,
                  route="resident.export")
    return out.getvalue()


class _Chunks:
    """A write-only, unseekable file that zipfile writes into (it then uses
    data descriptors) and a generator empties as it goes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.written = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


STREAM_CHUNK = 1 << 20


def stream(c: Central, resident_id: int) -> Iterator[bytes]:
    """A resident's whole archive (every message both ways but privileged
    mail, every photo, videogram and purchased file, tickets) as a zip made
    as it is sent: one blob in memory a chunk at a time, never the whole
    archive. For release: the caller checked who may have it."""
    with c.db.read() as conn:
        res = resident(conn, id=resident_id)
        ids = conn.execute(select(messages.c.id).where(messages.c.resident_id == resident_id,
                                                       messages.c.legal.is_(False))
                           .order_by(messages.c.id)).scalars().all()
        records = [message_record(conn, i) | {"status": s} for i, s in conn.execute(
            select(messages.c.id, messages.c.status).where(messages.c.id.in_(ids))
            .order_by(messages.c.id))]
    ents = media.entitlements_of(c, resident_id)
    tix = tickets.list_tickets(c, resident_id=resident_id)
    manifest: dict[str, Any] = {
        "format": "sallyport-archive/1", "exported_at": c.clock(),
        "resident": {"id": res.id, "agency_id": res.agency_id, "name": res.name,
                     "facility": res.facility_id, "unit": res.unit_id},
        "messages": records, "entitlements": [e.__dict__ for e in ents],
        "tickets": [t.__dict__ for t in tix],
    }
    hashes = sorted({a["sha256"] for r in records for a in r["attachments"]}
                    | {e.sha256 for e in ents if e.sha256 and e.state != "refunded"})
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:  # type: ignore[call-overload]
        zf.writestr("archive.json", json.dumps(manifest, indent=1, sort_keys=True))
        yield sink.take()
        for sha in hashes:
            path = c.blobs.path(sha)
            if not path.exists():
                log.error("archive of resident %s: blob %s is missing", resident_id, sha)
                continue
            with path.open("rb") as src, zf.open(zipfile.ZipInfo(f"blobs/{sha}"), "w",
                                                force_zip64=True) as dst:
                while chunk := src.read(STREAM_CHUNK):
                    dst.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def purge_expired(c: Central) -> int:
    """Delete messages older than the retention period (never an open hold's),
    with their feed records. The ledger is kept: money is never forgotten."""
    cutoff = c.clock() - c.settings.retention_days * 86400
    with c.db.write() as conn:
        old = conn.execute(select(messages.c.id, messages.c.uid, messages.c.resident_id,
                                  messages.c.contact_id)
                           .where(messages.c.created_at < cutoff, messages.c.status != "held")
                           ).all()
        if not old:
            return 0
        for start in range(0, len(old), PURGE_BATCH):
            batch = old[start:start + PURGE_BATCH]
            ids = [m.id for m in batch]
            conn.execute(delete(holds).where(holds.c.message_id.in_(ids)))
            conn.execute(delete(attachments).where(attachments.c.message_id.in_(ids)))
            # Only the message's own records and notices: an entitlement's record
            # (whose ref is a number that could look like a uid) is never touched.
            by_feed: dict[str, list[str]] = {}
            for m in batch:
                by_feed.setdefault(f"resident:{m.resident_id}", []).append(m.uid)
                by_feed.setdefault(f"contact:{m.contact_id}", []).append(m.uid)
            for feed, uids in by_feed.items():
                conn.execute(delete(feed_records).where(
                    feed_records.c.feed == feed, feed_records.c.kind.in_(("message", "notice")),
                    feed_records.c.ref.in_(uids)))
            conn.execute(delete(messages).where(messages.c.id.in_(ids)))
        audit(conn, c, None, "retention.purge", "messages", count=len(old), cutoff=cutoff)
    return len(old)
