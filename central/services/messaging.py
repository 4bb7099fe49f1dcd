"""Messages both ways between residents and their approved contacts.

Sending is one transaction: check the contact is approved, charge the
stamps (a posting keyed by the message's uid, so a retried request is
charged once), screen the text, and either deliver it into both feeds or
hold it for review. The uid is made where the message was written; the
same uid with the same content returns the first result, and with other
content is a Conflict.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, or_, select, update
from sqlalchemy.exc import IntegrityError

from central import ledger
from central.blobs import check_sha256
from central.errors import Conflict, InvalidInput, NotFound
from central.pricing import attachment_cost, message_cost
from central.rejections import REASONS
from central.schema import (
    attachments,
    blob_uploads,
    blobs,
    contacts,
    holds,
    messages,
    residents,
)
from central.services import feeds, legal_mail, uploads
from central.services.accounts import policy_of, require_approved, resident
from central.services.core import Central
from central.services.ledger_store import owner_accounts, post
from central.services.screening_lists import screen_for
from sync.captions import CaptionsError
from sync.captions import parse as parse_captions

log = logging.getLogger(__name__)
_UID = re.compile(r"[A-Za-z0-9_-]{8,64}")
UPLOAD_PURPOSES = uploads.UPLOAD_PURPOSES
# What each kind of attachment may be; the kind sets the price.
ATTACHMENT_TYPES = {"photo": ("image/jpeg", "image/png"), "videogram": ("video/mp4",)}
ATTACHMENT_KINDS = tuple(ATTACHMENT_TYPES)


@dataclass(frozen=True)
class Attachment:
    kind: str
    sha256: str
    captions: str | None = None  # a videogram's WebVTT track, when its sender supplied one


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
        sent = _send(conn, c, res, contact_id, "to_resident",
                     contact_owner(contact_id, str(res.agency)), uid, body, attached,
                     uploader=f"contact:{contact_id}")
    return _translated(c, sent)


def send_from_resident(c: Central, resident_id: int, *, uid: str, contact_id: int, body: str,
                       attached: Sequence[Attachment] = ()) -> Sent:
    """A resident writes to an approved contact, paying with the resident's stamps."""
    with c.db.write() as conn:
        res = resident(conn, id=resident_id)
        sent = _send(conn, c, res, contact_id, "from_resident", f"resident:{resident_id}", uid,
                     body, attached, uploader=f"resident:{resident_id}")
    return _translated(c, sent)


def _translated(c: Central, sent: Sent) -> Sent:
    """A newly held message is translated for its reviewers once, after it is
    committed (the translation is slow and never blocks the send)."""
    if sent.status == "held" and not sent.replayed:
        translate_hold(c, sent.message_id)
    return sent


def translation_of(c: Central, text: str) -> dict[str, Any] | None:
    """The reviewer's view of ``text`` in the working language, as stored with a hold."""
    if c.translator is None:
        return None
    t = c.translator.for_reviewer(text)
    return {"source_language": t.source_language, "target_language": t.target_language,
            "text": t.text, "engine": t.engine, "status": t.status, "note": t.note}


