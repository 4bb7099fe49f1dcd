"""People and places: agencies, facilities, units, kiosks, tablets, residents,
family contacts and their approvals, staff, and the sessions they log in to."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID
from sqlalchemy import Column, Connection, Row, Table, select, update
from sqlalchemy.exc import IntegrityError

from central import ledger
from central.database import for_update
from central.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LockedOut,
    NotFound,
    PolicyRefused,
    Unauthenticated,
)
from central.passwords import check_new_password, check_new_pin, random_pin
from central.pricing import PricingPolicy
from central.schema import (
    agencies,
    approvals,
    contacts,
    facilities,
    feeds,
    kiosks,
    residents,
    sessions,
    staff,
    tablets,
    units,
)
from central.services.core import Central, audit
from central.services.ledger_store import ensure_accounts
from device_security.pki import Role
from device_security.pki import fingerprint as pki_fingerprint

log = logging.getLogger(__name__)

STAFF_ROLES = ("reviewer", "administrator", "technician", "investigator")
TABLET_STATUSES = ("active", "lost", "released", "retired")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,24}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")


def check_code(value: str, what: str) -> str:
    """Ids chosen by people (agency, facility, unit, kiosk): 1-32 safe characters."""
    if not _CODE.fullmatch(value):
        raise InvalidInput(f"{what} {value[:40]!r} must be 1-32 letters, digits, '.', '_' or '-'")
    return value


# -- places --------------------------------------------------------------------


def create_agency(c: Central, agency_id: str, name: str, *, working_language: str = "en",
                  policy: PricingPolicy | None = None) -> None:
    check_code(agency_id, "agency id")
    policy = policy or PricingPolicy()
    with c.db.write() as conn:
        conn.execute(agencies.insert().values(id=agency_id, name=name,
                                              working_language=working_language,
                                              policy=policy.to_json(), created_at=c.clock()))
        ensure_accounts(conn, [ledger.agency_account(agency_id, n) for n in (
            "trust-clearing", "card-clearing", "stamp-sales", "media-sales", "stamp-issue",
            "stamps-used", "stamps-expired")])


def policy_of(conn: Connection, agency_id: str) -> PricingPolicy:
    text = conn.execute(select(agencies.c.policy).where(agencies.c.id == agency_id)).scalar()
    if text is None:
        raise NotFound(f"no agency {agency_id}")
    return PricingPolicy.from_json(text)


def set_policy(c: Central, agency_id: str, policy: PricingPolicy, *, staff_id: int) -> None:
    """Replace an agency's prices and limits (audited with the old and new policy)."""
    with c.db.write() as conn:
        old = policy_of(conn, agency_id)
        conn.execute(update(agencies).where(agencies.c.id == agency_id)
                     .values(policy=policy.to_json()))
        audit(conn, c, staff_id, "agency.policy", f"agency:{agency_id}",
              old=old.to_json(), new=policy.to_json())


def create_facility(c: Central, facility_id: str, agency_id: str, name: str,
                    staff_email: str) -> None:
    check_code(facility_id, "facility id")
    with c.db.write() as conn:
        conn.execute(facilities.insert().values(id=facility_id, agency_id=agency_id, name=name,
                                                staff_email=staff_email))


def create_unit(c: Central, unit_id: str, facility_id: str, name: str) -> None:
    check_code(unit_id, "unit id")
    with c.db.write() as conn:
        conn.execute(units.insert().values(id=unit_id, facility_id=facility_id, name=name))


def register_kiosk(c: Central, kiosk_id: str, location_code: str, unit_id: str,
                   certificate_fingerprint: str | None, *, staff_id: int | None = None) -> None:
    check_code(kiosk_id, "kiosk id")
    with c.db.write() as conn:
        if conn.execute(select(units.c.id).where(units.c.id == unit_id)).first() is None:
            raise NotFound(f"no unit {unit_id}")
        try:
            conn.execute(kiosks.insert().values(
                id=kiosk_id, location_code=location_code, unit_id=unit_id,
                certificate_fingerprint=certificate_fingerprint, status="in_service"))
        except IntegrityError as e:
            raise Conflict(f"kiosk {kiosk_id} or location {location_code} exists") from e
        audit(conn, c, staff_id, "kiosk.register", f"kiosk:{kiosk_id}",
              location_code=location_code, unit=unit_id)


