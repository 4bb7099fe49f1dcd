"""The media catalog, purchases that create entitlements, each entitlement's
delivery state, and refunds of purchases that were never delivered."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select, update

from central import ledger
from central.blobs import check_sha256
from central.database import for_update
from central.errors import CentralError, Conflict, InvalidInput, NotFound, PolicyRefused
from central.pricing import MediaQuote, check_license_price, media_quote
from central.schema import blob_uploads, blobs, catalog, entitlements, purchases
from central.services import feeds
from central.services.accounts import check_code, policy_of, resident
from central.services.core import Central, audit
from central.services.ledger_store import find, load_accounts, post
from central.services.money import internal_key
from central.services.scope import Scope

log = logging.getLogger(__name__)
KINDS = ("song", "album", "music_video")
# Delivery moves forward only; "refunded" ends it.
STATES = ("paid", "at_kiosk", "on_tablet", "verified")
UNDELIVERED = STATES[:3]  # not yet signed for by a tablet: refundable


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    title: str
    artist: str
    album_id: str | None
    label: str
    price_cents: int
    sha256: str | None
    duration_s: int
    explicit: bool
    license: str = "commercial"  # or public_domain: never priced above zero


def _item(row: Row[tuple[object, ...]]) -> Item:
    return Item(str(row.id), str(row.kind), str(row.title), str(row.artist),
                row.album_id, str(row.label), int(row.price_cents),
                row.blob_sha256, int(row.duration_s), bool(row.explicit), str(row.license))


def add_item(c: Central, item: Item, *, scope: Scope) -> None:
    """Add to the catalog (which every agency's residents shop from): an agency
    administrator's work."""
    scope.agency_level("change the catalog")
    staff_id = scope.staff_id
    check_code(item.id, "catalog id")
    if item.kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    if item.price_cents < 0 or item.duration_s < 0:
        raise InvalidInput("price and duration cannot be negative")
    check_license_price(item.license, item.price_cents)
    if item.kind == "album" and item.sha256 is not None:
        raise InvalidInput("an album has tracks, not a file of its own")
    if item.kind != "album":
        if item.sha256 is None:
            raise InvalidInput("a song or video needs its file's hash")
        check_sha256(item.sha256)
    with c.db.write() as conn:
        if item.sha256 is not None and conn.execute(select(blob_uploads.c.sha256).where(
                blob_uploads.c.sha256 == item.sha256,
                blob_uploads.c.purpose == "media")).first() is None:
            raise InvalidInput(f"upload the file {item.sha256} before cataloguing it",
                               code="unknown_blob")
        if item.album_id is not None:
            album = conn.execute(select(catalog.c.kind).where(catalog.c.id == item.album_id)
                                 ).scalar()
            if album != "album":
                raise InvalidInput(f"{item.album_id} is not an album in the catalog")
        if conn.execute(select(catalog.c.id).where(catalog.c.id == item.id)).first():
            raise Conflict(f"catalog item {item.id} exists")
        conn.execute(catalog.insert().values(
            id=item.id, kind=item.kind, title=item.title, artist=item.artist,
            album_id=item.album_id, label=item.label, price_cents=item.price_cents,
            blob_sha256=item.sha256, duration_s=item.duration_s, explicit=item.explicit,
            active=True, license=item.license))
        audit(conn, c, staff_id, "catalog.add", f"catalog:{item.id}", title=item.title,
              price_cents=item.price_cents)


def search(c: Central, text: str = "", kind: str | None = None, limit: int = 50,
           offset: int = 0) -> list[Item]:
    if len(text) > 100 or not (0 < limit <= 200) or offset < 0:
        raise InvalidInput("search text up to 100 characters, limit 1..200")
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    query = select(catalog).where(catalog.c.active.is_(True))
    if text.strip():
        pattern = f"%{text.strip().lower()}%"
        query = query.where(or_(func.lower(catalog.c.title).like(pattern),
                                func.lower(catalog.c.artist).like(pattern)))
    if kind:
        query = query.where(catalog.c.kind == kind)
    with c.db.read() as conn:
        rows = conn.execute(query.order_by(catalog.c.artist, catalog.c.title, catalog.c.id)
                            .limit(limit).offset(offset)).all()
    return [_item(r) for r in rows]


def get_item(conn: Connection, item_id: str) -> Item:
    row = conn.execute(select(catalog).where(catalog.c.id == item_id)).first()
    if row is None:
        raise NotFound(f"no catalog item {item_id}")
    return _item(row)


@dataclass(frozen=True)
class Entitlement:
    id: int
    resident_id: int
    item_id: str
    title: str
    kind: str
    sha256: str | None
    price_cents: int
    state: str
    created_at: int
    updated_at: int


def _entitlement_record(conn: Connection, ent_id: int) -> Entitlement:
    row = conn.execute(select(entitlements, catalog.c.title, catalog.c.kind,
                              catalog.c.blob_sha256)
                       .join(catalog, catalog.c.id == entitlements.c.item_id)
                       .where(entitlements.c.id == ent_id)).first()
    if row is None:
        raise NotFound(f"no entitlement {ent_id}")
    return Entitlement(row.id, row.resident_id, row.item_id, row.title, row.kind,
                       row.blob_sha256, row.price_cents, row.state, row.created_at,
                       row.updated_at)


def _feed_body(conn: Connection, e: Entitlement) -> dict[str, Any]:
    """What a resident's feed carries for an entitlement: the file by hash, with
    its size and type, so a kiosk can fetch it and a tablet can play it."""
    blob = conn.execute(select(blobs.c.size, blobs.c.media_type)
                        .where(blobs.c.sha256 == e.sha256)).first() if e.sha256 else None
    album = catalog.alias("album")
    item = conn.execute(select(catalog.c.artist, catalog.c.album_id, catalog.c.duration_s,
                               album.c.title.label("album"))
                        .outerjoin(album, album.c.id == catalog.c.album_id)
                        .where(catalog.c.id == e.item_id)).first()
    return {"entitlement_id": e.id, "item_id": e.item_id, "title": e.title, "kind": e.kind,
            "sha256": e.sha256, "size": blob.size if blob else 0,
            "media_type": blob.media_type if blob else "", "state": e.state,
            "price_cents": e.price_cents,
            # For the tablet's library: who, which album, how long.
            "artist": item.artist if item else "", "album_id": item.album_id if item else None,
            "album": item.album if item else None,
            "duration_s": item.duration_s if item else 0}


def _tracks(conn: Connection, item: Item) -> list[Item]:
    """The files a purchase of ``item`` delivers: itself, or an album's active tracks."""
    if item.kind != "album":
        return [item]
    return [_item(r) for r in conn.execute(select(catalog).where(
        catalog.c.album_id == item.id, catalog.c.active.is_(True)).order_by(catalog.c.id))]


def _quote(conn: Connection, resident_id: int, item: Item,
           tracks: list[Item]) -> MediaQuote:
    owned = conn.execute(select(entitlements.c.item_id).where(
        entitlements.c.resident_id == resident_id,
        entitlements.c.item_id.in_([t.id for t in tracks]),
        entitlements.c.state != "refunded")).scalars().all()
    return media_quote(item.id, item.price_cents, [t.id for t in tracks], set(owned))


def quote(c: Central, resident_id: int, item_id: str) -> MediaQuote:
    """What ``item_id`` costs this resident now: an album's tracks they own
    already are not charged again. Raises NotFound."""
    with c.db.read() as conn:
        resident(conn, id=resident_id)
        item = get_item(conn, item_id)
        return _quote(conn, resident_id, item, _tracks(conn, item))


def quotes(c: Central, resident_id: int, items: list[Item]) -> dict[str, MediaQuote]:
    """The quotes of a page of the catalog, by item id (two reads for the page)."""
    albums = [i.id for i in items if i.kind == "album"]
    with c.db.read() as conn:
        tracks: dict[str, list[str]] = {a: [] for a in albums}
        rows = conn.execute(select(catalog.c.id, catalog.c.album_id).where(
            catalog.c.album_id.in_(albums), catalog.c.active.is_(True))
            .order_by(catalog.c.id)).all() if albums else []
        for track_id, album_id in rows:
            tracks[album_id].append(track_id)
        wanted = {t for ts in tracks.values() for t in ts} | {i.id for i in items}
        owned = set(conn.execute(select(entitlements.c.item_id).where(
            entitlements.c.resident_id == resident_id, entitlements.c.item_id.in_(wanted),
            entitlements.c.state != "refunded")).scalars())
    return {i.id: media_quote(i.id, i.price_cents, tracks[i.id] if i.kind == "album"
                              else [i.id], owned) for i in items}


def purchase(c: Central, resident_id: int, item_id: str, *, key: str,
             expected_price_cents: int | None = None) -> list[Entitlement]:
    """Buy a song, video or album with prepaid money; one entitlement per file.

    An album's tracks the resident owns already are neither charged nor
    bought again: the charge is the shares of the others (see :func:`quote`).
    With ``expected_price_cents`` (the price the resident was shown), a
    purchase that would now cost anything else is refused. The same key again
    returns the same entitlements and charges nothing. Raises
    InsufficientFunds, PolicyRefused (already owned, not for sale), Conflict
    (``price_changed``, ``idempotency_key_reused``).
    """
    purchase_key = internal_key("media", str(resident_id), key)
    with c.db.write() as conn:
        # Hold the resident's prepaid account first: two purchases at once (a double
        # tap) queue here, and the second then sees what the first bought.
        load_accounts(conn, [ledger.prepaid_account(resident_id).id], lock=True)
        item = get_item(conn, item_id)
        tracks = _tracks(conn, item)
        existing = conn.execute(select(entitlements.c.id, entitlements.c.item_id).where(
            entitlements.c.purchase_key == purchase_key)).all()
        if existing:
            bought = {e.item_id for e in existing}
            if not bought <= {t.id for t in tracks} or (item.kind != "album"
                                                        and bought != {item.id}):
                raise Conflict("this purchase key was used to buy something else",
                               code="idempotency_key_reused")
            return [_entitlement_record(conn, e.id) for e in existing]
        res = resident(conn, id=resident_id)
        agency = str(res.agency)
        if not tracks:
            raise PolicyRefused(f"{item.title} has no tracks for sale")
        offer = _quote(conn, resident_id, item, tracks)
        if not offer.to_buy:
            raise PolicyRefused(f"you already own {item.title}", code="already_owned")
        if expected_price_cents is not None and expected_price_cents != offer.price_cents:
            raise Conflict(f"{item.title} now costs ${offer.price_cents / 100:.2f}, not "
                           f"${expected_price_cents / 100:.2f}; nothing was charged",
                           code="price_changed")
        if offer.price_cents:
            owned = len(offer.tracks) - len(offer.to_buy)
            memo = item.title + (f" ({owned} of {len(offer.tracks)} tracks owned already)"
                                 if owned else "")
            post(conn, ledger.media_sale(key=purchase_key, agency=agency,
                                         resident_id=resident_id,
                                         price_cents=offer.price_cents, title=memo))
        at = c.clock()
        conn.execute(purchases.insert().values(
            purchase_key=purchase_key, resident_id=resident_id, item_id=item.id,
            kind=item.kind, price_cents=offer.price_cents, created_at=at))
        made = []
        for track in offer.to_buy:
            ent_id = int(conn.execute(entitlements.insert().values(
                resident_id=resident_id, item_id=track.item_id, purchase_key=purchase_key,
                price_cents=track.share_cents, state="paid", created_at=at, updated_at=at)
                .returning(entitlements.c.id)).scalar_one())
            record = _entitlement_record(conn, ent_id)
            feeds.append(conn, f"resident:{resident_id}", "entitlement", str(ent_id),
                         _feed_body(conn, record), at)
            made.append(record)
    log.info("resident %s bought %s (%d files)", resident_id, item_id, len(made))
    return made


def entitlements_of(c: Central, resident_id: int) -> list[Entitlement]:
    with c.db.read() as conn:
        ids = conn.execute(select(entitlements.c.id).where(
            entitlements.c.resident_id == resident_id).order_by(entitlements.c.id)).scalars()
        return [_entitlement_record(conn, i) for i in ids]


def advance(c: Central, entitlement_id: int, state: str, *,
            receipt: bytes | None = None) -> Entitlement:
    """Move an entitlement's delivery forward (never back). ``verified`` needs a
    receipt; the receipt's signature is checked by the sync layer before this."""
    if state not in STATES or state == "paid":
        raise InvalidInput(f"state must be one of {', '.join(STATES[1:])}")
    if state == "verified" and not receipt:
        raise InvalidInput("a verified delivery needs the tablet's signed receipt")
    with c.db.write() as conn:
        row = conn.execute(for_update(select(entitlements).where(
            entitlements.c.id == entitlement_id))).first()
        if row is None:
            raise NotFound(f"no entitlement {entitlement_id}")
        if row.state == "refunded":
            raise Conflict("this purchase was refunded", code="refunded")
        if STATES.index(state) > STATES.index(row.state):
            conn.execute(update(entitlements).where(entitlements.c.id == entitlement_id,
                                                    entitlements.c.state == row.state)
                         .values(state=state, updated_at=c.clock(),
                                 receipt=receipt if state == "verified" else row.receipt))
        return _entitlement_record(conn, entitlement_id)


def refund_undelivered(c: Central) -> list[int]:
    """Refund the files of every purchase not verified on a tablet within the
    agency's window (files delivered stay bought); the resident is told, and
    may buy them again."""
    at = c.clock()
    refunded: list[int] = []
    with c.db.read() as conn:
        rows = conn.execute(select(entitlements.c.purchase_key, entitlements.c.resident_id,
                                   func.min(entitlements.c.created_at).label("created_at"))
                            .where(entitlements.c.state.in_(UNDELIVERED))
                            .group_by(entitlements.c.purchase_key, entitlements.c.resident_id)
                            ).all()
    for r in rows:  # one transaction a purchase: one failure never stops the others
        try:
            with c.db.write() as conn:
                agency = str(resident(conn, id=r.resident_id).agency)
                window = policy_of(conn, agency).refund_window_days * 86400
                if r.created_at + window > at:
                    continue
                refunded.extend(_refund(conn, c, r.purchase_key, r.resident_id,
                                        "not delivered to your tablet in time"))
        except CentralError:
            log.exception("could not refund purchase %s", r.purchase_key)
    return refunded


def _refund(conn: Connection, c: Central, purchase_key: str, resident_id: int,
            why: str) -> list[int]:
    """Refund the files of a purchase that are not delivered yet, and only those:
    what a tablet signed for stays bought. Each file's state moves to
    ``refunded`` by a compare-and-set (``UPDATE ... WHERE state IN (undelivered)``),
    so a receipt that lands meanwhile wins or loses whole: a file is never both
    delivered and refunded, and never refunded twice."""
    at = c.clock()
    done = conn.execute(update(entitlements).where(
        entitlements.c.purchase_key == purchase_key,
        entitlements.c.resident_id == resident_id,
        entitlements.c.state.in_(UNDELIVERED))
        .values(state="refunded", updated_at=at)
        .returning(entitlements.c.id, entitlements.c.price_cents)).all()
    if not done:
        return []  # delivered or refunded meanwhile
    ids = sorted(int(r.id) for r in done)
    cents = sum(int(r.price_cents) for r in done)
    if cents:
        charge = find(conn, purchase_key)
        paid = sum(e.amount for e in charge.entries if e.amount > 0) if charge else 0
        if cents > paid:  # the shares of a purchase add up to its charge: a bug, never input
            raise ledger.LedgerError(f"refunding {cents} cents of purchase {purchase_key}, "
                                     f"which charged {paid}")
        agency = str(resident(conn, id=resident_id).agency)
        post(conn, ledger.media_refund(
            key=f"refund:{_digest([purchase_key, *map(str, ids)])}", agency=agency,
            resident_id=resident_id, cents=cents, memo=why))
    kept = conn.execute(select(func.count()).where(
        entitlements.c.purchase_key == purchase_key,
        entitlements.c.state == "verified")).scalar_one()
    for ent_id in ids:
        record = _entitlement_record(conn, ent_id)
        feeds.append(conn, f"resident:{resident_id}", "entitlement", str(ent_id),
                     {**_feed_body(conn, record), "refund_reason": why}, at)
    text = (f"A purchase was refunded: {why}. You can buy it again." if not kept else
            f"Part of a purchase was refunded (${cents / 100:.2f} for {len(ids)} files): "
            f"{why}. The {kept} files on your tablet stay yours.")
    feeds.append(conn, f"resident:{resident_id}", "notice",
                 "refund-" + _digest([purchase_key, *map(str, ids)]),
                 {"notice": "purchase_refunded", "text": text, "entitlements": ids,
                  "refunded_cents": cents}, at)
    audit(conn, c, None, "media.refund", purchase_key, resident=resident_id, why=why,
          entitlements=ids, cents=cents)
    return ids


def _digest(parts: list[str]) -> str:
    """A short name for one refund of one purchase: the purchase and its files."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
