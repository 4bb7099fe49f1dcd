"""People and places: agencies, facilities, units, kiosks, tablets, residents,
family contacts and their approvals, staff, and the sessions they log in to."""

from __future__ import annotations

import datetime
import hashlib
import json
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
from central.pricing import IDENTITY_FIELDS, PricingPolicy, check_identity, check_unchanged_prices
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
    tablet_issues,
    tablets,
    units,
)
from central.services.core import Central, audit
from central.services.ledger_store import ensure_accounts, post
from central.services.scope import Scope, scope_of
from device_security.errors import CertificateError
from device_security.pki import Role, TrustAnchors, check_certificate
from device_security.pki import fingerprint as pki_fingerprint

log = logging.getLogger(__name__)

STAFF_ROLES = ("reviewer", "administrator", "technician", "investigator", "prea")
# Roles that work for the whole agency rather than at one facility.
AGENCY_LEVEL_ROLES = ("prea",)
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
            "trust-clearing", "card-clearing", "stamp-sales", "media-sales", "tablet-sales",
            "stamp-issue", "stamps-used", "stamps-expired")])


def policy_of(conn: Connection, agency_id: str) -> PricingPolicy:
    text = conn.execute(select(agencies.c.policy).where(agencies.c.id == agency_id)).scalar()
    if text is None:
        raise NotFound(f"no agency {agency_id}")
    return PricingPolicy.from_json(text)


def set_policy(c: Central, agency_id: str, policy: PricingPolicy, *, scope: Scope) -> None:
    """Replace an agency's prices and limits (audited with the old and new
    policy): an agency administrator's, of their own agency."""
    scope.agency(agency_id, f"agency {agency_id}")
    scope.agency_level("change the agency's prices and limits")
    staff_id = scope.staff_id
    with c.db.write() as conn:
        old = policy_of(conn, agency_id)
        check_unchanged_prices(old, policy)
        conn.execute(update(agencies).where(agencies.c.id == agency_id)
                     .values(policy=policy.to_json()))
        audit(conn, c, staff_id, "agency.policy", f"agency:{agency_id}", agency=agency_id,
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
                   certificate_fingerprint: str | None, *, scope: Scope) -> None:
    check_code(kiosk_id, "kiosk id")
    staff_id = scope.staff_id
    with c.db.write() as conn:
        if conn.execute(select(units.c.id).where(units.c.id == unit_id)).first() is None \
                or not scope.covers_unit(unit_id):
            raise NotFound(f"no unit {unit_id}")
        try:
            conn.execute(kiosks.insert().values(
                id=kiosk_id, location_code=location_code, unit_id=unit_id,
                certificate_fingerprint=certificate_fingerprint, status="in_service"))
        except IntegrityError as e:
            raise Conflict(f"kiosk {kiosk_id} or location {location_code} exists") from e
        audit(conn, c, staff_id, "kiosk.register", f"kiosk:{kiosk_id}", unit=unit_id,
              location_code=location_code)


KIOSK_STATUSES = ("in_service", "out_of_service", "retired")


