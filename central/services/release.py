"""A resident's release: the account moves to released, their messages,
photos, videograms and purchases stay retrievable for the agency's
retention period, and the prepaid balance leaves by an option the agency
offers, every fee shown before the choice.

Staff release a resident (scoped) and may name one approved family member
who may download the archive; the release hands the resident a one-time
claim code, with which they link a family-side account of their own (the
released-resident login). Either downloads the whole archive as a zip,
streamed, until the retention period ends.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from central import ledger
from central.database import for_update
from central.errors import Conflict, Forbidden, NotFound, PolicyRefused
from central.pricing import PayoutQuote, payout_quotes
from central.schema import approvals, releases, residents, sessions, units
from central.services import archive
from central.services.accounts import policy_of, resident
from central.services.core import Central, audit
from central.services.ledger_store import ensure_accounts, load_accounts, post
from central.services.scope import Scope

log = logging.getLogger(__name__)
_CLAIM_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class Released:
    resident_id: int
    agency_id: str
    released_at: int
    retain_until: int
    claim_code: str | None  # shown once, to hand to the resident with their papers
    designee_contact_id: int | None
    payout_option: str | None
    payout_cents: int | None
    payout_fee_cents: int | None


def _claim_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").upper().encode()).hexdigest()


def _released(conn: Connection, resident_id: int, code: str | None = None) -> Released:
    row = conn.execute(select(releases, residents.c.agency_id).join(
        residents, residents.c.id == releases.c.resident_id).where(
        releases.c.resident_id == resident_id)).first()
    if row is None:
        raise NotFound(f"resident {resident_id} is not released")
    return Released(int(row.resident_id), str(row.agency_id), int(row.released_at),
                    int(row.retain_until), code, row.designee_contact_id, row.payout_option,
                    row.payout_cents, row.payout_fee_cents)


def release(c: Central, resident_id: int, *, scope: Scope,
            designee_contact_id: int | None = None) -> Released:
    """Release a resident of a facility in ``scope``: their sessions end, their
    account is released, their archive is kept until the agency's retention
    period ends. ``designee_contact_id``: an approved contact of theirs who
    may download it. Raises NotFound, Conflict (released already),
    PolicyRefused (the designee is not an approved contact)."""
    at = c.clock()
    code = "".join(secrets.choice(_CLAIM_ALPHABET) for _ in range(12))
    code = f"{code[:4]}-{code[4:8]}-{code[8:]}"
    with c.db.write() as conn:
        res = resident(conn, id=resident_id)
        scope.facility(res.facility_id, f"resident {resident_id}")
        row = conn.execute(for_update(select(residents.c.status).where(
            residents.c.id == resident_id))).scalar_one()
        if row != "active":
            raise Conflict(f"resident {res.agency_id} is {row}", code="not_active")
        if designee_contact_id is not None and conn.execute(select(approvals.c.id).where(
                approvals.c.resident_id == resident_id,
                approvals.c.contact_id == designee_contact_id,
                approvals.c.status == "approved")).first() is None:
            raise PolicyRefused("the archive can be given only to an approved contact",
                                code="not_a_contact")
        policy = policy_of(conn, str(res.agency))
        conn.execute(update(residents).where(residents.c.id == resident_id)
                     .values(status="released"))
        conn.execute(sessions.delete().where(sessions.c.subject == "resident",
                                             sessions.c.subject_id == resident_id))
        conn.execute(releases.insert().values(
            resident_id=resident_id, released_at=at, released_by=scope.staff_id,
            retain_until=at + policy.release_retention_days * 86400,
            claim_hash=_claim_hash(code), designee_contact_id=designee_contact_id))
        audit(conn, c, scope.staff_id, "resident.release", f"resident:{resident_id}",
              resident=resident_id, designee=designee_contact_id,
              retain_days=policy.release_retention_days)
        log.info("resident %s released; archive kept %d days", res.agency_id,
                 policy.release_retention_days)
        return _released(conn, resident_id, code)


def claim(c: Central, contact_id: int, *, agency_id: str, code: str) -> Released:
    """A released resident links their family-side account with the claim
    code from their release papers (once). Raises NotFound for a wrong code,
    exactly as for an unknown ID."""
    with c.db.write() as conn:
        row = conn.execute(for_update(select(releases).join(
            residents, residents.c.id == releases.c.resident_id).where(
            residents.c.agency_id == agency_id))).first()
        if row is None or row.claim_hash is None \
                or not secrets.compare_digest(row.claim_hash, _claim_hash(code)):
            raise NotFound("no release with that ID and code")
        conn.execute(update(releases).where(releases.c.resident_id == row.resident_id)
                     .values(resident_contact_id=contact_id, claim_hash=None))
        audit(conn, c, None, "release.claim", f"resident:{row.resident_id}",
              resident=int(row.resident_id), contact=contact_id)
        return _released(conn, int(row.resident_id))


def _mine(conn: Connection, contact_id: int, agency_id: str) -> tuple[int, str]:
    """The released resident ``agency_id`` whose archive ``contact_id`` may
    take (their own login, or the family member they named), and whether as
    ``resident`` or ``designee``. Raises NotFound."""
    row = conn.execute(select(releases).join(
        residents, residents.c.id == releases.c.resident_id).where(
        residents.c.agency_id == agency_id)).first()
    if row is None:
        raise NotFound(f"no released resident {agency_id} for you")
    if row.resident_contact_id == contact_id:
        return int(row.resident_id), "resident"
    if row.designee_contact_id == contact_id:
        return int(row.resident_id), "designee"
    raise NotFound(f"no released resident {agency_id} for you")


def archive_stream(c: Central, contact_id: int, agency_id: str) -> Iterator[bytes]:
    """The released resident's whole archive as a streamed zip, for the
    resident's own login or their designee, until the retention period
    ends. Raises NotFound, PolicyRefused (the period is over). Audited."""
    at = c.clock()
    with c.db.write() as conn:
        resident_id, who = _mine(conn, contact_id, agency_id)
        retain_until = conn.execute(select(releases.c.retain_until).where(
            releases.c.resident_id == resident_id)).scalar_one()
        if at > retain_until:
            raise PolicyRefused("the retention period for this archive has ended",
                                code="archive_expired")
        audit(conn, c, None, "release.download", f"resident:{resident_id}",
              resident=resident_id, contact=contact_id, who=who)
    return archive.stream(c, resident_id)


def archive_for_usb(c: Central, agency_id: str, *, scope: Scope, kiosk_id: str,
                    kiosk_unit: str) -> Iterator[bytes]:
    """The released resident's archive as a streamed zip, for a USB stick
    made at a kiosk of their facility by staff signed in there (a
    technician, or an administrator), until the retention period ends.
    Raises NotFound (no such released resident in reach, or a kiosk of
    another facility), PolicyRefused (the period is over). Audited, with the
    kiosk and the staff member."""
    at = c.clock()
    with c.db.write() as conn:
        row = conn.execute(select(releases.c.resident_id, releases.c.retain_until,
                                  residents.c.facility_id).join(
            residents, residents.c.id == releases.c.resident_id).where(
            residents.c.agency_id == agency_id)).first()
        kiosk_facility = conn.execute(select(units.c.facility_id).where(
            units.c.id == kiosk_unit)).scalar()
        if row is None or not scope.covers_facility(row.facility_id) \
                or kiosk_facility != row.facility_id:
            raise NotFound(f"no released resident {agency_id} at this kiosk's facility")
        if at > row.retain_until:
            raise PolicyRefused("the retention period for this archive has ended",
                                code="archive_expired")
        resident_id = int(row.resident_id)
        audit(conn, c, scope.staff_id, "release.usb", f"resident:{resident_id}",
              resident=resident_id, kiosk=kiosk_id, facility=row.facility_id)
    log.info("the archive of released resident %s goes to a USB stick at kiosk %s",
             agency_id, kiosk_id)
    return archive.stream(c, resident_id)


def quotes(c: Central, contact_id: int, agency_id: str) -> tuple[int, list[PayoutQuote]]:
    """The released resident's prepaid balance and every payout option with
    its fee and what is left, for the resident's own login."""
    with c.db.read() as conn:
        resident_id, who = _mine(conn, contact_id, agency_id)
        if who != "resident":
            raise Forbidden("only the released resident chooses how their money leaves")
        res = resident(conn, id=resident_id)
        policy = policy_of(conn, str(res.agency))
        balance = _prepaid(conn, resident_id)
    return balance, payout_quotes(policy, balance)