def kiosk_by_fingerprint(c: Central, fingerprint: str) -> Row[tuple[object, ...]]:
    """Raises Unauthenticated for a certificate no kiosk is registered with."""
    with c.db.read() as conn:
        row = conn.execute(select(kiosks).where(
            kiosks.c.certificate_fingerprint == fingerprint)).first()
    if row is None or row.status == "retired":
        raise Unauthenticated("this certificate belongs to no kiosk in service")
    return row


# -- residents -----------------------------------------------------------------


@dataclass(frozen=True)
class NewResident:
    id: int
    agency_id: str
    first_pin: str  # shown once to staff, who hand it over; it must be changed at first login


def create_resident(c: Central, *, agency_id: str, agency: str, name: str, facility_id: str,
                    unit_id: str, language: str = "en", staff_id: int | None = None,
                    pin: str | None = None) -> NewResident:
    """Admit a resident with a random first PIN (``pin`` only for demo seeds)."""
    check_code(agency_id, "agency ID")
    first_pin = pin or random_pin()
    with c.db.write() as conn:
        try:
            rid = conn.execute(residents.insert().values(
                agency_id=agency_id, agency=agency, name=name, facility_id=facility_id,
                unit_id=unit_id, language=language, status="active",
                pin_hash=c.passwords.hash(first_pin), pin_must_change=True, failed_logins=0,
                locked_until=0, created_at=c.clock()).returning(residents.c.id)).scalar_one()
        except IntegrityError as e:
            raise Conflict(f"a resident with agency ID {agency_id} exists") from e
        conn.execute(feeds.insert().values(feed=f"resident:{rid}", head=0))
        ensure_accounts(conn, [ledger.prepaid_account(rid),
                               ledger.stamp_account(f"resident:{rid}")])
        audit(conn, c, staff_id, "resident.create", f"resident:{rid}", agency_id=agency_id,
              unit=unit_id)
    return NewResident(rid, agency_id, first_pin)


def resident(conn: Connection, *, id: int | None = None,
             agency_id: str | None = None) -> Row[tuple[object, ...]]:
    query = select(residents)
    query = query.where(residents.c.id == id) if id is not None else \
        query.where(residents.c.agency_id == agency_id)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no resident {agency_id or id}")
    return row


@dataclass(frozen=True)
class Login:
    token: str
    subject: str
    subject_id: int
    expires_at: int
    must_change_pin: bool = False


def _check_lock(c: Central, row: Row[tuple[object, ...]]) -> None:
    locked_until = int(row.locked_until)
    if locked_until > c.clock():
        raise LockedOut(f"too many failed attempts; try again after "
                        f"{(locked_until - c.clock() + 59) // 60} minutes")


def _failed(conn: Connection, c: Central, table: Table, row: Row[tuple[object, ...]]) -> None:
    failures = int(row.failed_logins) + 1
    locked_until = 0
    if failures >= c.settings.max_failed_logins:
        locked_until = c.clock() + c.settings.lockout_minutes * 60
        failures = 0
    conn.execute(update(table).where(table.c.id == row.id)
                 .values(failed_logins=failures, locked_until=locked_until))


def _open_session(conn: Connection, c: Central, subject: str, subject_id: int, minutes: int,
                  kiosk_id: str | None = None) -> tuple[str, int]:
    token = secrets.token_urlsafe(32)
    expires = c.clock() + minutes * 60
    conn.execute(sessions.insert().values(
        token_hash=hashlib.sha256(token.encode()).hexdigest(), subject=subject,
        subject_id=subject_id, kiosk_id=kiosk_id, created_at=c.clock(), expires_at=expires))
    return token, expires


