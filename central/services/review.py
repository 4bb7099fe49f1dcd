"""Staff review of held messages, part by part.

A held message's text and each of its attachments are decided one by one: a
reviewer may approve the text and one photo and reject another photo with a
reason code (:mod:`central.rejections`). When every part is decided the hold
closes: what was approved is delivered (the rejected parts withheld, and the
record says which and why), both sides get a notice in their language, the
stamps come back as the agency's policy says (:func:`central.pricing.
rejection_refund`, posted once under a key of the message), and each decision
is audited with the reviewer's name. Approving or rejecting the whole message
at once decides every open part the same way. Every call keeps to the staff
member's :class:`~central.services.scope.Scope`.

Reviewers see the original beside a translation, made once when the message
was held and kept with the hold; :func:`review_queue` reads a page of the
queue with everything a reviewer's page shows in one query.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, func, select, update

from central import ledger
from central.database import for_update
from central.errors import Conflict, InvalidInput, NotFound
from central.pricing import PricingPolicy, attachment_cost, rejection_refund
from central.rejections import REASONS, Reason, part_name, reason
from central.schema import attachments, blobs, contacts, holds, messages, residents
from central.services.accounts import policy_of
from central.services.core import Central, audit
from central.services.ledger_store import find, load_accounts, post
from central.services.messaging import (
    deliver,
    message_record,
    notify_recipient,
    notify_sender,
    translate_hold,
)
from central.services.scope import Scope

log = logging.getLogger(__name__)

# What a rejection can say, to the sender and the recipient alike (English;
# central/rejections.py has the Spanish too).
REJECTION_REASONS = {code: r.en for code, r in REASONS.items()}
HOLD_STATUSES = ("open", "approved", "rejected", "partial")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class HoldView:
    hold_id: int
    status: str
    message: dict[str, Any]
    hits: list[dict[str, Any]]
    held_at: int
    reason_code: str | None
    translation: dict[str, Any] | None
    parts: list[dict[str, Any]]


@dataclass(frozen=True)
class Verdict:
    """One part's decision. A rejection needs a reason code from
    :data:`central.rejections.REASONS` (InvalidInput ``bad_reason`` otherwise)."""

    approve: bool
    reason_code: str | None = None

    def __post_init__(self) -> None:
        if not self.approve:
            reason(self.reason_code)
        elif self.reason_code is not None:
            raise InvalidInput("an approval carries no reason code", code="bad_reason")


@dataclass(frozen=True)
class PartState:
    """Where one part of a held message stands. ``part`` is ``text`` or
    ``attachment`` (then ``position`` is its place in the message, from 0, and
    ``kind`` photo or videogram); ``state`` is open, approved or rejected."""

    part: str
    position: int | None
    kind: str
    state: str
    reason_code: str | None
    reviewer_id: int | None
    decided_at: int | None


@dataclass(frozen=True)
class Decided:
    """A hold after a decision: ``status`` stays open until every part is
    decided, then approved, rejected or partial."""

    hold_id: int
    status: str
    parts: tuple[PartState, ...]
    stamps_refunded: int


def _held(scope: Scope) -> Select[Any]:
    """Holds of messages to or from residents of the staff member's facilities."""
    return select(holds).join(messages, messages.c.id == holds.c.message_id).join(
        residents, residents.c.id == messages.c.resident_id).where(
        scope.facilities_clause(residents.c.facility_id))


def _check_status(status: str) -> None:
    if status not in HOLD_STATUSES:
        raise InvalidInput(f"status is one of {', '.join(HOLD_STATUSES)}")


# -- reading -------------------------------------------------------------------------


_ATTACHMENT_STATE = {"held": "open", "approved": "approved", "delivered": "approved",
                     "rejected": "rejected"}


def _parts(conn: Connection, hold: Row[Any]) -> tuple[PartState, ...]:
    text = PartState("text", None, "text", hold.text_status, hold.text_reason_code,
                     hold.text_reviewer_id, hold.text_decided_at)
    rows = conn.execute(select(attachments).where(attachments.c.message_id == hold.message_id)
                        .order_by(attachments.c.position)).all()
    return (text, *(PartState("attachment", r.position, r.kind, _ATTACHMENT_STATE[r.state],
                              r.reason_code, r.reviewer_id, r.decided_at) for r in rows))


