"""The terms a resident accepts at the kiosk: recorded here with the SHA-256
of the exact text they were shown (the kiosk fills the agency's numbers into
it, in the resident's language), once per text. The text itself goes into
the resident's feed, so their tablet can show what they accepted."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from central.errors import InvalidInput
from central.schema import terms_acceptances
from central.services import feeds
from central.services.accounts import resident
from central.services.core import Central, audit

log = logging.getLogger(__name__)
MAX_TERMS_CHARS = 20_000
LANGUAGES = ("en", "es")


@dataclass(frozen=True)
class Acceptance:
    sha256: str
    accepted_at: int
    kiosk_id: str | None


def digest(text: str) -> str:
    """The SHA-256 of the text as accepted (UTF-8), in hex: pure."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def accept(c: Central, resident_id: int, *, text: str, language: str,
           kiosk_id: str | None) -> Acceptance:
    """Record that the resident accepted ``text``; the same text again
    records nothing new. Raises InvalidInput."""
    if not text.strip() or len(text) > MAX_TERMS_CHARS:
        raise InvalidInput(f"the terms are 1-{MAX_TERMS_CHARS} characters", code="bad_length")
    if language not in LANGUAGES:
        raise InvalidInput(f"the terms are in one of {', '.join(LANGUAGES)}",
                           code="bad_language")
    sha = digest(text)
    at = c.clock()
    with c.db.write() as conn:
        resident(conn, id=resident_id)
        found = conn.execute(select(terms_acceptances).where(
            terms_acceptances.c.resident_id == resident_id,
            terms_acceptances.c.sha256 == sha)).first()
        if found is not None:
            return Acceptance(sha, int(found.accepted_at), found.kiosk_id)
        try:
            with conn.begin_nested():
                conn.execute(terms_acceptances.insert().values(
                    resident_id=resident_id, sha256=sha, kiosk_id=kiosk_id, accepted_at=at))
        except IntegrityError:  # the same acceptance, committed meanwhile
            found = conn.execute(select(terms_acceptances).where(
                terms_acceptances.c.resident_id == resident_id,
                terms_acceptances.c.sha256 == sha)).one()
            return Acceptance(sha, int(found.accepted_at), found.kiosk_id)
        feeds.append(conn, f"resident:{resident_id}", "terms", f"terms:{sha[:32]}",
                     {"sha256": sha, "language": language, "text": text, "accepted_at": at},
                     at)
        audit(conn, c, None, "terms.accept", f"resident:{resident_id}", sha256=sha,
              kiosk=kiosk_id)
    log.info("resident %s accepted terms %s at %s", resident_id, sha[:12], kiosk_id)
    return Acceptance(sha, at, kiosk_id)


def accepted(c: Central, resident_id: int) -> list[Acceptance]:
    """Every terms text the resident accepted, oldest first."""
    with c.db.read() as conn:
        rows = conn.execute(select(terms_acceptances).where(
            terms_acceptances.c.resident_id == resident_id)
            .order_by(terms_acceptances.c.accepted_at, terms_acceptances.c.id)).all()
    return [Acceptance(r.sha256, int(r.accepted_at), r.kiosk_id) for r in rows]