def login_resident(c: Central, agency_id: str, pin: str, *, kiosk_id: str) -> Login:
    """A resident logs in at a kiosk. Raises Unauthenticated, LockedOut or PolicyRefused.

    The kiosk must be on the resident's unit. After ``max_failed_logins``
    wrong PINs the account locks for ``lockout_minutes``.
    """
    with c.db.write() as conn:
        row = conn.execute(for_update(select(residents).where(
            residents.c.agency_id == agency_id))).first()
        if row is None:
            c.passwords.verify(_DUMMY_HASH.get(c), pin)  # same time whether the ID exists
            raise Unauthenticated("the ID or PIN is wrong")
        _check_lock(c, row)
        wrong = not c.passwords.verify(row.pin_hash, pin)
        if wrong:
            _failed(conn, c, residents, row)  # committed: the count survives the refusal
    if wrong:
        raise Unauthenticated("the ID or PIN is wrong")
    with c.db.write() as conn:
        conn.execute(update(residents).where(residents.c.id == row.id)
                     .values(failed_logins=0, locked_until=0))
        if row.status != "active":
            raise PolicyRefused(f"this account is {row.status}")
        kiosk = conn.execute(select(kiosks).where(kiosks.c.id == kiosk_id)).first()
        if kiosk is None or kiosk.unit_id != row.unit_id:
            raise PolicyRefused("this kiosk is not on your unit", code="wrong_unit")
        token, expires = _open_session(conn, c, "resident", row.id,
                                       c.settings.resident_session_minutes, kiosk_id)
    return Login(token, "resident", row.id, expires, must_change_pin=row.pin_must_change)


class _DummyHash:
    """One hash per Central, to spend the same time on unknown IDs as on known ones."""

    def __init__(self) -> None:
        self._hashes: dict[int, str] = {}

    def get(self, c: Central) -> str:
        key = id(c.passwords)
        if key not in self._hashes:
            self._hashes[key] = c.passwords.hash(secrets.token_hex(8))
        return self._hashes[key]


_DUMMY_HASH = _DummyHash()


def change_pin(c: Central, resident_id: int, old_pin: str, new_pin: str) -> None:
    """Raises Unauthenticated for a wrong old PIN, InvalidInput for a weak new one."""
    with c.db.write() as conn:
        row = conn.execute(for_update(select(residents).where(residents.c.id == resident_id))
                           ).first()
        if row is None:
            raise NotFound(f"no resident {resident_id}")
        _check_lock(c, row)
        wrong = not c.passwords.verify(str(row.pin_hash), old_pin)
        if wrong:
            _failed(conn, c, residents, row)
    if wrong:
        raise Unauthenticated("the current PIN is wrong")
    with c.db.write() as conn:
        check_new_pin(new_pin, agency_id=str(row.agency_id), old_pin=old_pin)
        conn.execute(update(residents).where(residents.c.id == resident_id).values(
            pin_hash=c.passwords.hash(new_pin), pin_must_change=False, failed_logins=0))


def reset_pin(c: Central, resident_id: int, *, staff_id: int) -> str:
    """Staff give a resident a new random PIN, to be changed at next login."""
    pin = random_pin()
    with c.db.write() as conn:
        resident(conn, id=resident_id)
        conn.execute(update(residents).where(residents.c.id == resident_id).values(
            pin_hash=c.passwords.hash(pin), pin_must_change=True, failed_logins=0,
            locked_until=0))
        conn.execute(sessions.delete().where(sessions.c.subject == "resident",
                                             sessions.c.subject_id == resident_id))
        audit(conn, c, staff_id, "resident.reset_pin", f"resident:{resident_id}")
    return pin


# -- family contacts -------------------------------------------------------------


def register_contact(c: Central, email: str, name: str, password: str) -> int:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InvalidInput(f"{email[:80]!r} is not an email address", code="bad_email")
    if not name.strip():
        raise InvalidInput("a name is needed", code="bad_name")
    check_new_password(password)
    with c.db.write() as conn:
        try:
            cid = conn.execute(contacts.insert().values(
                email=email, name=name.strip(), password_hash=c.passwords.hash(password),
                status="active", failed_logins=0, locked_until=0,
                created_at=c.clock()).returning(contacts.c.id)).scalar_one()
        except IntegrityError as e:
            raise Conflict("an account with this email exists", code="email_taken") from e
        conn.execute(feeds.insert().values(feed=f"contact:{cid}", head=0))
    return cid


def login_contact(c: Central, email: str, password: str) -> Login:
    return _login_password(c, contacts, "contact", contacts.c.email, email.strip().lower(),
                           password)