def set_kiosk_status(c: Central, kiosk_id: str, status: str, *, scope: Scope) -> None:
    """Retire a kiosk, or mark it in or out of service. A retired kiosk's
    certificate is refused from its very next request (the server forgets the
    kiosks it had verified)."""
    if status not in KIOSK_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(KIOSK_STATUSES)}")
    with c.db.write() as conn:
        row = conn.execute(for_update(select(kiosks).where(kiosks.c.id == kiosk_id))).first()
        if row is None or not scope.covers_unit(row.unit_id):
            raise NotFound(f"no kiosk {kiosk_id}")
        conn.execute(update(kiosks).where(kiosks.c.id == kiosk_id).values(status=status))
        if status == "retired":
            conn.execute(sessions.delete().where(sessions.c.kiosk_id == kiosk_id))
        audit(conn, c, scope.staff_id, f"kiosk.{status}", f"kiosk:{kiosk_id}", unit=row.unit_id)
    c.kiosks_changed += 1  # the verifier checks every kiosk afresh


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
                    unit_id: str, language: str = "en", scope: Scope,
                    pin: str | None = None) -> NewResident:
    """Admit a resident with a random first PIN (``pin`` only for demo seeds),
    at a facility in ``scope``, on one of its units."""
    check_code(agency_id, "agency ID")
    first_pin = pin or random_pin()
    staff_id = scope.staff_id
    with c.db.write() as conn:
        place = conn.execute(select(units.c.facility_id, facilities.c.agency_id)
                             .join(facilities, facilities.c.id == units.c.facility_id)
                             .where(units.c.id == unit_id)).first()
        if place is None or place.facility_id != facility_id \
                or not scope.covers_facility(facility_id):
            raise NotFound(f"no unit {unit_id} at facility {facility_id}")
        if place.agency_id != agency:
            raise InvalidInput(f"facility {facility_id} is not of agency {agency}")
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
        audit(conn, c, staff_id, "resident.create", f"resident:{rid}", facility=facility_id,
              agency_id=agency_id,
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


def _failed(conn: Connection, c: Central, table: Table, row_id: object) -> None:
    """Count a wrong answer (atomically: two at once count twice); at
    ``max_failed_logins`` in a row, lock the account for ``lockout_minutes``."""
    conn.execute(update(table).where(table.c.id == row_id)
                 .values(failed_logins=table.c.failed_logins + 1))
    failures = conn.execute(select(table.c.failed_logins).where(table.c.id == row_id)).scalar()
    if failures is not None and failures >= c.settings.max_failed_logins:
        conn.execute(update(table).where(table.c.id == row_id).values(
            failed_logins=0, locked_until=c.clock() + c.settings.lockout_minutes * 60))


def _open_session(conn: Connection, c: Central, subject: str, subject_id: int, minutes: int,
                  kiosk_id: str | None = None) -> tuple[str, int]:
    token = secrets.token_urlsafe(32)
    expires = c.clock() + minutes * 60
    conn.execute(sessions.insert().values(
        token_hash=hashlib.sha256(token.encode()).hexdigest(), subject=subject,
        subject_id=subject_id, kiosk_id=kiosk_id, created_at=c.clock(), expires_at=expires))
    return token, expires


def login_resident(c: Central, agency_id: str, pin: str, *, kiosk_id: str) -> Login:
    """A resident logs in at a kiosk of their own unit. Raises Unauthenticated
    (a wrong ID or PIN, or the right PIN at another unit's kiosk: the same
    answer, counted the same way, so a PIN cannot be tried from elsewhere),
    LockedOut, PolicyRefused (an account that is not active), TooManyAttempts
    or Busy. After ``max_failed_logins`` wrong answers in a row the account
    locks for ``lockout_minutes``."""
    c.logins.admit((f"kiosk:{kiosk_id}", c.logins.per_kiosk),
                   (f"account:resident:{agency_id[:32]}", c.logins.per_account))
    with c.db.read() as conn:
        row = conn.execute(select(residents).where(residents.c.agency_id == agency_id)).first()
        unit = conn.execute(select(kiosks.c.unit_id).where(kiosks.c.id == kiosk_id)).scalar()
    if row is None:
        c.passwords.verify(_DUMMY_HASH.get(c), pin)  # same time whether the ID exists
        raise Unauthenticated("the ID or PIN is wrong")
    _check_lock(c, row)
    right = c.passwords.verify(str(row.pin_hash), pin) and unit == row.unit_id
    if not right:
        with c.db.write() as conn:
            _failed(conn, c, residents, row.id)
        raise Unauthenticated("the ID or PIN is wrong")
    with c.db.write() as conn:
        conn.execute(update(residents).where(residents.c.id == row.id)
                     .values(failed_logins=0, locked_until=0))
        if row.status != "active":
            raise PolicyRefused(f"this account is {row.status}")
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
    with c.db.read() as conn:
        row = conn.execute(select(residents).where(residents.c.id == resident_id)).first()
    if row is None:
        raise NotFound(f"no resident {resident_id}")
    _check_lock(c, row)
    if not c.passwords.verify(str(row.pin_hash), old_pin):
        with c.db.write() as conn:
            _failed(conn, c, residents, row.id)
        raise Unauthenticated("the current PIN is wrong")
    with c.db.write() as conn:
        check_new_pin(new_pin, agency_id=str(row.agency_id), old_pin=old_pin)
        conn.execute(update(residents).where(residents.c.id == resident_id).values(
            pin_hash=c.passwords.hash(new_pin), pin_must_change=False, failed_logins=0))


def reset_pin(c: Central, resident_id: int, *, scope: Scope) -> str:
    """Staff give a resident a new random PIN, to be changed at next login."""
    pin = random_pin()
    staff_id = scope.staff_id
    with c.db.write() as conn:
        scope.facility(resident(conn, id=resident_id).facility_id, f"resident {resident_id}")
        conn.execute(update(residents).where(residents.c.id == resident_id).values(
            pin_hash=c.passwords.hash(pin), pin_must_change=True, failed_logins=0,
            locked_until=0))
        conn.execute(sessions.delete().where(sessions.c.subject == "resident",
                                             sessions.c.subject_id == resident_id))
        audit(conn, c, staff_id, "resident.reset_pin", f"resident:{resident_id}",
              resident=resident_id)
    return pin


# -- family contacts -------------------------------------------------------------


def identity_fields_asked(c: Central) -> tuple[str, ...]:
    """The identity fields any agency on this server asks of family members,
    in IDENTITY_FIELDS order: what the sign-up form asks."""
    with c.db.read() as conn:
        texts = conn.execute(select(agencies.c.policy)).scalars().all()
    asked = {f for text in texts for f in PricingPolicy.from_json(text).family_identity_fields}
    return tuple(f for f in IDENTITY_FIELDS if f in asked)


def _today(c: Central) -> datetime.date:
    return datetime.datetime.fromtimestamp(c.clock(), datetime.UTC).date()


def register_contact(c: Central, email: str, name: str, password: str, *,
                     identity: dict[str, str] | None = None) -> int:
    """A family account. ``identity``, when given, must hold every field the
    agencies here ask for (identity_fields_asked). Raises InvalidInput
    (codes bad_email, bad_name, password_length, password_trivial),
    InvalidFields for identity fields, Conflict (email_taken)."""
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InvalidInput(f"{email[:80]!r} is not an email address", code="bad_email")
    if not name.strip() or len(name.strip()) > 200:
        raise InvalidInput("a name (up to 200 characters) is needed", code="bad_name")
    check_new_password(password)
    kept = {} if identity is None else check_identity(identity_fields_asked(c), identity,
                                                      today=_today(c))
    with c.db.write() as conn:
        try:
            cid = conn.execute(contacts.insert().values(
                email=email, name=name.strip(), password_hash=c.passwords.hash(password),
                status="active", failed_logins=0, locked_until=0, identity=json.dumps(kept),
                created_at=c.clock()).returning(contacts.c.id)).scalar_one()
        except IntegrityError as e:
            raise Conflict("an account with this email exists", code="email_taken") from e
        conn.execute(feeds.insert().values(feed=f"contact:{cid}", head=0))
    return cid


def login_contact(c: Central, email: str, password: str, *,
                  address: str | None = None) -> Login:
    return _login_password(c, contacts, "contact", contacts.c.email, email.strip().lower(),
                           password, address)


def login_staff(c: Central, username: str, password: str, *,
                address: str | None = None) -> Login:
    return _login_password(c, staff, "staff", staff.c.username, username, password, address)


def _login_password(c: Central, table: Table, subject: str, column: Column[str], name: str,
                    password: str, address: str | None) -> Login:
    limits = [(f"account:{subject}:{name[:254]}", c.logins.per_account)]
    if address:
        limits.append((f"address:{address[:64]}", c.logins.per_address))
    c.logins.admit(*limits)
    with c.db.read() as conn:
        row = conn.execute(select(table).where(column == name)).first()
    if row is None:
        c.passwords.verify(_DUMMY_HASH.get(c), password)
        raise Unauthenticated("the email/username or password is wrong")
    _check_lock(c, row)
    if not c.passwords.verify(str(row.password_hash), password):
        with c.db.write() as conn:
            _failed(conn, c, table, row.id)
        raise Unauthenticated("the email/username or password is wrong")
    with c.db.write() as conn:
        if getattr(row, "status", "active") != "active":
            raise PolicyRefused("this account is disabled")
        conn.execute(update(table).where(table.c.id == row.id)
                     .values(failed_logins=0, locked_until=0))
        token, expires = _open_session(conn, c, subject, row.id, c.settings.session_hours * 60)
    return Login(token, subject, row.id, expires)


def create_staff(c: Central, username: str, name: str, role: str, password: str, *,
                 facility_id: str | None = None, agency_id: str | None = None,
                 scope: Scope) -> int:
    """A staff account at ``facility_id``, or (an administrator with no
    facility) an agency administrator of ``agency_id``. Within ``scope``: a
    facility's administrator adds staff to their own facility only."""
    if role not in STAFF_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(STAFF_ROLES)}", code="bad_role")
    check_code(username, "username")
    check_new_password(password)
    with c.db.write() as conn:
        if facility_id is not None and role in AGENCY_LEVEL_ROLES:
            raise InvalidInput(f"a {role} works for the whole agency, not at a facility",
                               code="agency_role")
        if facility_id is not None:
            agency_of = conn.execute(select(facilities.c.agency_id).where(
                facilities.c.id == facility_id)).scalar()
            if agency_of is None or not scope.covers_facility(facility_id):
                raise NotFound(f"no facility {facility_id}")
            if agency_id is not None and agency_id != agency_of:
                raise InvalidInput(f"facility {facility_id} is not of agency {agency_id}")
            agency_id = str(agency_of)
        else:
            if role not in ("administrator", *AGENCY_LEVEL_ROLES):
                raise InvalidInput("staff other than agency administrators work at a facility: "
                                   "give facility_id", code="facility_needed")
            scope.agency_level(f"add an agency-wide {role}")
            agency_id = agency_id or scope.agency_id
            if agency_id is None or conn.execute(select(agencies.c.id).where(
                    agencies.c.id == agency_id)).first() is None:
                raise NotFound(f"no agency {agency_id}")
            scope.agency(agency_id, f"agency {agency_id}")
        try:
            sid = conn.execute(staff.insert().values(
                username=username, name=name, role=role, agency_id=agency_id,
                facility_id=facility_id, status="active",
                password_hash=c.passwords.hash(password), failed_logins=0, locked_until=0,
                created_at=c.clock()).returning(staff.c.id)).scalar_one()
        except IntegrityError as e:
            raise Conflict(f"staff user {username} exists") from e
        audit(conn, c, scope.staff_id, "staff.create", f"staff:{sid}", facility=facility_id,
              agency=agency_id, username=username, role=role)
    return sid