def _part_dicts(parts: tuple[PartState, ...]) -> list[dict[str, Any]]:
    return [dict(p.__dict__) for p in parts]


def list_holds(c: Central, status: str = "open", limit: int = 100, *,
               scope: Scope) -> list[HoldView]:
    _check_status(status)
    with c.db.read() as conn:
        rows = conn.execute(_held(scope).where(holds.c.status == status)
                            .order_by(holds.c.held_at, holds.c.id).limit(limit)).all()
        return [HoldView(r.id, r.status, _reviewed_record(conn, r.message_id),
                         json.loads(r.hits), r.held_at, r.reason_code,
                         json.loads(r.translation) if r.translation else None,
                         _part_dicts(_parts(conn, r))) for r in rows]


def _reviewed_record(conn: Connection, message_id: int) -> dict[str, Any]:
    """The message as staff see it: all of its text and attachments, withheld or not."""
    record = message_record(conn, message_id, withheld_too=True)
    for a in record["attachments"]:
        a["state"] = _ATTACHMENT_STATE[a["state"]]
    return record


def get_hold(c: Central, hold_id: int, *, scope: Scope, translate: bool = True) -> HoldView:
    """A hold with the message, the hits, each part's decision so far, and
    (for reviewers) a translation: the one kept with the hold, or made now."""
    with c.db.read() as conn:
        row = conn.execute(_held(scope).where(holds.c.id == hold_id)).first()
        if row is None:
            raise NotFound(f"no hold {hold_id}")
        record = _reviewed_record(conn, row.message_id)
        parts = _parts(conn, row)
    translation = json.loads(row.translation) if row.translation else None
    if translate and translation is None:
        translation = translate_hold(c, row.message_id)
    return HoldView(row.id, row.status, record, json.loads(row.hits), row.held_at,
                    row.reason_code, translation, _part_dicts(parts))


def attachment_file(c: Central, hold_id: int, position: int, *,
                    scope: Scope) -> tuple[str, str]:
    """The blob (SHA-256, media type) of a held message's attachment, for a
    reviewer to view. Raises NotFound outside the scope or for no such part."""
    with c.db.read() as conn:
        found = conn.execute(
            select(attachments.c.blob_sha256, blobs.c.media_type)
            .join(blobs, blobs.c.sha256 == attachments.c.blob_sha256)
            .join(holds, holds.c.message_id == attachments.c.message_id)
            .join(messages, messages.c.id == holds.c.message_id)
            .join(residents, residents.c.id == messages.c.resident_id)
            .where(holds.c.id == hold_id, attachments.c.position == position,
                   scope.facilities_clause(residents.c.facility_id))).first()
    if found is None:
        raise NotFound(f"no attachment {position} of hold {hold_id}")
    return str(found.blob_sha256), str(found.media_type)


# -- the review queue ----------------------------------------------------------------


@dataclass(frozen=True)
class QueueHit:
    """A reason the message was held: a listed term found in the text (or in
    the sender's name, ``field`` ``sender_name``) between ``start`` and
    ``end`` (character offsets into that field, for highlighting), or a
    ``policy`` that holds every such message."""

    field: str  # body, sender_name, policy
    term: str | None
    start: int | None
    end: int | None
    excerpt: str | None
    scope: str | None
    language: str | None
    list_version: int | None
    policy: str | None
    text: str | None


@dataclass(frozen=True)
class QueueAttachment:
    position: int
    kind: str  # photo, videogram
    sha256: str
    media_type: str
    size: int
    state: str  # open, approved, rejected
    reason_code: str | None


@dataclass(frozen=True)
class QueueItem:
    """One held message as a reviewer's page shows it."""

    hold_id: int
    status: str
    held_at: int
    message_id: int
    message_uid: str
    direction: str  # to_resident, from_resident
    body: str  # the original
    sent_at: int
    stamps: int
    resident_id: int
    resident_agency_id: str
    resident_name: str
    facility_id: str
    unit_id: str
    contact_id: int
    contact_name: str
    hits: tuple[QueueHit, ...]
    translation: dict[str, Any] | None  # kept with the hold; None until it is made
    text: PartState
    attachments: tuple[QueueAttachment, ...]