def login_staff(c: Central, username: str, password: str) -> Login:
    return _login_password(c, staff, "staff", staff.c.username, username, password)


def _login_password(c: Central, table: Table, subject: str, column: Column[str], name: str,
                    password: str) -> Login:
    with c.db.write() as conn:
        row = conn.execute(for_update(select(table).where(column == name))).first()
        if row is None:
            c.passwords.verify(_DUMMY_HASH.get(c), password)
            raise Unauthenticated("the email/username or password is wrong")
        _check_lock(c, row)
        wrong = not c.passwords.verify(row.password_hash, password)
        if wrong:
            _failed(conn, c, table, row)
    if wrong:
        raise Unauthenticated("the email/username or password is wrong")
    with c.db.write() as conn:
        if getattr(row, "status", "active") != "active":
            raise PolicyRefused("this account is disabled")
        conn.execute(update(table).where(table.c.id == row.id)
                     .values(failed_logins=0, locked_until=0))
        token, expires = _open_session(conn, c, subject, row.id, c.settings.session_hours * 60)
    return Login(token, subject, row.id, expires)


def create_staff(c: Central, username: str, name: str, role: str, password: str, *,
                 facility_id: str | None = None, by: int | None = None) -> int:
    if role not in STAFF_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(STAFF_ROLES)}", code="bad_role")
    check_code(username, "username")
    check_new_password(password)
    with c.db.write() as conn:
        try:
            sid = conn.execute(staff.insert().values(
                username=username, name=name, role=role, facility_id=facility_id,
                password_hash=c.passwords.hash(password), failed_logins=0, locked_until=0,
                created_at=c.clock()).returning(staff.c.id)).scalar_one()
        except IntegrityError as e:
            raise Conflict(f"staff user {username} exists") from e
        audit(conn, c, by, "staff.create", f"staff:{sid}", username=username, role=role)
    return sid


@dataclass(frozen=True)
class Session:
    subject: str
    subject_id: int
    kiosk_id: str | None
    role: str | None = None  # a staff member's role
    must_change_pin: bool = False  # a resident still on the first PIN


def authenticate(c: Central, token: str) -> Session:
    """The session a bearer token opens. Raises Unauthenticated."""
    if not token or len(token) > 200:
        raise Unauthenticated("a bearer token is needed")
    digest = hashlib.sha256(token.encode()).hexdigest()
    with c.db.read() as conn:
        row = conn.execute(select(sessions).where(sessions.c.token_hash == digest)).first()
        if row is None or row.expires_at <= c.clock():
            raise Unauthenticated("the session has ended; log in again")
        role = None
        must_change = False
        if row.subject == "staff":
            role = conn.execute(select(staff.c.role).where(staff.c.id == row.subject_id)).scalar()
        elif row.subject == "resident":
            must_change = bool(conn.execute(select(residents.c.pin_must_change).where(
                residents.c.id == row.subject_id)).scalar())
    return Session(row.subject, row.subject_id, row.kiosk_id, role, must_change)


def logout(c: Central, token: str) -> None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with c.db.write() as conn:
        conn.execute(sessions.delete().where(sessions.c.token_hash == digest))


# -- approvals -------------------------------------------------------------------


def request_approval(c: Central, contact_id: int, resident_agency_id: str,
                     relationship: str) -> int:
    """A family member asks to become an approved contact of a resident."""
    if not (0 < len(relationship.strip()) <= 64):
        raise InvalidInput("say how you know the resident (up to 64 characters)")
    with c.db.write() as conn:
        res = resident(conn, agency_id=resident_agency_id)
        existing = conn.execute(select(approvals).where(
            approvals.c.resident_id == res.id, approvals.c.contact_id == contact_id)).first()
        if existing is not None:
            return int(existing.id)
        return int(conn.execute(approvals.insert().values(
            resident_id=res.id, contact_id=contact_id, relationship=relationship.strip(),
            status="pending", requested_at=c.clock(), note="")
            .returning(approvals.c.id)).scalar_one())