def set_staff_status(c: Central, staff_id: int, status: str, *, scope: Scope) -> None:
    """Disable a staff account (its sessions end at once) or enable it again."""
    if status not in ("active", "disabled"):
        raise InvalidInput("status is active or disabled")
    with c.db.write() as conn:
        row = conn.execute(for_update(select(staff).where(staff.c.id == staff_id))).first()
        if row is None or not (scope.covers_facility(row.facility_id) if row.facility_id
                               else scope.agency_wide and scope.covers_agency(row.agency_id)):
            raise NotFound(f"no staff member {staff_id}")
        if row.id == scope.staff_id and status == "disabled":
            raise InvalidInput("you cannot disable your own account")
        conn.execute(update(staff).where(staff.c.id == staff_id).values(status=status))
        if status == "disabled":
            conn.execute(sessions.delete().where(sessions.c.subject == "staff",
                                                 sessions.c.subject_id == staff_id))
        audit(conn, c, scope.staff_id, f"staff.{status}", f"staff:{staff_id}",
              facility=row.facility_id, agency=row.agency_id)


@dataclass(frozen=True)
class Session:
    subject: str
    subject_id: int
    kiosk_id: str | None
    role: str | None = None  # a staff member's role
    must_change_pin: bool = False  # a resident still on the first PIN
    scope: Scope | None = None  # a staff member's reach


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
        scope = None
        if row.subject == "staff":
            scope = scope_of(conn, row.subject_id)  # a disabled account's session ends here
            role = scope.role
        elif row.subject == "resident":
            must_change = bool(conn.execute(select(residents.c.pin_must_change).where(
                residents.c.id == row.subject_id)).scalar())
    return Session(row.subject, row.subject_id, row.kiosk_id, role, must_change, scope)