@dataclass(frozen=True)
class ReviewQueuePage:
    """A page of the review queue, oldest hold first. ``total`` counts every
    hold of that status in the scope (0 on a page past the last)."""

    items: tuple[QueueItem, ...]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _hit(h: Mapping[str, Any]) -> QueueHit:
    if "policy" in h:
        return QueueHit("policy", None, None, None, None, None, None, None,
                        str(h["policy"]), str(h.get("text") or ""))
    return QueueHit(str(h.get("field", "body")), h.get("term"), h.get("start"), h.get("end"),
                    h.get("excerpt"), h.get("scope"), h.get("language"),
                    h.get("list_version"), None, None)


def review_queue(conn: Connection, scope: Scope, *, page: int, per_page: int,
                 status: str = "open") -> ReviewQueuePage:
    """One page (from 1, ``per_page`` 1..100) of the holds in ``scope`` with
    ``status``, oldest first: each held message with its resident and
    sender, the terms that matched with their positions, the translation
    kept with the hold, and its attachments with their kind and state. One
    query whatever the page's size. Raises InvalidInput for a bad page."""
    _check_status(status)
    if not (1 <= page <= 1_000_000 and 1 <= per_page <= MAX_PER_PAGE):
        raise InvalidInput(f"page is 1 or more and per_page 1..{MAX_PER_PAGE}")
    chosen = (select(holds.c.id.label("hold_id"), func.count().over().label("total"))
              .select_from(holds.join(messages, messages.c.id == holds.c.message_id)
                           .join(residents, residents.c.id == messages.c.resident_id))
              .where(holds.c.status == status,
                     scope.facilities_clause(residents.c.facility_id))
              .order_by(holds.c.held_at, holds.c.id)
              .limit(per_page).offset((page - 1) * per_page)).subquery("chosen")
    rows = conn.execute(
        select(chosen.c.total, holds.c.id, holds.c.status, holds.c.held_at, holds.c.hits,
               holds.c.translation, holds.c.text_status, holds.c.text_reason_code,
               holds.c.text_reviewer_id, holds.c.text_decided_at,
               messages.c.id.label("message_id"), messages.c.uid, messages.c.direction,
               messages.c.body, messages.c.created_at, messages.c.stamps,
               residents.c.id.label("resident_id"),
               residents.c.agency_id.label("resident_agency_id"),
               residents.c.name.label("resident_name"), residents.c.facility_id,
               residents.c.unit_id, contacts.c.id.label("contact_id"),
               contacts.c.name.label("contact_name"),
               attachments.c.position, attachments.c.kind, attachments.c.blob_sha256,
               attachments.c.state, attachments.c.reason_code, blobs.c.media_type,
               blobs.c.size)
        .select_from(chosen.join(holds, holds.c.id == chosen.c.hold_id)
                     .join(messages, messages.c.id == holds.c.message_id)
                     .join(residents, residents.c.id == messages.c.resident_id)
                     .join(contacts, contacts.c.id == messages.c.contact_id)
                     .outerjoin(attachments, attachments.c.message_id == messages.c.id)
                     .outerjoin(blobs, blobs.c.sha256 == attachments.c.blob_sha256))
        .order_by(holds.c.held_at, holds.c.id, attachments.c.position)).all()
    items: list[QueueItem] = []
    total = 0
    by_hold: dict[int, list[Any]] = {}
    for r in rows:
        total = int(r.total)
        by_hold.setdefault(int(r.id), []).append(r)
    for group in by_hold.values():
        r = group[0]
        items.append(QueueItem(
            hold_id=int(r.id), status=r.status, held_at=int(r.held_at),
            message_id=int(r.message_id), message_uid=r.uid, direction=r.direction,
            body=r.body, sent_at=int(r.created_at), stamps=int(r.stamps),
            resident_id=int(r.resident_id), resident_agency_id=r.resident_agency_id,
            resident_name=r.resident_name, facility_id=r.facility_id, unit_id=r.unit_id,
            contact_id=int(r.contact_id), contact_name=r.contact_name,
            hits=tuple(_hit(h) for h in json.loads(r.hits)),
            translation=json.loads(r.translation) if r.translation else None,
            text=PartState("text", None, "text", r.text_status, r.text_reason_code,
                           r.text_reviewer_id, r.text_decided_at),
            attachments=tuple(
                QueueAttachment(int(a.position), a.kind, a.blob_sha256, a.media_type,
                                int(a.size), _ATTACHMENT_STATE[a.state], a.reason_code)
                for a in group if a.position is not None)))
    return ReviewQueuePage(tuple(items), page, per_page, total)