def translate_hold(c: Central, message_id: int) -> dict[str, Any] | None:
    """Translate a held message for its reviewers and keep the translation with
    the hold, so the review queue reads it instead of translating again. (A
    translation that was unavailable is not kept: the next look tries again.)"""
    with c.db.read() as conn:
        body = conn.execute(select(messages.c.body).where(messages.c.id == message_id)
                            ).scalar_one()
    translation = translation_of(c, str(body))
    if translation is not None and translation["status"] != "unavailable":
        with c.db.write() as conn:
            conn.execute(update(holds).where(holds.c.message_id == message_id)
                         .values(translation=json.dumps(translation, sort_keys=True)))
    return translation


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
        check_captions(a)
    # Mail with a verified attorney is privileged: sealed, never screened, free.
    legal = legal_mail.is_privileged(conn, contact_id, str(res.agency))
    if legal and attached:
        raise InvalidInput("legal mail carries text only; send documents by post",
                           code="legal_mail_text_only")
    request = [direction, res.id, contact_id, body,
               [(a.kind, a.sha256) if a.captions is None else
                (a.kind, a.sha256, hashlib.sha256(a.captions.encode()).hexdigest())
                for a in attached]]
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
        upload = conn.execute(select(blob_uploads.c.media_type, blob_uploads.c.at).where(
            blob_uploads.c.sha256 == a.sha256, blob_uploads.c.uploader == uploader,
            blob_uploads.c.purpose == "message")).first()
        if upload is None:
            raise InvalidInput(f"attachment {a.sha256} is not one of your uploads",
                               code="unknown_blob")
        media_type = upload.media_type
        if uploads.contact_of(uploader) is not None and \
                upload.at < c.clock() - policy.unsent_upload_days * 86400:
            raise InvalidInput(f"attachment {a.sha256} was uploaded more than "
                               f"{policy.unsent_upload_days} days ago and has expired; "
                               "upload it again", code="upload_expired")
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
            {"message_id": message_id, "position": i, "kind": a.kind, "blob_sha256": a.sha256,
             "stamps": attachment_cost(policy, a.kind), "state": status,
             "captions": a.captions}
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
        # A message of attachments alone has no text to decide.
        text_status = "open" if body.strip() else "approved"
        conn.execute(holds.insert().values(
            message_id=message_id, status="open", held_at=at, note="", hits=json.dumps(hits),
            text_status=text_status, text_decided_at=None if body.strip() else at))
        notify_sender(conn, c, message_id, "message_held",
                      "Your message is being reviewed by staff before delivery.")
        log.info("message %s held: %d hits%s", uid, len(verdict.hits),
                 " (attachments are reviewed)" if by_policy else "")
    else:
        deliver(conn, c, message_id)
    return Sent(message_id, uid, status, stamps, replayed=False)


def check_captions(a: Attachment) -> None:
    """A videogram's captions must be a WebVTT track within sync/captions.py's
    bounds; raises InvalidInput (nothing is saved) otherwise."""
    if a.captions is None:
        return
    if a.kind != "videogram":
        raise InvalidInput(f"only a videogram carries captions, not a {a.kind}",
                           code="captions_not_videogram")
    try:
        parse_captions(a.captions)
    except CaptionsError as e:
        raise InvalidInput(f"the videogram's captions cannot be shown: {e.reason}",
                           code="bad_captions") from e


def message_record(conn: Connection, message_id: int, *,
                   withheld_too: bool = False) -> dict[str, Any]:
    """What a feed carries for a message: its text, who, the attachments
    delivered (by hash), and what staff withheld of it and why
    (``withheld``: the part, and the reason code with its wording in English
    and Spanish; never a withheld file's hash, nor withheld text).

    ``withheld_too`` is staff's view (review, an investigator's archive): the
    text as written and every attachment, each with its position and state."""
    row = conn.execute(select(messages, contacts.c.name.label("contact_name"),
                              holds.c.text_status, holds.c.text_reason_code)
                       .join(contacts, contacts.c.id == messages.c.contact_id)
                       .outerjoin(holds, holds.c.message_id == messages.c.id)
                       .where(messages.c.id == message_id)).first()
    if row is None:
        raise NotFound(f"no message {message_id}")
    if row.legal:  # sealed: opened only on the delivery path (central.services.legal_mail)
        return {"uid": row.uid, "message_id": row.id, "direction": row.direction,
                "resident_id": row.resident_id, "contact_id": row.contact_id,
                "contact_name": row.contact_name, "stamps": row.stamps,
                "sent_at": row.created_at, "legal": True, "sealed": row.body}
    parts = conn.execute(select(attachments.c.position, attachments.c.kind,
                                attachments.c.blob_sha256, attachments.c.state,
                                attachments.c.reason_code, blobs.c.size, blobs.c.media_type,
                                attachments.c.captions)
                         .join(blobs, blobs.c.sha256 == attachments.c.blob_sha256)
                         .where(attachments.c.message_id == message_id)
                         .order_by(attachments.c.position)).all()
    withheld: list[dict[str, Any]] = []
    body = row.body
    if row.text_status == "rejected":
        body = row.body if withheld_too else ""
        withheld.append(_withheld("text", None, row.text_reason_code))
    for p in parts:
        if p.state == "rejected":
            withheld.append(_withheld(p.kind, p.position, p.reason_code))
    if withheld_too:
        shown = [{"position": p.position, "kind": p.kind, "sha256": p.blob_sha256,
                  "size": p.size, "media_type": p.media_type, "state": p.state,
                  **_captions(p.captions)} for p in parts]
    else:
        shown = [{"kind": p.kind, "sha256": p.blob_sha256, "size": p.size,
                  "media_type": p.media_type, **_captions(p.captions)}
                 for p in parts if p.state != "rejected"]
    record = {"uid": row.uid, "message_id": row.id, "direction": row.direction,
              "resident_id": row.resident_id, "contact_id": row.contact_id,
              "contact_name": row.contact_name, "body": body, "stamps": row.stamps,
              "sent_at": row.created_at, "attachments": shown}
    if withheld:
        record["withheld"] = withheld
    return record