def decide_approval(c: Central, approval_id: int, *, approve: bool, staff_id: int,
                    note: str = "") -> None:
    with c.db.write() as conn:
        row = conn.execute(for_update(select(approvals).where(approvals.c.id == approval_id))
                           ).first()
        if row is None:
            raise NotFound(f"no approval request {approval_id}")
        status = "approved" if approve else "denied"
        conn.execute(update(approvals).where(approvals.c.id == approval_id).values(
            status=status, decided_by=staff_id, decided_at=c.clock(), note=note[:500]))
        audit(conn, c, staff_id, f"approval.{status}", f"approval:{approval_id}",
              resident=row.resident_id, contact=row.contact_id, note=note[:500])


def require_approved(conn: Connection, resident_id: int, contact_id: int) -> None:
    """Raises Forbidden unless the contact is approved for the resident."""
    status = conn.execute(select(approvals.c.status).where(
        approvals.c.resident_id == resident_id, approvals.c.contact_id == contact_id)).scalar()
    if status != "approved":
        raise Forbidden("not an approved contact of this resident", code="not_approved")


# -- tablets ---------------------------------------------------------------------


def register_tablet(c: Central, serial: str, certificate_pem: str | None, *,
                    staff_id: int | None) -> None:
    """Register a tablet, with the certificate its provisioning issued (whose key
    signs its receipts and drafts). Raises InvalidInput for a certificate that
    is not a tablet's or names another serial, Conflict if it is registered."""
    if not (0 < len(serial) <= 64 and serial.isprintable()):
        raise InvalidInput("a tablet serial is 1-64 printable characters")
    fingerprint = None
    if certificate_pem is not None:
        fingerprint = tablet_certificate(certificate_pem, serial)[1]
    with c.db.write() as conn:
        try:
            conn.execute(tablets.insert().values(
                serial=serial, certificate_fingerprint=fingerprint,
                certificate=certificate_pem, status="active", sync_counter=0))
        except IntegrityError as e:
            raise Conflict(f"tablet {serial} is registered") from e
        audit(conn, c, staff_id, "tablet.register", f"tablet:{serial}")


def tablet_certificate(pem: str, serial: str) -> tuple[x509.Certificate, str]:
    """The certificate and its fingerprint, if it is a tablet's for ``serial``.
    Raises InvalidInput otherwise."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as e:
        raise InvalidInput("the tablet certificate is not a PEM certificate") from e
    subject = cert.subject
    role = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    named = [a.value for a in subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)]
    if role != [Role.TABLET.value] or named != [serial]:
        raise InvalidInput(f"the certificate is not tablet {serial}'s", code="wrong_certificate")
    if not isinstance(cert.public_key(), Ed25519PublicKey):
        raise InvalidInput("a tablet's key is Ed25519", code="wrong_certificate")
    return cert, pki_fingerprint(cert)


def assign_tablet(c: Central, serial: str, resident_id: int, *, staff_id: int | None) -> None:
    """Give a tablet to a resident; any other active tablet of theirs is retired."""
    with c.db.write() as conn:
        row = conn.execute(for_update(select(tablets).where(tablets.c.serial == serial))).first()
        if row is None:
            raise NotFound(f"no tablet {serial}")
        if row.status != "active":
            raise PolicyRefused(f"tablet {serial} is {row.status}")
        resident(conn, id=resident_id)
        conn.execute(update(tablets).where(tablets.c.resident_id == resident_id,
                                           tablets.c.serial != serial,
                                           tablets.c.status == "active")
                     .values(status="retired"))
        if row.resident_id != resident_id:  # its committed feed was someone else's
            conn.execute(update(tablets).where(tablets.c.serial == serial)
                         .values(resident_id=resident_id, feed_through=0,
                                 owners=tablets.c.owners + 1))
        audit(conn, c, staff_id, "tablet.assign", f"tablet:{serial}", resident=resident_id)


def set_tablet_status(c: Central, serial: str, status: str, *, staff_id: int | None) -> None:
    if status not in TABLET_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(TABLET_STATUSES)}")
    with c.db.write() as conn:
        done = conn.execute(update(tablets).where(tablets.c.serial == serial)
                            .values(status=status)).rowcount
        if not done:
            raise NotFound(f"no tablet {serial}")
        audit(conn, c, staff_id, f"tablet.{status}", f"tablet:{serial}")