def logout(c: Central, token: str) -> None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with c.db.write() as conn:
        conn.execute(sessions.delete().where(sessions.c.token_hash == digest))


# -- approvals -------------------------------------------------------------------


def request_approval(c: Central, contact_id: int, resident_agency_id: str,
                     relationship: str, *, identity: dict[str, str] | None = None) -> int:
    """A family member asks to become an approved contact of a resident. The
    identity fields the resident's agency asks for must be on the contact's
    account or in ``identity`` (kept on the account). Raises InvalidInput,
    InvalidFields (the identity fields missing), NotFound (no such resident)."""
    if not (0 < len(relationship.strip()) <= 64):
        raise InvalidInput("say how you know the resident (up to 64 characters)",
                           code="bad_relationship")
    with c.db.write() as conn:
        res = resident(conn, agency_id=resident_agency_id)
        existing = conn.execute(select(approvals).where(
            approvals.c.resident_id == res.id, approvals.c.contact_id == contact_id)).first()
        if existing is not None:
            return int(existing.id)
        asked = policy_of(conn, str(res.agency)).family_identity_fields
        if asked:
            known = json.loads(conn.execute(select(contacts.c.identity).where(
                contacts.c.id == contact_id)).scalar_one())
            merged = {**known, **{k: v for k, v in (identity or {}).items() if v.strip()}}
            kept = check_identity(asked, merged, today=_today(c))
            if any(known.get(k) != v for k, v in kept.items()):
                conn.execute(update(contacts).where(contacts.c.id == contact_id)
                             .values(identity=json.dumps({**known, **kept})))
        return int(conn.execute(approvals.insert().values(
            resident_id=res.id, contact_id=contact_id, relationship=relationship.strip(),
            status="pending", requested_at=c.clock(), note="")
            .returning(approvals.c.id)).scalar_one())