def _captions(captions: str | None) -> dict[str, Any]:
    return {"captions": captions} if captions is not None else {}


def _withheld(part: str, position: int | None, reason_code: str | None) -> dict[str, Any]:
    reason = REASONS.get(reason_code or "")
    return {"part": part, "position": position, "reason_code": reason_code,
            "reason": reason.both() if reason is not None else None}


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
    or ``media`` (a catalog file). Uploads over HTTP go through
    :func:`central.services.uploads.keep`, which checks a family's quota."""
    uploads.record(c, sha256, size, media_type, uploader=uploader, purpose=purpose)


@dataclass(frozen=True)
class PartView:
    """A part of a message as its family sees it: ``state`` is held,
    delivered or rejected, with the reason's code and words when rejected."""

    part: str  # text, attachment
    position: int | None
    kind: str  # text, photo, videogram
    sha256: str | None
    state: str
    reason_code: str | None
    reason: dict[str, str] | None


@dataclass(frozen=True)
class FamilyMessage:
    uid: str
    direction: str  # to_resident (the family wrote it), from_resident
    resident_agency_id: str
    status: str  # held, delivered, rejected
    body: str
    sent_at: int
    stamps: int
    parts: tuple[PartView, ...]


def _part_state(state: str) -> str:
    return {"approved": "held", "open": "held"}.get(state, state)


def contact_messages(c: Central, contact_id: int, *, page: int = 1,
                     per_page: int = 50) -> tuple[FamilyMessage, ...]:
    """A family member's messages, newest first, for their message list: what
    they wrote, in every state, each part with its own state and, when staff
    withheld it, the reason; and what residents wrote them that was
    delivered. Two queries a page. Raises InvalidInput for a bad page."""
    if not (1 <= page <= 1_000_000 and 1 <= per_page <= 200):
        raise InvalidInput("page is 1 or more and per_page 1..200")
    with c.db.read() as conn:
        rows = conn.execute(
            select(messages, residents.c.agency_id.label("resident_agency_id"),
                   holds.c.text_status, holds.c.text_reason_code)
            .join(residents, residents.c.id == messages.c.resident_id)
            .outerjoin(holds, holds.c.message_id == messages.c.id)
            .where(messages.c.contact_id == contact_id,
                   or_(messages.c.direction == "to_resident",
                       messages.c.status == "delivered"))
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
            .limit(per_page).offset((page - 1) * per_page)).all()
        parts = conn.execute(select(attachments).where(
            attachments.c.message_id.in_([r.id for r in rows]))
            .order_by(attachments.c.message_id, attachments.c.position)).all() if rows else []
    by_message: dict[int, list[PartView]] = {}
    for a in parts:
        withheld = REASONS.get(a.reason_code or "") if a.state == "rejected" else None
        by_message.setdefault(a.message_id, []).append(PartView(
            "attachment", a.position, a.kind, a.blob_sha256, _part_state(a.state),
            a.reason_code if withheld else None, withheld.both() if withheld else None))
    out = []
    for r in rows:
        text_state = {"open": "held", "approved": "held" if r.status == "held" else "delivered",
                      "rejected": "rejected"}.get(r.text_status or "", r.status)
        why = REASONS.get(r.text_reason_code or "") if text_state == "rejected" else None
        if r.status == "rejected" and why is None:
            why = REASONS.get(r.reason_code or "")
            text_state = "rejected"
        text = PartView("text", None, "text", None, text_state,
                        why.code if why else None, why.both() if why else None)
        mine = r.direction == "to_resident"
        shown = by_message.get(r.id, [])
        if r.status == "held":  # decided parts are told when the whole message is
            shown = [dataclasses.replace(p, state="held", reason_code=None, reason=None)
                     for p in shown]
        out.append(FamilyMessage(
            r.uid, r.direction, r.resident_agency_id, r.status,
            r.body if mine or text_state != "rejected" else "", int(r.created_at),
            int(r.stamps) if mine else 0,
            (text, *(p for p in shown if mine or p.state == "delivered"))))
    return tuple(out)
