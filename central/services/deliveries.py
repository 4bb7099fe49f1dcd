"""Deliveries the tablets sign for. A kiosk forwards a tablet's receipt; it
counts only if the tablet's own key signed it (sync/receipts.py), so a kiosk
can neither claim a delivery, move a purchase to "verified", nor say how far
a tablet has read its resident's feed by itself."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, case, select, update

from central.database import for_update
from central.errors import InvalidInput, NotFound, PolicyRefused
from central.schema import catalog, entitlements, residents, tablets
from central.services import feeds
from central.services.accounts import tablet_certificate
from central.services.core import Central, audit
from central.services.media import UNDELIVERED
from device_security.text import printable
from sync.errors import StatementError
from sync.receipts import delivery_fields, statement_bytes, verify

log = logging.getLogger(__name__)
SESSION_SIZE = 16
DIGEST_SIZE = 32


@dataclass(frozen=True)
class SigningTablet:
    serial: str
    resident_id: int
    resident_agency_id: str
    key: Ed25519PublicKey
    owners: int  # residents it was given to, this one included


def signing_tablet(c: Central, *, unit_id: str, serial: str) -> SigningTablet:
    """An active tablet of a resident on ``unit_id``, with the key that signs for it.

    Raises NotFound (no such tablet on this unit) or PolicyRefused (not
    active, or no certificate on file)."""
    with c.db.read() as conn:
        return _signing_tablet(conn, unit_id=unit_id, serial=serial)


def _signing_tablet(conn: Connection, *, unit_id: str, serial: str,
                    lock: bool = False) -> SigningTablet:
    """:func:`signing_tablet` inside the caller's transaction; with ``lock``, the
    tablet's row is held until it ends, so it cannot change hands meanwhile."""
    query = select(tablets, residents.c.unit_id, residents.c.agency_id).join(
        residents, residents.c.id == tablets.c.resident_id).where(tablets.c.serial == serial)
    row = conn.execute(for_update(query, of=tablets) if lock else query).first()
    if row is None or row.unit_id != unit_id:
        raise NotFound(f"no tablet {printable(serial)} of a resident on this kiosk's unit")
    if row.status != "active" or not row.certificate:
        raise PolicyRefused(f"tablet {printable(serial)} is {row.status} or has no "
                            "certificate on file", code="tablet_not_active")
    cert, _ = tablet_certificate(row.certificate, serial)
    key = cert.public_key()
    assert isinstance(key, Ed25519PublicKey)  # tablet_certificate checked it
    return SigningTablet(serial, int(row.resident_id), str(row.agency_id), key,
                         int(row.owners))


def _verify(tablet: SigningTablet, kind: str, fields: dict[str, Any], signature: bytes,
            what: str) -> None:
    try:
        verify(tablet.key, kind, fields, signature)
    except StatementError as e:
        log.warning("a %s receipt for %s from tablet %s was refused: %s", kind, what,
                    printable(tablet.serial), e)
        raise PolicyRefused(f"the receipt is not signed by tablet {printable(tablet.serial)}",
                            code="bad_receipt") from e


def _mark_verified(conn: Connection, c: Central, tablet: SigningTablet, ids: list[int],
                   signature: bytes, sha256: str) -> list[int]:
    """Move these entitlements to ``verified`` by a compare-and-set: only those
    still undelivered change (``UPDATE ... WHERE state IN (undelivered)``, which
    PostgreSQL re-checks on the row a concurrent refund may just have
    changed), so a file is never both refunded and delivered."""
    if not ids:
        return []
    done = sorted(int(i) for i in conn.execute(
        update(entitlements).where(entitlements.c.id.in_(ids),
                                   entitlements.c.resident_id == tablet.resident_id,
                                   entitlements.c.state.in_(UNDELIVERED))
        .values(state="verified", updated_at=c.clock(), receipt=signature)
        .returning(entitlements.c.id)).scalars())
    if done:
        audit(conn, c, None, "delivery.verified", f"tablet:{tablet.serial}",
              resident=tablet.resident_id, blob=sha256, entitlements=done)
    return done


def blob_receipt(c: Central, *, unit_id: str, serial: str, sha256: str,
                 signature: bytes) -> list[int]:
    """A tablet on ``unit_id`` signed that it holds the blob ``sha256``: its
    owner's undelivered entitlements to that file become ``verified``.

    Such a receipt names neither the owner nor the purchase, and its
    signature is the same whoever the tablet belonged to when it signed, so
    it is taken only from a tablet that has had one owner: for any other, a
    receipt kept from before its reassignment could verify the new owner's
    purchase. Those sign :func:`delivery_receipt` instead.

    Raises NotFound for a tablet not assigned to a resident of this unit,
    PolicyRefused for a tablet that is not active, has no certificate, or had
    another owner before (``receipt_names_no_owner``), or a receipt it did
    not sign. Returns the entitlements verified now."""
    with c.db.write() as conn:
        tablet = _signing_tablet(conn, unit_id=unit_id, serial=serial, lock=True)
        _verify(tablet, "blob", {"serial": serial, "sha": bytes.fromhex(sha256)}, signature,
                sha256)
        if tablet.owners > 1:
            log.warning("a receipt naming no owner from tablet %s, which has had %d owners, "
                        "was refused", printable(serial), tablet.owners)
            raise PolicyRefused(
                f"tablet {printable(serial)} has had more than one owner: a receipt from it "
                "must name its owner and the purchase", code="receipt_names_no_owner")
        ids = conn.execute(select(entitlements.c.id)
                           .join(catalog, catalog.c.id == entitlements.c.item_id)
                           .where(entitlements.c.resident_id == tablet.resident_id,
                                  catalog.c.blob_sha256 == sha256,
                                  entitlements.c.state.in_(UNDELIVERED))).scalars().all()
        return _mark_verified(conn, c, tablet, [int(i) for i in ids], signature, sha256)


