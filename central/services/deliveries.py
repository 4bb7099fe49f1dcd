"""Deliveries the tablets sign for. A kiosk forwards a tablet's receipt; it
counts only if the tablet's own key signed it (sync/receipts.py), so a kiosk
can neither claim a delivery nor move a purchase to "verified" by itself."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update

from central.errors import NotFound, PolicyRefused
from central.schema import catalog, entitlements, residents, tablets
from central.services.accounts import tablet_certificate
from central.services.core import Central, audit
from central.services.media import UNDELIVERED
from sync.receipts import StatementError, verify

log = logging.getLogger(__name__)


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
            audit(conn, c, None, "delivery.verified", f"tablet:{serial}", blob=sha256,
                  entitlements=list(ids))
    return [int(i) for i in ids]
