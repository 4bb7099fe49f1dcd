"""Messages both ways between residents and their approved contacts.

Sending is one transaction: check the contact is approved, charge the
stamps (a posting keyed by the message's uid, so a retried request is
charged once), screen the text, and either deliver it into both feeds or
hold it for review. The uid is made where the message was written; the
same uid with the same content returns the first result, and with other
content is a Conflict.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select
from sqlalchemy.exc import IntegrityError

from central import ledger
from central.blobs import check_sha256
from central.database import insert_ignore
from central.errors import Conflict, InvalidInput, NotFound
from central.pricing import message_cost
from central.schema import attachments, blob_uploads, blobs, contacts, holds, messages
from central.services import feeds, legal_mail
from central.services.accounts import policy_of, require_approved, resident
from central.services.core import Central
from central.services.ledger_store import owner_accounts, post
from central.services.screening_lists import screen_for

log = logging.getLogger(__name__)
_UID = re.compile(r"[A-Za-z0-9_-]{8,64}")
UPLOAD_PURPOSES = ("message", "media")
# What each kind of attachment may be; the kind sets the price.
ATTACHMENT_TYPES = {"photo": ("image/jpeg", "image/png"), "videogram": ("video/mp4",)}
ATTACHMENT_KINDS = tuple(ATTACHMENT_TYPES)


@dataclass(frozen=True)
class Attachment:
    kind: str
    sha256: str


@dataclass(frozen=True)
class Sent:
    message_id: int
    uid: str
    status: str  # delivered, held, rejected
    stamps: int
    replayed: bool


def contact_owner(contact_id: int, agency: str) -> str:
    """A family member's stamps are held per agency: they buy and spend them there."""
    return f"contact:{contact_id}:{agency}"


def check_uid(uid: str) -> str:
    if not _UID.fullmatch(uid):
        raise InvalidInput("a message uid is 8-64 letters, digits, '-' or '_'", code="bad_uid")
    return uid


def send_from_contact(c: Central, contact_id: int, *, uid: str, resident_agency_id: str,
                      body: str, attached: Sequence[Attachment] = ()) -> Sent:
    """A family member writes to a resident, paying with the family's stamps."""
    with c.db.write() as conn:
        res = resident(conn, agency_id=resident_agency_id)
        return _send(conn, c, res, contact_id, "to_resident",
                     contact_owner(contact_id, str(res.agency)), uid, body, attached,
                     uploader=f"contact:{contact_id}")


def send_from_resident(c: Central, resident_id: int, *, uid: str, contact_id: int, body: str,
                       attached: Sequence[Attachment] = ()) -> Sent:
    """A resident writes to an approved contact, paying with the resident's stamps."""
    with c.db.write() as conn:
        res = resident(conn, id=resident_id)
        return _send(conn, c, res, contact_id, "from_resident", f"resident:{resident_id}", uid,
                     body, attached, uploader=f"resident:{resident_id}")