def _prepaid(conn: Connection, resident_id: int) -> int:
    account = ledger.prepaid_account(resident_id)
    found = load_accounts(conn, [account.id])
    return found[account.id].balance if account.id in found else 0


def pay_out(c: Central, contact_id: int, agency_id: str, *, option: str,
            expected_fee_cents: int) -> Released:
    """Pay the whole prepaid balance out by ``option``. The fee must be the
    one shown (``expected_fee_cents``; else 409 ``fee_changed`` and nothing
    moves). Once per release (the posting's key is the release's): the same
    choice again is the same answer, another choice a Conflict."""
    at = c.clock()
    with c.db.write() as conn:
        resident_id, who = _mine(conn, contact_id, agency_id)
        if who != "resident":
            raise Forbidden("only the released resident chooses how their money leaves")
        row = conn.execute(for_update(select(releases).where(
            releases.c.resident_id == resident_id))).one()
        posting_key = f"release:{resident_id}"
        if row.payout_option is not None:
            if row.payout_option == option:
                return _released(conn, resident_id)
            raise Conflict("the balance was paid out already", code="paid_out")
        res = resident(conn, id=resident_id)
        policy = policy_of(conn, str(res.agency))
        chosen = policy.payout(option)
        balance = _prepaid(conn, resident_id)
        [quote] = [q for q in payout_quotes(policy, balance) if q.option == chosen.id]
        if quote.fee_cents != expected_fee_cents:
            raise Conflict(f"the fee for {chosen.label} is ${quote.fee_cents / 100:.2f}, not "
                           f"${expected_fee_cents / 100:.2f}", code="fee_changed")
        if balance:
            posting = ledger.release_payout(key=posting_key, agency=str(res.agency),
                                            resident_id=resident_id,
                                            net_cents=quote.net_cents,
                                            fee_cents=quote.fee_cents, option=chosen.id)
            ensure_accounts(conn, [ledger.agency_account(str(res.agency), "payouts"),
                                   ledger.agency_account(str(res.agency), "payout-fees")])
            post(conn, posting)
        conn.execute(update(releases).where(releases.c.resident_id == resident_id).values(
            payout_option=chosen.id, payout_cents=quote.net_cents,
            payout_fee_cents=quote.fee_cents, payout_at=at))
        audit(conn, c, None, "release.payout", f"resident:{resident_id}",
              resident=resident_id, option=chosen.id, net_cents=quote.net_cents,
              fee_cents=quote.fee_cents)
        return _released(conn, resident_id)
