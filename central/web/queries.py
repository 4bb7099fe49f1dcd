"""What the web pages read, in as few queries as each page needs. Reads only:
every change goes through the services."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, select

from central import ledger
from central.pricing import PricingPolicy
from central.schema import (
    agencies,
    approvals,
    attachments,
    blob_uploads,
    blobs,
    contacts,
    feed_records,
    holds,
    ledger_accounts,
    ledger_entries,
    ledger_transactions,
    messages,
    residents,
)
from central.services.scope import Scope

PAGE = 20


@dataclass(frozen=True)
class ContactRequest:
    id: int
    resident_agency_id: str
    resident_name: str | None  # only once staff approve
    relationship: str
    status: str
    requested_at: int
    agency: str
    agency_name: str


def contact_requests(conn: Connection, contact_id: int) -> list[ContactRequest]:
    rows = conn.execute(
        select(approvals, residents.c.agency_id.label("resident_agency_id"),
               residents.c.name.label("resident_name"), residents.c.agency,
               agencies.c.name.label("agency_name"))
        .join(residents, residents.c.id == approvals.c.resident_id)
        .join(agencies, agencies.c.id == residents.c.agency)
        .where(approvals.c.contact_id == contact_id).order_by(approvals.c.id)).all()
    # No name before staff approve: an ID number someone typed tells them nobody's name.
    return [ContactRequest(r.id, r.resident_agency_id,
                           r.resident_name if r.status == "approved" else None,
                           r.relationship, r.status, r.requested_at, r.agency, r.agency_name)
            for r in rows]


def contact_name(conn: Connection, contact_id: int) -> str:
    return str(conn.execute(select(contacts.c.name).where(contacts.c.id == contact_id))
               .scalar_one())


def policy(conn: Connection, agency: str) -> PricingPolicy:
    return PricingPolicy.from_json(conn.execute(select(agencies.c.policy)
                                                .where(agencies.c.id == agency)).scalar_one())


@dataclass(frozen=True)
class FeedItem:
    seq: int
    kind: str  # message, notice
    body: dict[str, Any]
    created_at: int


def feed_page(conn: Connection, feed: str, before: int | None,
              size: int = PAGE) -> tuple[list[FeedItem], int | None]:
    """A page of ``feed``, newest first, older than ``before``; and the
    ``before`` of the next page (None at the end)."""
    query = select(feed_records).where(feed_records.c.feed == feed,
                                       feed_records.c.kind.in_(("message", "notice")))
    if before is not None:
        query = query.where(feed_records.c.seq < before)
    rows = conn.execute(query.order_by(feed_records.c.seq.desc()).limit(size + 1)).all()
    items = [FeedItem(r.seq, r.kind, json.loads(r.body), r.created_at) for r in rows[:size]]
    return items, (items[-1].seq if len(rows) > size else None)


@dataclass(frozen=True)
class StampLine:
    at: int
    kind: str  # stamp_sale, message, message_refund, stamp_expiry
    stamps: int  # + in, - out
    memo: str


def stamp_history(conn: Connection, owner: str, page: int,
                  size: int = PAGE) -> tuple[list[StampLine], bool]:
    """The postings that moved ``owner``'s stamps, newest first; and whether
    there are more."""
    lots = select(ledger_accounts.c.id).where(ledger_accounts.c.owner == owner,
                                              ledger_accounts.c.unit == ledger.STAMPS)
    rows = conn.execute(
        select(ledger_transactions.c.created_at, ledger_transactions.c.kind,
               ledger_transactions.c.memo, func.sum(ledger_entries.c.amount).label("stamps"))
        .join(ledger_entries, ledger_entries.c.transaction_id == ledger_transactions.c.id)
        .where(ledger_entries.c.account_id.in_(lots))
        .group_by(ledger_transactions.c.id, ledger_transactions.c.created_at,
                  ledger_transactions.c.kind, ledger_transactions.c.memo)
        .order_by(ledger_transactions.c.id.desc())
        .offset(page * size).limit(size + 1)).all()
    return ([StampLine(r.created_at, r.kind, int(r.stamps), r.memo) for r in rows[:size]],
            len(rows) > size)


def file_of_contact(conn: Connection, contact_id: int, sha256: str) -> str | None:
    """The media type of a photo or videogram the contact may see: one of
    their own uploads, or an attachment of a delivered message to or from
    them. None otherwise."""
    own = conn.execute(select(blob_uploads.c.media_type).where(
        blob_uploads.c.sha256 == sha256, blob_uploads.c.uploader == f"contact:{contact_id}",
        blob_uploads.c.purpose == "message")).scalar()
    if own is not None:
        return str(own)
    shared = conn.execute(
        select(blobs.c.media_type)
        .join(attachments, attachments.c.blob_sha256 == blobs.c.sha256)
        .join(messages, and_(messages.c.id == attachments.c.message_id,
                             messages.c.contact_id == contact_id,
                             messages.c.status == "delivered"))
        .where(blobs.c.sha256 == sha256).limit(1)).scalar()
    return None if shared is None else str(shared)


# -- the review queue ------------------------------------------------------------


@dataclass(frozen=True)
class QueuedHold:
    hold_id: int
    held_at: int
    uid: str
    direction: str
    body: str
    resident_agency_id: str
    resident_name: str
    facility_id: str
    contact_name: str
    photos: int
    videograms: int
    hits: list[dict[str, Any]]


def review_queue(conn: Connection, scope: Scope, page: int,
                 size: int = 50) -> tuple[list[QueuedHold], int]:
    """Open holds in the staff member's reach, oldest first (two queries
    whatever the page's size); and how many there are in all."""
    where = and_(holds.c.status == "open", scope.facilities_clause(residents.c.facility_id))
    joined = (holds.join(messages, messages.c.id == holds.c.message_id)
              .join(residents, residents.c.id == messages.c.resident_id))
    total = int(conn.execute(select(func.count()).select_from(joined).where(where))
                .scalar_one())
    rows = conn.execute(
        select(holds.c.id, holds.c.held_at, holds.c.hits, messages.c.id.label("message_id"),
               messages.c.uid, messages.c.direction, messages.c.body,
               residents.c.agency_id, residents.c.name, residents.c.facility_id,
               contacts.c.name.label("contact_name"))
        .select_from(joined.join(contacts, contacts.c.id == messages.c.contact_id))
        .where(where).order_by(holds.c.held_at, holds.c.id)
        .offset(page * size).limit(size)).all()
    counts: dict[int, dict[str, int]] = {}
    if rows:
        for message_id, kind, n in conn.execute(
                select(attachments.c.message_id, attachments.c.kind, func.count())
                .where(attachments.c.message_id.in_([r.message_id for r in rows]))
                .group_by(attachments.c.message_id, attachments.c.kind)):
            counts.setdefault(message_id, {})[kind] = int(n)
    return [QueuedHold(r.id, r.held_at, r.uid, r.direction, r.body, r.agency_id, r.name,
                       r.facility_id, r.contact_name,
                       counts.get(r.message_id, {}).get("photo", 0),
                       counts.get(r.message_id, {}).get("videogram", 0), json.loads(r.hits))
            for r in rows], total


