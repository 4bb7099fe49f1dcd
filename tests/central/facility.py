"""A small facility for the central server's tests: one agency (the
Washington contract's prices), a facility, two units, a kiosk on each,
staff of every role, and residents, on a migrated database."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

from central import migrate
from central.blobs import BlobStore
from central.database import Database
from central.passwords import Passwords
from central.payments import SandboxCardPayments
from central.pricing import PricingPolicy, StampOffer
from central.services import accounts, legal_mail
from central.services.core import Central, Settings
from central.services.scope import Scope, scope_of
from central.throttle import LoginThrottle, Rate
from central.trust_account import InMemoryTrustAccounts, TrustAccounts

STAFF_PASSWORD = "correct horse battery"
SYSTEM = Scope.system()


def unthrottled() -> LoginThrottle:
    """Tests log in far more often than people do; the limits have tests of their own."""
    plenty = Rate(100_000, 1.0)
    return LoginThrottle(per_kiosk=plenty, per_account=plenty, per_address=plenty)
WASHINGTON = PricingPolicy(
    stamps_per_message=1, stamps_per_photo=1, stamps_per_videogram=4,
    offers=(StampOffer("bundle-20", 20, 500), StampOffer("bundle-35", 35, 750),
            StampOffer("bundle-60", 60, 1000), StampOffer("plan-30", 30, 600, valid_days=30)))


class Clock:
    """The server's clock for tests: it starts at the real time (certificates
    are issued then) and moves only when a test moves it."""

    def __init__(self, at: int | None = None) -> None:
        self.at = int(time.time()) if at is None else at

    def __call__(self) -> int:
        return self.at

    def advance(self, seconds: int) -> None:
        self.at += seconds


class WordTranslator:
    """A translator for tests of the review flow: no language detection, a
    fixed note. (The real ReviewTranslator has its own tests.)"""

    def for_reviewer(self, text: str) -> object:
        from central.translation import Translation
        return Translation(original=text, source_language=None, target_language="en",
                           text=None, engine=None, status="undetermined",
                           note="Language detection is off in these tests.")


@dataclass
class Facility:
    central: Central
    clock: Clock
    staff: dict[str, int] = field(default_factory=dict)
    residents: dict[str, accounts.NewResident] = field(default_factory=dict)
    _uids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def uid(self, prefix: str = "msg") -> str:
        return f"{prefix}-{next(self._uids):08d}"

    def admit(self, agency_id: str, name: str, unit: str = "U-A", pin: str = "482916"
              ) -> accounts.NewResident:
        new = accounts.create_resident(self.central, agency_id=agency_id, agency="WA",
                                       name=name, facility_id="F1", unit_id=unit, pin=pin,
                                       scope=SYSTEM)
        self.residents[agency_id] = new
        return new

    def family(self, email: str, name: str, *, approved_for: str | None = None) -> int:
        cid = accounts.register_contact(self.central, email, name, "family password 1")
        if approved_for is not None:
            approval = accounts.request_approval(self.central, cid, approved_for, "sister")
            accounts.decide_approval(self.central, approval, approve=True,
                                     scope=self.scope("reviewer"))
        return cid

    def scope(self, role: str) -> Scope:
        """The reach of the staff member of ``role``: the administrator is the
        agency's (WA), the others work at facility F1."""
        with self.central.db.read() as conn:
            return scope_of(conn, self.staff[role])


def build(database_url: str, state: Path, *, trust: TrustAccounts | None = None,
          translator: object | None = None) -> Facility:
    db = Database(database_url)
    migrate.upgrade(db)
    clock = Clock()
    central = Central(
        db=db, blobs=BlobStore(state / "blobs"),
        trust=trust if trust is not None else InMemoryTrustAccounts(),
        payments=SandboxCardPayments(), passwords=Passwords("low"),
        translator=translator if translator is not None else WordTranslator(),
        settings=Settings(), clock=clock, logins=unthrottled(),
        legal_seal=legal_mail.load_key(state))
    accounts.create_agency(central, "WA", "Washington Department of Corrections",
                           policy=WASHINGTON)
    accounts.create_facility(central, "F1", "WA", "Cedar Creek", "staff@cedar.example")
    accounts.create_unit(central, "U-A", "F1", "A unit")
    accounts.create_unit(central, "U-B", "F1", "B unit")
    accounts.register_kiosk(central, "K-A1", "CC-A-DAYROOM", "U-A", None, scope=SYSTEM)
    accounts.register_kiosk(central, "K-B1", "CC-B-DAYROOM", "U-B", None, scope=SYSTEM)
    facility = Facility(central, clock)
    for role in accounts.STAFF_ROLES:
        facility.staff[role] = accounts.create_staff(
            central, role, role.title(), role, STAFF_PASSWORD, scope=SYSTEM,
            facility_id=None if role in ("administrator", "prea") else "F1", agency_id="WA")
    return facility