def decide_approval(c: Central, approval_id: int, *, approve: bool, scope: Scope,
                    note: str = "") -> None:
    staff_id = scope.staff_id
    with c.db.write() as conn:
        row = conn.execute(for_update(select(approvals).where(approvals.c.id == approval_id))
                           ).first()
        if row is None or not scope.covers_facility(resident(conn, id=row.resident_id)
                                                    .facility_id):
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
                    scope: Scope, facility_id: str | None = None,
                    trust: TrustAnchors | None = None) -> None:
    """Register a tablet of a facility in ``scope`` (``facility_id``, or the
    staff member's own), with the certificate its provisioning issued (whose
    key signs its receipts and drafts), which the facility CA (``trust``) must
    have signed. Raises InvalidInput for a certificate that is not a tablet's,
    names another serial or is not the CA's, Conflict if it is registered."""
    if not (0 < len(serial) <= 64 and serial.isprintable()):
        raise InvalidInput("a tablet serial is 1-64 printable characters")
    facility_id = facility_id or scope.facility_id
    if facility_id is None and len(scope.facility_ids) == 1:
        (facility_id,) = scope.facility_ids
    if facility_id is not None:
        scope.facility(facility_id, f"facility {facility_id}")
    elif not scope.is_system:
        raise InvalidInput("say which facility the tablet is for (facility_id)")
    fingerprint = None
    if certificate_pem is not None:
        cert, fingerprint = tablet_certificate(certificate_pem, serial)
        if not scope.is_system or trust is not None:
            issued_by_facility_ca(cert, trust, now=c.clock())
    staff_id = scope.staff_id
    with c.db.write() as conn:
        try:
            conn.execute(tablets.insert().values(
                serial=serial, certificate_fingerprint=fingerprint, facility_id=facility_id,
                certificate=certificate_pem, status="active", sync_counter=0))
        except IntegrityError as e:
            raise Conflict(f"tablet {serial} is registered") from e
        audit(conn, c, staff_id, "tablet.register", f"tablet:{serial}", facility=facility_id)


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