# -- deciding ------------------------------------------------------------------------


def decide(c: Central, hold_id: int, *, scope: Scope, approve: bool,
           reason_code: str | None = None, note: str = "") -> Decided:
    """Approve (deliver) or reject (with a reason code) every part of a held
    message still open.

    Raises InvalidInput for a rejection without a known reason code and
    Conflict if the hold was already decided.
    """
    verdict = Verdict(approve, None if approve else reason_code)
    return _decide(c, hold_id, scope=scope, note=note, everything=verdict)


def decide_parts(c: Central, hold_id: int, *, scope: Scope, text: Verdict | None = None,
                 attachments: Mapping[int, Verdict] | None = None,
                 note: str = "") -> Decided:
    """Decide some parts of a held message: its ``text`` and the attachments
    at the given positions. When that leaves no part open, the hold closes
    (see the module's docstring).

    Raises InvalidInput for a decision of nothing or of an attachment the
    message does not have, Conflict (``already_decided``) for a part or hold
    decided before, NotFound for a hold outside the scope.
    """
    if text is None and not attachments:
        raise InvalidInput("decide the text, an attachment, or both", code="empty_decision")
    return _decide(c, hold_id, scope=scope, note=note, text=text,
                   attached=dict(attachments or {}))


def _decide(c: Central, hold_id: int, *, scope: Scope, note: str,
            everything: Verdict | None = None, text: Verdict | None = None,
            attached: Mapping[int, Verdict] | None = None) -> Decided:
    if len(note) > 1000:
        raise InvalidInput("a note is at most 1000 characters")
    staff_id = scope.staff_id
    with c.db.write() as conn:
        if conn.execute(_held(scope).where(holds.c.id == hold_id)).first() is None:
            raise NotFound(f"no hold {hold_id}")
        hold = conn.execute(for_update(select(holds).where(holds.c.id == hold_id))).one()
        if hold.status != "open":
            raise Conflict(f"hold {hold_id} was already {hold.status}", code="already_decided")
        parts = _parts(conn, hold)
        if everything is not None:
            text = everything if hold.text_status == "open" else None
            attached = {p.position: everything for p in parts[1:]
                        if p.state == "open" and p.position is not None}
        attached = attached or {}
        positions = {p.position: p for p in parts[1:]}
        for position in attached:
            if position not in positions:
                raise InvalidInput(f"the message has no attachment {position}",
                                   code="no_such_part")
            if positions[position].state != "open":
                raise Conflict(f"attachment {position} was already "
                               f"{positions[position].state}", code="already_decided")
        if text is not None and hold.text_status != "open":
            raise Conflict(f"the text was already {hold.text_status}", code="already_decided")
        at = c.clock()
        if text is not None:
            conn.execute(update(holds).where(holds.c.id == hold_id).values(
                text_status="approved" if text.approve else "rejected",
                text_reason_code=text.reason_code, text_reviewer_id=staff_id,
                text_decided_at=at))
        for position, verdict in sorted(attached.items()):
            conn.execute(update(attachments).where(
                attachments.c.message_id == hold.message_id,
                attachments.c.position == position).values(
                state="approved" if verdict.approve else "rejected",
                reason_code=verdict.reason_code, reviewer_id=staff_id, decided_at=at))
        msg = conn.execute(select(messages).where(messages.c.id == hold.message_id)).one()
        decided = [{"part": "text", "approve": text.approve, "reason_code": text.reason_code}
                   ] if text is not None else []
        decided += [{"part": "attachment", "position": p, "approve": v.approve,
                     "reason_code": v.reason_code} for p, v in sorted(attached.items())]
        if everything is None:
            audit(conn, c, staff_id, "hold.parts", f"message:{msg.uid}",
                  resident=msg.resident_id, hold=hold_id, parts=decided, note=note)
        hold = conn.execute(select(holds).where(holds.c.id == hold_id)).one()
        parts = _parts(conn, hold)
        refunded = 0
        status = "open"
        if all(p.state != "open" for p in parts):
            status, refunded = _close(conn, c, hold, msg, parts, staff_id=staff_id, at=at,
                                      note=note)
            parts = _parts(conn, conn.execute(select(holds).where(holds.c.id == hold_id)).one())
        return Decided(hold_id, status, parts, refunded)


