"""Residents' drafts written on their tablets, forwarded by a kiosk. A draft
is sent only if the resident's own tablet signed it, so a kiosk cannot make
up a message; its uid (made on the tablet) makes every retry the same
message, charged once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from central.errors import InvalidInput, NotFound, PolicyRefused
from central.services import messaging
from central.services.core import Central
from central.services.deliveries import signing_tablet
from device_security.text import printable
from sync.receipts import StatementError, draft_fields, verify

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
    tablet = signing_tablet(c, unit_id=unit_id, serial=draft.serial)
    if tablet.resident_agency_id != draft.resident_agency_id:
        raise NotFound(f"tablet {draft.serial} is not the tablet of resident "
                       f"{draft.resident_agency_id} on this kiosk's unit")
    try:
        verify(tablet.key, "draft", draft_fields(
            serial=draft.serial, uid=draft.uid, resident=draft.resident_agency_id,
            contact=draft.contact_id, body=draft.body), draft.signature)
    except StatementError as e:
        log.warning("a draft %s from tablet %s was refused: %s", printable(draft.uid, 80),
                    printable(draft.serial, 80), e)
        raise PolicyRefused(f"the draft is not signed by tablet {draft.serial}",
                            code="bad_signature") from e
    if not draft.body.strip():
        raise InvalidInput("an empty draft", code="empty_message")
    return messaging.send_from_resident(c, tablet.resident_id, uid=draft.uid,
                                        contact_id=draft.contact_id, body=draft.body)