# -- devices ---------------------------------------------------------------------


def kiosks_in(conn: Connection, scope: Scope) -> list[Any]:
    from central.schema import kiosks, units
    return list(conn.execute(
        select(kiosks.c.id, kiosks.c.location_code, kiosks.c.unit_id, kiosks.c.status,
               kiosks.c.last_seen_at, units.c.name.label("unit_name"))
        .join(units, units.c.id == kiosks.c.unit_id)
        .where(scope.units_clause(kiosks.c.unit_id), kiosks.c.status != "retired")
        .order_by(kiosks.c.unit_id, kiosks.c.id)).all())


def tablets_in(conn: Connection, scope: Scope, page: int, size: int = 50) -> tuple[list[Any], int]:
    """Tablets of the staff member's facilities (or, registered before tablets
    had one, of their residents), with their owners; and how many in all."""
    from sqlalchemy import or_

    from central.schema import tablets
    where = or_(scope.facilities_clause(tablets.c.facility_id),
                and_(tablets.c.facility_id.is_(None),
                     scope.facilities_clause(residents.c.facility_id)))
    joined = tablets.outerjoin(residents, residents.c.id == tablets.c.resident_id)
    total = int(conn.execute(select(func.count()).select_from(joined).where(where))
                .scalar_one())
    rows = conn.execute(
        select(tablets.c.serial, tablets.c.status, tablets.c.facility_id,
               tablets.c.last_dock_at, tablets.c.last_dock_kiosk,
               residents.c.name.label("owner"), residents.c.agency_id.label("owner_id"),
               residents.c.agency.label("agency"))
        .select_from(joined).where(where).order_by(tablets.c.serial)
        .offset(page * size).limit(size)).all()
    return list(rows), total