def _close(conn: Connection, c: Central, hold: Row[Any], msg: Row[Any],
           parts: tuple[PartState, ...], *, staff_id: int | None, at: int,
           note: str) -> tuple[str, int]:
    """Every part is decided: deliver what was approved, refund what the
    policy gives back, tell both sides, audit. Returns the hold's status and
    the stamps refunded."""
    text, attached = parts[0], parts[1:]
    has_text = bool(str(msg.body).strip())
    delivered_text = has_text and text.state == "approved"
    approved = [p for p in attached if p.state == "approved"]
    rejected = [p for p in attached if p.state == "rejected"]
    withheld = ([text] if has_text and text.state == "rejected" else []) + rejected
    if not withheld:
        status = "approved"
    elif delivered_text or approved:
        status = "partial"
    else:
        status = "rejected"
    first_reason = withheld[0].reason_code if withheld else None
    conn.execute(update(holds).where(holds.c.id == hold.id).values(
        status=status, reviewer_id=staff_id, reason_code=first_reason, note=note,
        decided_at=at))
    conn.execute(update(attachments).where(attachments.c.message_id == msg.id,
                                           attachments.c.state == "approved")
                 .values(state="delivered"))
    res = conn.execute(select(residents.c.agency, residents.c.language)
                       .where(residents.c.id == msg.resident_id)).one()
    policy = policy_of(conn, str(res.agency))
    language = str(res.language)
    refunded, expired, ran_out = _refund(
        conn, msg, policy, delivered=status != "rejected", rejected=rejected, at=at)
    if status == "rejected":
        assert first_reason is not None
        conn.execute(update(messages).where(messages.c.id == msg.id)
                     .values(status="rejected", decided_at=at, reason_code=first_reason))
        _tell_rejected(conn, c, msg.id, reason(first_reason), language, refunded, expired,
                       ran_out or at)
    else:
        conn.execute(update(messages).where(messages.c.id == msg.id)
                     .values(status="delivered", decided_at=at))
        deliver(conn, c, msg.id)
        if status == "approved":
            notify_sender(conn, c, msg.id, "message_approved",
                          "Your message was reviewed and delivered.",
                          texts={"en": "Your message was reviewed and delivered.",
                                 "es": "Su mensaje fue revisado y entregado."})
        else:
            _tell_partial(conn, c, msg.id, withheld, language, refunded, expired,
                          ran_out or at)
    audit(conn, c, staff_id, f"hold.{status}", f"message:{msg.uid}",
          resident=msg.resident_id, hold=hold.id, reason_code=first_reason, note=note,
          withheld=[{"part": p.part, "position": p.position, "reason_code": p.reason_code}
                    for p in withheld], stamps_refunded=refunded)
    log.info("hold %s %s (%d parts withheld, %d stamps back)", hold.id, status,
             len(withheld), refunded)
    return status, refunded


def _refund(conn: Connection, msg: Row[Any], policy: PricingPolicy, *, delivered: bool,
            rejected: list[PartState], at: int) -> tuple[int, int, int | None]:
    """Post the stamps the policy gives back (once: under a key of the
    message). Returns how many, how many of them came back to a plan that
    has run out, and when the latest such plan ran out."""
    if not msg.stamps:
        return 0, 0, None
    own = []
    for p in rejected:
        recorded = conn.execute(select(attachments.c.stamps).where(
            attachments.c.message_id == msg.id, attachments.c.position == p.position)
        ).scalar()
        # Sent before attachments were priced one by one: the price it has now.
        own.append(int(recorded) if recorded is not None else attachment_cost(policy, p.kind))
    refund = rejection_refund(policy, message_stamps=int(msg.stamps), delivered=delivered,
                              rejected_attachment_stamps=own)
    if refund.stamps == 0:
        return 0, 0, None
    charge = find(conn, f"message:{msg.uid}")
    if charge is None:
        log.error("message %s: no charge to refund", msg.uid)
        return 0, 0, None
    lots = load_accounts(conn, [e.account for e in charge.entries])
    if refund.whole:
        back = ledger.reversal(charge, key=f"refund:message:{msg.uid}", kind="message_refund",
                               memo="stamps back for a rejected message")
    else:
        back = ledger.partial_reversal(charge, lots, refund.stamps,
                                       key=f"refund:message:{msg.uid}:parts",
                                       kind="message_refund",
                                       memo="stamps back for withheld attachments")
    expired, ran_out = 0, None
    for entry in back.entries:
        expires_at = lots[entry.account].expires_at if entry.account in lots else None
        if entry.amount > 0 and expires_at is not None and expires_at <= at:
            expired += entry.amount
            ran_out = max(ran_out or 0, expires_at)
    post(conn, back)
    return refund.stamps, expired, ran_out