def _send(conn: Connection, c: Central, res: Row[tuple[object, ...]], contact_id: int,
          direction: str, payer: str, uid: str, body: str,
          attached: Sequence[Attachment], *, uploader: str) -> Sent:
    check_uid(uid)
    policy = policy_of(conn, str(res.agency))
    if not body.strip() and not attached:
        raise InvalidInput("a message needs text or an attachment", code="empty_message")
    if len(body) > policy.max_message_chars:
        raise InvalidInput(f"a message is at most {policy.max_message_chars} characters",
                           code="too_long")
    for a in attached:
        if a.kind not in ATTACHMENT_KINDS:
            raise InvalidInput(f"an attachment is a photo or a videogram, not {a.kind!r}")
        check_sha256(a.sha256)
    # Mail with a verified attorney is privileged: sealed, never screened, free.
    legal = legal_mail.is_privileged(conn, contact_id, str(res.agency))
    if legal and attached:
        raise InvalidInput("legal mail carries text only; send documents by post",
                           code="legal_mail_text_only")
    request = [direction, res.id, contact_id, body, [(a.kind, a.sha256) for a in attached]]
    digest = legal_mail.digest(c, request) if legal else hashlib.sha256(
        json.dumps(request).encode()).hexdigest()
    # Lock the payer's stamps first: concurrent retries of one message queue
    # here, and the later ones then find the first one's message below.
    lots = owner_accounts(conn, payer, ledger.STAMPS, lock=True)
    existing = conn.execute(select(messages).where(messages.c.uid == uid)).first()
    if existing is not None:
        if existing.request_digest != digest:
            raise Conflict(f"message {uid} was already sent with other content",
                           code="uid_reused")
        return Sent(existing.id, uid, existing.status, existing.stamps, replayed=True)
    rid = int(res.id)
    require_approved(conn, rid, contact_id)
    for a in attached:
        # Only the sender's own uploads for messages, of the type the kind promises
        # (the kind sets the price): never a catalog file or someone else's photo.
        media_type = conn.execute(select(blob_uploads.c.media_type).where(
            blob_uploads.c.sha256 == a.sha256, blob_uploads.c.uploader == uploader,
            blob_uploads.c.purpose == "message")).scalar()
        if media_type is None:
            raise InvalidInput(f"attachment {a.sha256} is not one of your uploads",
                               code="unknown_blob")
        if media_type not in ATTACHMENT_TYPES[a.kind]:
            raise InvalidInput(f"a {a.kind} must be {' or '.join(ATTACHMENT_TYPES[a.kind])}, "
                               f"not {media_type}", code="wrong_attachment_type")
    stamps = 0 if legal else message_cost(
        policy, photos=sum(a.kind == "photo" for a in attached),
        videograms=sum(a.kind == "videogram" for a in attached))
    at = c.clock()
    if stamps:
        draws = ledger.draw_stamps(lots, stamps, at)
        post(conn, ledger.message_charge(key=f"message:{uid}", agency=str(res.agency),
                                         draws=draws))
    if legal:
        held, verdict, name_verdict, by_policy = False, None, None, False
    else:
        screen = screen_for(conn, c, res)
        verdict = screen.check(body)
        # The family's display name travels with every message: it is screened too.
        sender_name = str(conn.execute(select(contacts.c.name)
                                       .where(contacts.c.id == contact_id)).scalar_one())
        name_verdict = screen.check(sender_name) if direction == "to_resident" else None
        by_policy = bool(attached) and policy.review_attachments
        held = verdict.held or by_policy or bool(name_verdict and name_verdict.held)
    status = "held" if held else "delivered"
    try:
        with conn.begin_nested():
            message_id = int(conn.execute(messages.insert().values(
                uid=uid, resident_id=rid, contact_id=contact_id, direction=direction,
                body=legal_mail.seal(c, uid, body) if legal else body, legal=legal,
                language=None, status=status, stamps=stamps, request_digest=digest,
                created_at=at).returning(messages.c.id)).scalar_one())
    except IntegrityError as e:  # the same uid, committed meanwhile by a parallel request
        raise Conflict(f"message {uid} is being sent by another request; retry",
                       code="retry") from e
    if attached:
        conn.execute(attachments.insert(), [
            {"message_id": message_id, "position": i, "kind": a.kind, "blob_sha256": a.sha256}
            for i, a in enumerate(attached)])
    if held and verdict is not None:
        hits = [{"term": h.term.text, "scope": h.term.scope, "scope_id": h.term.scope_id,
                 "language": h.term.language, "list_version": h.term.list_version,
                 "start": h.start, "end": h.end, "excerpt": h.excerpt} for h in verdict.hits]
        if name_verdict is not None:
            hits.extend({"field": "sender_name", "term": h.term.text, "scope": h.term.scope,
                         "scope_id": h.term.scope_id, "language": h.term.language,
                         "list_version": h.term.list_version, "start": h.start, "end": h.end,
                         "excerpt": h.excerpt} for h in name_verdict.hits)
        if by_policy:
            hits.append({"policy": "review_attachments",
                         "text": "the agency reviews every photo and videogram"})
        conn.execute(holds.insert().values(
            message_id=message_id, status="open", held_at=at, note="", hits=json.dumps(hits)))
        notify_sender(conn, c, message_id, "message_held",
                      "Your message is being reviewed by staff before delivery.")
        log.info("message %s held: %d hits%s", uid, len(verdict.hits),
                 " (attachments are reviewed)" if by_policy else "")
    else:
        deliver(conn, c, message_id)
    return Sent(message_id, uid, status, stamps, replayed=False)


