"""Privileged correspondence: the registry of attorneys, and mail between a
resident and a verified attorney.

An attorney is a family-side account that staff verified (bar number and
jurisdiction). A message between a resident and a verified attorney of
the resident's agency skips keyword screening and the review queue, costs no
stamps, and is sealed on the server: its text is stored under the legal-mail
key (a key file of its own in the server's state, AES-256-GCM with the
message's uid as associated data), in the messages table and in both feeds.
Only this module opens it, on the delivery path: when a kiosk fetches the
resident's feed or the attorney fetches theirs. No staff route opens it; an
investigator's archive export leaves it out. Every access (a delivery to
either side, a staff export that withheld it) writes an audit entry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from base.files import write_atomic
from central.database import for_update
from central.errors import Conflict, InvalidInput, NotFound, PolicyRefused
from central.schema import attorneys, contacts
from central.services import feeds
from central.services.core import Central, audit
from central.services.scope import Scope
from device_security.at_rest import Sealer
from device_security.errors import IntegrityError

log = logging.getLogger(__name__)
KEY_FILE = "legal-mail.key"
SEALED_PREFIX = "sealed:"
_CODE = 32


def load_key(state_dir: Path) -> Sealer:
    """The legal-mail key from ``state_dir/legal-mail.key``, made (0600) the
    first time."""
    path = state_dir / KEY_FILE
    if not path.exists():
        write_atomic(path, os.urandom(32), mode=0o600)
        log.info("made the legal-mail key %s", path)
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} is not a 32-byte key")
    return Sealer(key)


def _sealer(c: Central) -> Sealer:
    sealer = c.legal_seal
    if sealer is None:
        raise PolicyRefused("this server has no legal-mail key", code="no_legal_key")
    assert isinstance(sealer, Sealer)
    return sealer


# -- the registry ----------------------------------------------------------------------


@dataclass(frozen=True)
class Attorney:
    contact_id: int
    name: str
    email: str
    agency_id: str
    bar_number: str
    jurisdiction: str
    status: str
    requested_at: int
    decided_at: int | None


def _check_bar(value: str, what: str) -> str:
    text = value.strip()
    if not (0 < len(text) <= _CODE) or not all(ch.isalnum() or ch in "-. " for ch in text):
        raise InvalidInput(f"the {what} is 1-{_CODE} letters, digits, '-' or '.'")
    return text


def apply(c: Central, contact_id: int, *, agency_id: str, bar_number: str,
          jurisdiction: str) -> Attorney:
    """A family-side account asks to be registered as an attorney with an
    agency; staff verify it. Raises InvalidInput, Conflict (the bar number is
    someone else's, or this account applied already)."""
    bar, where = _check_bar(bar_number, "bar number"), _check_bar(jurisdiction, "jurisdiction")
    with c.db.write() as conn:
        existing = conn.execute(select(attorneys).where(
            attorneys.c.contact_id == contact_id)).first()
        if existing is not None:
            raise Conflict("this account has applied already", code="applied")
        if conn.execute(select(attorneys.c.contact_id).where(
                attorneys.c.jurisdiction == where, attorneys.c.bar_number == bar)).first():
            raise Conflict("that bar number is registered to another account",
                           code="bar_number_taken")
        conn.execute(attorneys.insert().values(
            contact_id=contact_id, agency_id=agency_id, bar_number=bar, jurisdiction=where,
            status="pending", requested_at=c.clock()))
    return attorney(c, contact_id)


def attorney(c: Central, contact_id: int) -> Attorney:
    with c.db.read() as conn:
        row = conn.execute(select(attorneys, contacts.c.name, contacts.c.email).join(
            contacts, contacts.c.id == attorneys.c.contact_id).where(
            attorneys.c.contact_id == contact_id)).first()
    if row is None:
        raise NotFound("no attorney registration for this account")
    return Attorney(int(row.contact_id), str(row.name), str(row.email), str(row.agency_id),
                    str(row.bar_number), str(row.jurisdiction), str(row.status),
                    int(row.requested_at), row.decided_at)


def registry(c: Central, *, scope: Scope) -> list[Attorney]:
    """The agency's attorneys, pending first."""
    with c.db.read() as conn:
        ids = conn.execute(select(attorneys.c.contact_id).where(
            attorneys.c.agency_id == scope.agency_id if not scope.is_system
            else attorneys.c.agency_id.is_not(None))
            .order_by(attorneys.c.status.desc(), attorneys.c.contact_id)).scalars().all()
    return [attorney(c, int(i)) for i in ids]


def decide(c: Central, contact_id: int, *, verified: bool, scope: Scope) -> Attorney:
    """An administrator verifies (or revokes) an attorney of their agency
    after checking the bar number. Audited."""
    at = c.clock()
    with c.db.write() as conn:
        row = conn.execute(for_update(select(attorneys).where(
            attorneys.c.contact_id == contact_id))).first()
        if row is None or not scope.covers_agency(row.agency_id):
            raise NotFound(f"no attorney {contact_id}")
        status = "verified" if verified else "revoked"
        conn.execute(update(attorneys).where(attorneys.c.contact_id == contact_id).values(
            status=status, decided_by=scope.staff_id, decided_at=at))
        audit(conn, c, scope.staff_id, f"attorney.{status[:-1] if verified else 'revoke'}",
              f"contact:{contact_id}", agency=row.agency_id, bar_number=row.bar_number,
              jurisdiction=row.jurisdiction)
    return attorney(c, contact_id)


def is_privileged(conn: Connection, contact_id: int, agency_id: str) -> bool:
    """Whether mail with this contact is privileged: a verified attorney of
    the resident's agency."""
    return conn.execute(select(attorneys.c.contact_id).where(
        attorneys.c.contact_id == contact_id, attorneys.c.agency_id == agency_id,
        attorneys.c.status == "verified")).first() is not None


# -- sealing and the delivery path ----------------------------------------------------------


def seal(c: Central, uid: str, body: str) -> str:
    """The stored form of a privileged message's text."""
    sealed = _sealer(c).seal(json.dumps({"body": body}).encode(), b"legal " + uid.encode())
    return SEALED_PREFIX + base64.b64encode(sealed).decode()


def digest(c: Central, parts: Sequence[Any]) -> str:
    """A request digest that tells a retry from a clash without letting
    anyone who reads the database confirm a guess of the text."""
    key = hashlib.sha256(b"legal digest" + _sealer(c).name("digest").encode()).digest()
    return hmac.new(key, json.dumps(list(parts)).encode(), hashlib.sha256).hexdigest()


def _open(c: Central, uid: str, stored: str) -> dict[str, Any]:
    if not stored.startswith(SEALED_PREFIX):
        raise IntegrityError(f"message {uid} is not sealed")
    content: dict[str, Any] = json.loads(_sealer(c).open(
        base64.b64decode(stored[len(SEALED_PREFIX):]), b"legal " + uid.encode()))
    return content


def open_records(c: Central, records: Sequence[feeds.FeedRecord], *, feed: str,
                 reader: str) -> list[feeds.FeedRecord]:
    """The delivery path: ``records`` of ``feed`` with privileged messages
    opened for their recipient (``reader``: the kiosk or the attorney),
    each opening audited. Records that are not sealed pass as they are."""
    out: list[feeds.FeedRecord] = []
    opened: list[tuple[str, int]] = []
    for r in records:
        stored = r.body.get("sealed") if r.kind == "message" else None
        if not isinstance(stored, str):
            out.append(r)
            continue
        content = _open(c, r.ref, stored)
        body = {k: v for k, v in r.body.items() if k != "sealed"}
        body.update(body=content["body"], attachments=[], legal=True)
        out.append(feeds.FeedRecord(r.seq, r.kind, r.ref, body, r.created_at))
        opened.append((r.ref, int(r.body["resident_id"])))
    if opened:
        with c.db.write() as conn:
            for uid, resident_id in opened:
                audit(conn, c, None, "legal.deliver", f"message:{uid}", resident=resident_id,
                      feed=feed, reader=reader)
    return out