_STAMPS_BACK = {"en": " {n} stamps were returned.", "es": " Se le devolvieron {n} estampillas."}
_EXPIRED = {"en": " {n} of them came from a plan that ran out on {day}, and have expired "
                  "with it.",
            "es": " {n} de ellas eran de un plan que venció el {day}, y vencieron con él."}


def _money_said(language: str, refunded: int, expired: int, ran_out: int) -> str:
    said = _STAMPS_BACK[language].format(n=refunded) if refunded else ""
    if expired:
        day = datetime.datetime.fromtimestamp(ran_out, datetime.UTC).date().isoformat()
        said += _EXPIRED[language].format(n=expired, day=day)
    return said


def _tell_rejected(conn: Connection, c: Central, message_id: int, why: Reason,
                   resident_language: str, refunded: int, expired: int, ran_out: int) -> None:
    sender = {"en": f"Your message was not delivered. {why.en}"
                    f"{_money_said('en', refunded, expired, ran_out)}",
              "es": f"Su mensaje no fue entregado. {why.es}"
                    f"{_money_said('es', refunded, expired, ran_out)}"}
    recipient = {"en": f"A message to you was not delivered. {why.en}",
                 "es": f"Un mensaje para usted no fue entregado. {why.es}"}
    _tell(conn, c, message_id, resident_language, "message_rejected", sender, recipient,
          reason_code=why.code, reason=why.both(), stamps_refunded=refunded,
          stamps_expired=expired)


def _tell_partial(conn: Connection, c: Central, message_id: int, withheld: list[PartState],
                  resident_language: str, refunded: int, expired: int, ran_out: int) -> None:
    def listed(language: str) -> str:
        return "; ".join(f"{part_name(p.kind, p.position, language)}: "
                         f"{reason(p.reason_code).wording(language)}" for p in withheld)
    sender = {"en": f"Your message was delivered, but staff withheld {listed('en')}"
                    f"{_money_said('en', refunded, expired, ran_out)}",
              "es": f"Su mensaje fue entregado, pero el personal retuvo {listed('es')}"
                    f"{_money_said('es', refunded, expired, ran_out)}"}
    recipient = {"en": f"A message to you was delivered without {listed('en')}",
                 "es": f"Un mensaje para usted fue entregado sin {listed('es')}"}
    parts = [{"part": p.part, "position": p.position, "kind": p.kind,
              "reason_code": p.reason_code, "reason": reason(p.reason_code).both()}
             for p in withheld]
    _tell(conn, c, message_id, resident_language, "message_part_withheld", sender, recipient,
          withheld=parts, stamps_refunded=refunded, stamps_expired=expired)


def _tell(conn: Connection, c: Central, message_id: int, resident_language: str, notice: str,
          sender: dict[str, str], recipient: dict[str, str], **extra: Any) -> None:
    """A notice to each side: ``text`` in the reader's language (a resident's
    own; English for a family, whose page chooses from ``texts``)."""
    direction = conn.execute(select(messages.c.direction)
                             .where(messages.c.id == message_id)).scalar_one()
    lang = resident_language if resident_language in sender else "en"
    sender_lang = "en" if direction == "to_resident" else lang
    recipient_lang = lang if direction == "to_resident" else "en"
    to_recipient = {k: v for k, v in extra.items() if k not in ("stamps_refunded",
                                                                 "stamps_expired")}
    notify_sender(conn, c, message_id, notice, sender[sender_lang], texts=sender, **extra)
    notify_recipient(conn, c, message_id, notice, recipient[recipient_lang],
                     texts=recipient, **to_recipient)
