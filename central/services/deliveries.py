"""Deliveries the tablets sign for. A kiosk forwards a tablet's receipt; it
counts only if the tablet's own key signed it (sync/receipts.py), so a kiosk
can neither claim a delivery, move a purchase to "verified", nor say how far
a tablet has read its resident's feed by itself."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import case, select, update

from central.errors import InvalidInput, NotFound, PolicyRefused
from central.schema import catalog, entitlements, residents, tablets
from central.services import feeds
from central.services.accounts import tablet_certificate
from central.services.core import Central, audit
from central.services.media import UNDELIVERED
from sync.receipts import StatementError, verify

log = logging.getLogger(__name__)
SESSION_SIZE = 16
DIGEST_SIZE = 32


@dataclass(frozen=True)
class SigningTablet:
    serial: str
    resident_id: int
    resident_agency_id: str
    key: Ed25519PublicKey


def signing_tablet(c: Central, *, unit_id: str, serial: str) -> SigningTablet:
    """An active tablet of a resident on ``unit_id``, with the key that signs for it.

    Raises NotFound (no such tablet on this unit) or PolicyRefused (not
    active, or no certificate on file)."""
    with c.db.read() as conn:
        row = conn.execute(select(tablets, residents.c.unit_id, residents.c.agency_id)
                           .join(residents, residents.c.id == tablets.c.resident_id)
                           .where(tablets.c.serial == serial)).first()
    if row is None or row.unit_id != unit_id:
        raise NotFound(f"no tablet {serial} of a resident on this kiosk's unit")
    if row.status != "active" or not row.certificate:
        raise PolicyRefused(f"tablet {serial} is {row.status} or has no certificate on file",
                            code="tablet_not_active")
    cert, _ = tablet_certificate(row.certificate, serial)
    key = cert.public_key()
    assert isinstance(key, Ed25519PublicKey)  # tablet_certificate checked it
    return SigningTablet(serial, int(row.resident_id), str(row.agency_id), key)


def blob_receipt(c: Central, *, unit_id: str, serial: str, sha256: str,
                 signature: bytes) -> list[int]:
    """A tablet on ``unit_id`` signed that it holds the blob ``sha256``: its
    owner's live entitlements to that file become ``verified``.

    Raises NotFound for a tablet not assigned to a resident of this unit,
    PolicyRefused for a tablet that is not active or has no certificate, or a
    receipt it did not sign. Returns the entitlements verified now."""
    tablet = signing_tablet(c, unit_id=unit_id, serial=serial)
    try:
        verify(tablet.key, "blob", {"serial": serial, "sha": bytes.fromhex(sha256)}, signature)
    except StatementError as e:
        log.warning("a receipt for %s from tablet %s was refused: %s", sha256, serial, e)
        raise PolicyRefused(f"the receipt is not signed by tablet {serial}",
                            code="bad_receipt") from e
    at = c.clock()
    with c.db.write() as conn:
        ids = conn.execute(select(entitlements.c.id)
                           .join(catalog, catalog.c.id == entitlements.c.item_id)
                           .where(entitlements.c.resident_id == tablet.resident_id,
                                  catalog.c.blob_sha256 == sha256,
                                  entitlements.c.state.in_(UNDELIVERED))
                           ).scalars().all()
        if ids:
            conn.execute(update(entitlements).where(entitlements.c.id.in_(ids)).values(
                state="verified", updated_at=at, receipt=signature))
            audit(conn, c, None, "delivery.verified", f"tablet:{serial}",
                  resident=tablet.resident_id, blob=sha256, entitlements=list(ids))
    return [int(i) for i in ids]


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