# -- residents and contacts --------------------------------------------------------


@dataclass(frozen=True)
class ContactRequestForStaff:
    id: int
    status: str
    requested_at: int
    relationship: str
    contact_name: str
    contact_email: str
    identity: dict[str, str]
    resident_name: str
    resident_agency_id: str
    facility_id: str


def contact_requests_in(conn: Connection, scope: Scope, status: str,
                        limit: int = 200) -> list[ContactRequestForStaff]:
    rows = conn.execute(
        select(approvals.c.id, approvals.c.status, approvals.c.requested_at,
               approvals.c.relationship, contacts.c.name.label("contact_name"),
               contacts.c.email, contacts.c.identity, residents.c.name.label("resident_name"),
               residents.c.agency_id, residents.c.facility_id)
        .join(contacts, contacts.c.id == approvals.c.contact_id)
        .join(residents, residents.c.id == approvals.c.resident_id)
        .where(approvals.c.status == status, scope.facilities_clause(residents.c.facility_id))
        .order_by(approvals.c.requested_at, approvals.c.id).limit(limit)).all()
    return [ContactRequestForStaff(r.id, r.status, r.requested_at, r.relationship,
                                   r.contact_name, r.email, json.loads(r.identity or "{}"),
                                   r.resident_name, r.agency_id, r.facility_id) for r in rows]


def residents_in(conn: Connection, scope: Scope, search: str, page: int,
                 size: int = 50) -> tuple[list[Any], int]:
    """Residents of the staff member's facilities whose ID starts with, or
    whose name holds, ``search``; and how many in all."""
    from sqlalchemy import or_

    from central.schema import units
    where = scope.facilities_clause(residents.c.facility_id)
    if search:
        where = and_(where, or_(residents.c.agency_id.startswith(search, autoescape=True),
                                func.lower(residents.c.name).contains(search.lower(),
                                                                      autoescape=True)))
    total = int(conn.execute(select(func.count()).select_from(residents).where(where))
                .scalar_one())
    rows = conn.execute(
        select(residents.c.id, residents.c.agency_id, residents.c.name, residents.c.status,
               residents.c.facility_id, units.c.name.label("unit_name"))
        .join(units, units.c.id == residents.c.unit_id).where(where)
        .order_by(residents.c.name, residents.c.id).offset(page * size).limit(size)).all()
    return list(rows), total


# -- keyword lists -----------------------------------------------------------------


@dataclass(frozen=True)
class ListVersion:
    version: int
    editor: str
    edited_at: int
    terms: int


def list_versions(conn: Connection, list_id: int) -> list[ListVersion]:
    """Every version of a keyword list, newest first, with who saved it."""
    from central.schema import keyword_list_versions, staff
    rows = conn.execute(
        select(keyword_list_versions.c.version, keyword_list_versions.c.edited_at,
               keyword_list_versions.c.terms, staff.c.name)
        .join(staff, staff.c.id == keyword_list_versions.c.edited_by)
        .where(keyword_list_versions.c.list_id == list_id)
        .order_by(keyword_list_versions.c.version.desc())).all()
    return [ListVersion(r.version, r.name, r.edited_at, len(json.loads(r.terms))) for r in rows]


# -- the audit log -----------------------------------------------------------------


def audit_entries(conn: Connection, scope: Scope, search: str, page: int,
                  size: int = 50) -> tuple[list[Any], bool]:
    """Audit entries the staff member may read (central.services.core.
    audit_visible), newest first, whose action, target, detail or staff
    member's name holds ``search``; and whether there are more."""
    from sqlalchemy import or_

    from central.schema import audit_log, staff
    from central.services.core import audit_visible
    where = audit_visible(scope)
    if search:
        needle = search.lower()
        where = and_(where, or_(*(func.lower(column).contains(needle, autoescape=True)
                                  for column in (audit_log.c.action, audit_log.c.target,
                                                 audit_log.c.detail, staff.c.name,
                                                 staff.c.username))))
    rows = conn.execute(
        select(audit_log, staff.c.name.label("staff_name"))
        .select_from(audit_log.outerjoin(staff, staff.c.id == audit_log.c.staff_id))
        .where(where).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .offset(page * size).limit(size + 1)).all()
    return list(rows[:size]), len(rows) > size