def assign_tablet(c: Central, serial: str, resident_id: int, *, scope: Scope) -> None:
    """Give a tablet to a resident of the same facility; any other active
    tablet of theirs is retired."""
    staff_id = scope.staff_id
    with c.db.write() as conn:
        row = conn.execute(for_update(select(tablets).where(tablets.c.serial == serial))).first()
        if row is None or not tablet_in_scope(conn, row, scope):
            raise NotFound(f"no tablet {serial}")
        if row.status != "active":
            raise PolicyRefused(f"tablet {serial} is {row.status}")
        res = resident(conn, id=resident_id)
        scope.facility(res.facility_id, f"resident {resident_id}")
        if row.facility_id is not None and row.facility_id != res.facility_id:
            raise PolicyRefused(f"tablet {serial} belongs to facility {row.facility_id}")
        conn.execute(update(tablets).where(tablets.c.resident_id == resident_id,
                                           tablets.c.serial != serial,
                                           tablets.c.status == "active")
                     .values(status="retired"))
        if row.resident_id != resident_id:  # its committed feed was someone else's
            conn.execute(update(tablets).where(tablets.c.serial == serial)
                         .values(resident_id=resident_id, feed_through=0,
                                 owners=tablets.c.owners + 1))
            _issue_tablet(conn, c, serial, res, owner_number=int(row.owners) + 1)
        if row.facility_id is None:
            conn.execute(update(tablets).where(tablets.c.serial == serial)
                         .values(facility_id=res.facility_id))
        audit(conn, c, staff_id, "tablet.assign", f"tablet:{serial}", resident=resident_id,
              to_resident=resident_id)


def _issue_tablet(conn: Connection, c: Central, serial: str, res: Row[tuple[object, ...]], *,
                  owner_number: int) -> None:
    """Record a tablet given to a resident, charged at the agency's price from
    their prepaid money (InsufficientFunds refuses the whole assignment)."""
    agency, resident_id = str(res.agency), int(str(res.id))
    price = policy_of(conn, agency).tablet_price_cents
    if price:
        prepaid = ledger.prepaid_account(resident_id)
        ensure_accounts(conn, [prepaid, ledger.agency_account(agency, "tablet-sales")])
        post(conn, ledger.tablet_sale(key=f"tablet:{serial}:{owner_number}", agency=agency,
                                      resident_id=resident_id, price_cents=price, serial=serial))
    conn.execute(tablet_issues.insert().values(serial=serial, resident_id=resident_id,
                                               facility_id=res.facility_id,
                                               price_cents=price, issued_at=c.clock()))


def set_tablet_status(c: Central, serial: str, status: str, *, scope: Scope) -> None:
    if status not in TABLET_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(TABLET_STATUSES)}")
    with c.db.write() as conn:
        row = conn.execute(for_update(select(tablets).where(tablets.c.serial == serial))).first()
        if row is None or not tablet_in_scope(conn, row, scope):
            raise NotFound(f"no tablet {serial}")
        conn.execute(update(tablets).where(tablets.c.serial == serial).values(status=status))
        audit(conn, c, scope.staff_id, f"tablet.{status}", f"tablet:{serial}",
              facility=row.facility_id, resident=row.resident_id)


def tablet_in_scope(conn: Connection, row: Row[tuple[object, ...]], scope: Scope) -> bool:
    """A tablet is its facility's; one registered before tablets had a facility,
    its resident's."""
    facility = row.facility_id
    if facility is None and row.resident_id is not None:
        facility = resident(conn, id=int(str(row.resident_id))).facility_id
    return scope.is_system or (facility is not None and scope.covers_facility(facility))


def issued_by_facility_ca(cert: x509.Certificate, trust: TrustAnchors | None, *,
                          now: int) -> None:
    """Raises InvalidInput unless the facility CA issued ``cert`` (a tablet's,
    in its validity, not revoked)."""
    if trust is None:
        raise InvalidInput("this server has no facility CA to check tablet certificates "
                           "against ([central] ca_certificate)", code="no_ca")
    try:
        check_certificate(cert, trust, now=datetime.datetime.fromtimestamp(now, datetime.UTC),
                          expected_roles=[Role.TABLET])
    except CertificateError as e:
        raise InvalidInput(f"the tablet certificate is not one the facility CA issued: {e}",
                           code="wrong_certificate") from e
