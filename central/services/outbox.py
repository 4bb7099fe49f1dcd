"""Residents' drafts written on their tablets, forwarded by a kiosk. A draft
is sent only if the resident's own tablet signed it, so a kiosk cannot make
up a message; its uid (made on the tablet) makes every retry the same
message, charged once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from central.errors import InvalidInput, NotFound, PolicyRefused
from central.schema import residents, tablets
from central.services import messaging
from central.services.accounts import tablet_certificate
from central.services.core import Central
from sync.receipts import StatementError, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Draft:
    serial: str
    uid: str
    resident_agency_id: str
    contact_id: int
    body: str
    signature: bytes


def send_draft(c: Central, *, unit_id: str, draft: Draft) -> messaging.Sent:
    """Send a tablet-signed draft as its resident's message.

    Raises NotFound (the tablet is not its resident's, or not on this unit),
    PolicyRefused (a tablet not active, or a signature it did not make), and
    whatever sending raises (no stamps, not an approved contact, ...)."""
    with c.db.read() as conn:
        row = conn.execute(select(tablets, residents.c.unit_id, residents.c.agency_id)
                           .join(residents, residents.c.id == tablets.c.resident_id)
                           .where(tablets.c.serial == draft.serial)).first()
    if row is None or row.unit_id != unit_id or row.agency_id != draft.resident_agency_id:
        raise NotFound(f"tablet {draft.serial} is not the tablet of resident "
                       f"{draft.resident_agency_id} on this kiosk's unit")
    if row.status != "active" or not row.certificate:
        raise PolicyRefused(f"tablet {draft.serial} is {row.status} or has no certificate "
                            "on file", code="tablet_not_active")
    cert, _ = tablet_certificate(row.certificate, draft.serial)
    key = cert.public_key()
    assert isinstance(key, Ed25519PublicKey)  # tablet_certificate checked it
    try:
        verify(key, "draft", {"serial": draft.serial, "uid": draft.uid,
                              "resident": draft.resident_agency_id,
                              "contact": draft.contact_id, "body": draft.body,
                              "attachments": []}, draft.signature)
    except StatementError as e:
        log.warning("a draft %s from tablet %s was refused: %s", draft.uid, draft.serial, e)
        raise PolicyRefused(f"the draft is not signed by tablet {draft.serial}",
                            code="bad_signature") from e
    if not draft.body.strip():
        raise InvalidInput("an empty draft", code="empty_message")
    return messaging.send_from_resident(c, int(row.resident_id), uid=draft.uid,
                                        contact_id=draft.contact_id, body=draft.body)