def message_record(conn: Connection, message_id: int) -> dict[str, Any]:
    """What a feed carries for a message (its text, who, attachments by hash)."""
    row = conn.execute(select(messages, contacts.c.name.label("contact_name"))
                       .join(contacts, contacts.c.id == messages.c.contact_id)
                       .where(messages.c.id == message_id)).first()
    if row is None:
        raise NotFound(f"no message {message_id}")
    if row.legal:  # sealed: opened only on the delivery path (central.services.legal_mail)
        return {"uid": row.uid, "message_id": row.id, "direction": row.direction,
                "resident_id": row.resident_id, "contact_id": row.contact_id,
                "contact_name": row.contact_name, "stamps": row.stamps,
                "sent_at": row.created_at, "legal": True, "sealed": row.body}
    parts = conn.execute(select(attachments.c.kind, attachments.c.blob_sha256, blobs.c.size,
                                blobs.c.media_type)
                         .join(blobs, blobs.c.sha256 == attachments.c.blob_sha256)
                         .where(attachments.c.message_id == message_id)
                         .order_by(attachments.c.position)).all()
    return {"uid": row.uid, "message_id": row.id, "direction": row.direction,
            "resident_id": row.resident_id, "contact_id": row.contact_id,
            "contact_name": row.contact_name, "body": row.body, "stamps": row.stamps,
            "sent_at": row.created_at,
            "attachments": [{"kind": k, "sha256": s, "size": n, "media_type": t}
                            for k, s, n, t in parts]}


def deliver(conn: Connection, c: Central, message_id: int) -> None:
    """Put a message into the resident's and the contact's feeds."""
    record = message_record(conn, message_id)
    at = c.clock()
    feeds.append(conn, f"resident:{record['resident_id']}", "message", record["uid"], record, at)
    feeds.append(conn, f"contact:{record['contact_id']}", "message", record["uid"], record, at)


def notify_sender(conn: Connection, c: Central, message_id: int, notice: str, text: str,
                  **extra: Any) -> None:
    """A notice about a message in its sender's feed."""
    _notify(conn, c, message_id, notice, text, sender=True, **extra)


def notify_recipient(conn: Connection, c: Central, message_id: int, notice: str, text: str,
                     **extra: Any) -> None:
    """A notice about a message in its recipient's feed (never the message's text)."""
    _notify(conn, c, message_id, notice, text, sender=False, **extra)


def _notify(conn: Connection, c: Central, message_id: int, notice: str, text: str, *,
            sender: bool, **extra: Any) -> None:
    row = conn.execute(select(messages).where(messages.c.id == message_id)).one()
    to_family = (row.direction == "to_resident") == sender
    feed = f"contact:{row.contact_id}" if to_family else f"resident:{row.resident_id}"
    feeds.append(conn, feed, "notice", row.uid,
                 {"notice": notice, "message_uid": row.uid, "text": text, **extra}, c.clock())


def feed_page(c: Central, feed: str, after: int, limit: int = feeds.MAX_PAGE
              ) -> tuple[int, list[feeds.FeedRecord]]:
    """The feed's head and its records after ``after`` (privileged mail opened
    for its reader, audited)."""
    with c.db.read() as conn:
        head, records = feeds.head(conn, feed), feeds.since(conn, feed, after, limit)
    return head, legal_mail.open_records(c, records, feed=feed, reader=feed)


def record_upload(c: Central, sha256: str, size: int, media_type: str, *, uploader: str,
                  purpose: str) -> None:
    """Record who uploaded a blob and for what (its bytes are already in the store).

    ``uploader`` is ``contact:<id>``, ``resident:<id>`` or ``staff:<id>``;
    ``purpose`` is ``message`` (an attachment of the uploader's own messages)
    or ``media`` (a catalog file)."""
    if purpose not in UPLOAD_PURPOSES:
        raise InvalidInput(f"purpose is one of {', '.join(UPLOAD_PURPOSES)}")
    with c.db.write() as conn:
        insert_ignore(conn, blobs, [{"sha256": sha256, "size": size, "media_type": media_type,
                                     "created_at": c.clock()}], ["sha256"])
        insert_ignore(conn, blob_uploads, [{"sha256": sha256, "uploader": uploader,
                                            "purpose": purpose, "media_type": media_type,
                                            "at": c.clock()}],
                      ["sha256", "uploader", "purpose"])