def delivery_receipt(c: Central, *, unit_id: str, serial: str, owner: str, sha256: str,
                     entitlement_ids: list[int], signature: bytes) -> list[int]:
    """A tablet on ``unit_id`` signed that it holds the blob ``sha256`` for
    ``owner`` (an agency ID) as the file of ``entitlement_ids``: those that
    are still undelivered become ``verified``.

    The receipt counts only for the tablet's owner now and only for their
    entitlements to that very file: a receipt signed before the tablet was
    given to someone else verifies nothing of theirs. Raises InvalidInput for
    a malformed receipt; NotFound for a tablet not assigned to a resident of
    this unit; PolicyRefused for a tablet that is not active or has no
    certificate, a receipt it did not sign, one signed for another owner
    (``receipt_for_another_owner``), or one naming entitlements that are not
    the owner's to that file (``receipt_mismatch``). Returns the
    entitlements verified now (none when the same receipt comes again)."""
    fields = delivery_fields(serial=serial, owner=owner, sha=bytes.fromhex(sha256),
                             entitlements=entitlement_ids)
    if fields["entitlements"] != entitlement_ids:
        raise InvalidInput("a delivery receipt names its entitlements in ascending order, "
                           "each once", code="malformed_receipt")
    try:
        statement_bytes("delivery", fields)
    except StatementError as e:
        raise InvalidInput(str(e), code="malformed_receipt") from e
    with c.db.write() as conn:
        tablet = _signing_tablet(conn, unit_id=unit_id, serial=serial, lock=True)
        _verify(tablet, "delivery", fields, signature, sha256)
        if owner != tablet.resident_agency_id:
            log.warning("tablet %s signed a delivery for %s; it belongs to %s now",
                        printable(serial), printable(owner), tablet.resident_agency_id)
            raise PolicyRefused(
                f"the receipt was signed for {printable(owner)}, not for the tablet's owner "
                "now", code="receipt_for_another_owner")
        named = conn.execute(select(entitlements.c.id, entitlements.c.resident_id,
                                    catalog.c.blob_sha256)
                             .join(catalog, catalog.c.id == entitlements.c.item_id)
                             .where(entitlements.c.id.in_(entitlement_ids))).all()
        wrong = sorted(set(entitlement_ids) - {
            int(r.id) for r in named
            if r.resident_id == tablet.resident_id and r.blob_sha256 == sha256})
        if wrong:
            raise PolicyRefused(f"entitlements {wrong} are not {printable(owner)}'s to the "
                                f"file {sha256}", code="receipt_mismatch")
        return _mark_verified(conn, c, tablet, entitlement_ids, signature, sha256)


@dataclass(frozen=True)
class RecordsReceipt:
    serial: str
    through: int  # the highest feed sequence this tablet has signed for, after this receipt
    last_dock_at: int


def records_receipt(c: Central, *, unit_id: str, serial: str, session: bytes, through: int,
                    batch_digest: bytes, signature: bytes, kiosk_id: str) -> RecordsReceipt:
    """A tablet on ``unit_id`` signed that, in sync ``session``, it committed its
    resident's feed through sequence ``through``: the tablet's ``feed_through``
    becomes the highest of that and what it reported before (it never moves
    back), and its last dock is now, at ``kiosk_id``.

    Raises InvalidInput for a session or digest of the wrong size, or a
    ``through`` below zero or beyond the resident's feed head; NotFound for a
    tablet not assigned to a resident of this unit; PolicyRefused for a tablet
    that is not active or has no certificate, or a receipt it did not sign."""
    if len(session) != SESSION_SIZE or len(batch_digest) != DIGEST_SIZE:
        raise InvalidInput(f"a records receipt has a {SESSION_SIZE}-byte session and a "
                           f"{DIGEST_SIZE}-byte batch digest, not {len(session)} and "
                           f"{len(batch_digest)}", code="malformed_receipt")
    if through < 0:
        raise InvalidInput(f"a feed sequence is never negative, not {through}",
                           code="malformed_receipt")
    tablet = signing_tablet(c, unit_id=unit_id, serial=serial)
    try:
        verify(tablet.key, "records", {"serial": serial, "session": session,
                                       "through": through, "batch_digest": batch_digest},
               signature)
    except StatementError as e:
        log.warning("a records receipt through %d from tablet %s was refused: %s",
                    through, serial, e)
        raise PolicyRefused(f"the receipt is not signed by tablet {serial}",
                            code="bad_receipt") from e
    at = c.clock()
    with c.db.write() as conn:
        head = feeds.head(conn, f"resident:{tablet.resident_id}")
        if through > head:
            raise InvalidInput(f"tablet {serial} signed for its resident's feed through "
                               f"{through}, beyond its head {head}", code="through_beyond_head")
        stored = conn.execute(
            update(tablets).where(tablets.c.serial == serial,
                                  tablets.c.resident_id == tablet.resident_id)
            .values(feed_through=case((tablets.c.feed_through < through, through),
                                      else_=tablets.c.feed_through),
                    last_dock_at=at, last_dock_kiosk=kiosk_id)
            .returning(tablets.c.feed_through)).scalar()
    if stored is None:  # reassigned since signing_tablet looked
        raise NotFound(f"no tablet {serial} of a resident on this kiosk's unit")
    return RecordsReceipt(serial, int(stored), at)
