"""The kiosk without its screen: its parts, put together in one place, and the
one typed facade its screen (and ``sallyport kiosk headless``) calls.

The parts, each with one job and built from what it uses:

* rounds with the central server (kiosk/rounds.py), on a thread of their own;
* the dock (kiosk/dock.py): pairing and sync of plugged tablets, a thread each;
* the resident logged in and their calls (kiosk/residents.py), letters included
  (kiosk/letters.py);
* the maintenance menu (kiosk/maintenance.py).

They report through one ``emit`` callback as typed events (kiosk/events.py);
calls answer with typed answers (kiosk/answers.py). Everything a dock needs is
local (the cache, the registry copy, the alert queue), so docking goes on
while the server is away.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509

from device_security import reasons
from device_security.alerts import Alerter, AlertQueue, SmtpAlertMailer, SmtpSettings
from device_security.channel import Credentials
from device_security.errors import CertificateError
from device_security.pairing import PairingGate, TabletTerms
from device_security.policy import KioskSession
from device_security.registry import Registry
from device_security.revocation import KeptRevocationList
from device_security.secure_element import KeyFileSecureElement
from hw.config import HwConfig
from hw.errors import HwError
from hw.mass_storage import Progress
from hw.peripherals import BadgeReader, print_text
from kiosk.answers import (
    OFFLINE,
    AlertHere,
    Answer,
    Attempt,
    Check,
    FiledRequest,
    LetterState,
    LoggedIn,
    RequestLine,
    StickWritten,
    TabletHere,
    not_logged_in,
)
from kiosk.cache import REFUSED, CacheError, KioskCache, cache_sealer
from kiosk.central_client import CentralClient, CentralClientError
from kiosk.config import KioskConfig, SyncConfig
from kiosk.dock import Dock
from kiosk.events import BadgeSwiped, Emit, Event, Started, Stopped
from kiosk.firmware import FirmwareMirror, load_kiosk_key
from kiosk.i18n import N_, Translator
from kiosk.inbox import Inbox
from kiosk.letters import Letters
from kiosk.lockout import LockoutFile
from kiosk.maintenance import Maintenance
from kiosk.own_firmware import OwnFirmware
from kiosk.records import (
    AgencyPolicy,
    CatalogItem,
    Contact,
    Entitlement,
    Home,
    Offer,
    StampPurchase,
    Ticket,
    Transfer,
)
from kiosk.requests import Requests, paper_copy
from kiosk.residents import Resident, ResidentSessions
from kiosk.rounds import CentralSync, Round, Rounds
from kiosk.service_state import ServiceState
from kiosk.terms import TEXT, TermsLedger, Unsent, digest, render

log = logging.getLogger(__name__)


class KioskService:
    """One kiosk's work without its screen. The constructor does no I/O;
    :meth:`start` opens the state, builds the parts and starts their threads;
    :meth:`stop` ends them."""

    def __init__(self, kiosk: KioskConfig, sync: SyncConfig, hw: HwConfig, *,
                 emit: Emit, config_path: Path | None = None) -> None:
        self.config = kiosk
        self.config_path = config_path
        self.sync_config = sync
        self.hw_config = hw
        self._emit_to = emit
        self.emit_lock = threading.Lock()  # one line of output at a time, whole
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.service_state = ServiceState(kiosk.state_path / "service.json")
        self.terms = TermsLedger(kiosk.state_path / "terms.json")

    # -- life --------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the state, build the parts and start rounds and the dock
        watcher. Raises ValueError for settings that cannot work (say, no
        certificate)."""
        k, s = self.config, self.sync_config
        credentials = s.credentials()
        k.state_path.mkdir(parents=True, exist_ok=True)
        s.cache_path.mkdir(parents=True, exist_ok=True)
        element = KeyFileSecureElement(credentials.key)  # the kiosk's device key
        self.cache = cache = KioskCache(s.cache_path, cache_sealer(element))
        self.paper_words = Translator()  # the paper copies' languages
        registry = Registry(k.state_path / "registry.db")
        self.alerts = AlertQueue(s.alert_queue_path or k.state_path / "alerts.db")
        mailer = SmtpAlertMailer(SmtpSettings(k.smtp_host, k.smtp_port, k.alert_from,
                                              k.alert_to)) if k.smtp_host else None
        alerter = Alerter(self.alerts, mailer)
        ca = x509.load_pem_x509_certificate(credentials.ca.read_bytes())
        # The newest revocation list: the one configured, then each round's.
        self.revocations = revocations = KeptRevocationList(k.state_path / "crl.der", ca)
        if k.crl:
            try:
                revocations.offer(Path(k.crl).read_bytes())
            except CertificateError as e:
                if e.reason != reasons.REVOCATION_LIST_STALE:
                    log.error("the configured revocation list %s is not used: %s", k.crl, e)
                # else: a round has brought a newer one than the configured file
            except OSError as e:
                log.error("the configured revocation list %s cannot be read: %s", k.crl, e)
        # Two connections: rounds run on their own thread, resident calls on the caller's.
        self._rounds_client = CentralClient(s.central_url, credentials,
                                            timeout=s.request_timeout_s, attempts=2)
        self._desk_client = CentralClient(s.central_url, credentials,
                                          timeout=s.request_timeout_s, attempts=2)
        letters = Letters(self._desk_client, cache)  # sent at once; the rounds retry them
        requests = Requests(self._desk_client, cache)  # as letters are
        # the agency's signed firmware, kept by the rounds and offered at the dock; the
        # kiosk's own images go to its own slots when it was started from them
        firmware = FirmwareMirror(s.cache_path / "firmware",
                                  own=OwnFirmware.from_environment(os.environ))
        kiosk_key = load_kiosk_key(credentials.key)
        self.rounds = Rounds(CentralSync(self._rounds_client, cache, registry=registry,
                                         alerts=self.alerts, letters=letters,
                                         requests=requests, revocations=revocations,
                                         firmware=firmware),
                             self.emit, interval=s.round_interval_s,
                             retry_mail=alerter.retry_mail)
        self.residents = ResidentSessions(self._desk_client, cache, letters, unit=k.unit,
                                          requests=requests)
        gate = PairingGate(credentials=Credentials(credentials.certificate, credentials.key),
                           trust=revocations.trust(), registry=registry, alerter=alerter,
                           kiosk_location=k.location_code,
                           handshake_timeout=k.handshake_timeout_s, terms=self.tablet_terms,
                           revocations=revocations,
                           sign=element.sign)
        self.dock = Dock(gate, cache, self.hw_config, location=k.location_code,
                         sessions=self.residents.kiosk_session, alerter=alerter, emit=self.emit,
                         firmware=lambda: firmware.dock_firmware(kiosk_key))
        firmware.quiet = lambda: not self.dock.busy()  # restart for a new image between docks
        self._badges = BadgeReader(k.badge_reader, lambda badge: self.emit(
            BadgeSwiped(badge))) if k.badge_reader else None
        self.maintenance = Maintenance(
            k, s, client=self._desk_client, cache=cache, dock=self.dock, alerts=self.alerts,
            service=self.service_state, lockout=LockoutFile(k.state_path / "lockout.json"),
            emit=self.emit, round_now=self.rounds.run_now, badges=self._badges,
            config_path=self.config_path)
        self.inbox = Inbox(cache)
        self._spawn("rounds", lambda: self.rounds.run(self._stop))
        self._spawn("dock-watch", lambda: self.dock.watch(self.rounds.first_done, self._stop))
        if self._badges is not None:
            self._badges.start()
        self.emit(Started(k.location_code, k.unit))

    def stop(self) -> None:
        self._stop.set()
        self.dock.stop()
        if self._badges is not None:
            self._badges.stop()
        for thread in self._threads:
            thread.join(10)
        self._rounds_client.close()
        self._desk_client.close()
        self.cache.close()
        self.emit(Stopped())

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def emit(self, event: Event) -> None:
        with self.emit_lock:  # one event at a time, whole
            self._emit_to(event)

    # -- the facade: the resident ----------------------------------------------------------

    @property
    def resident(self) -> Resident | None:
        return self.residents.resident

    def login(self, agency_id: str, pin: str) -> Answer[LoggedIn]:
        answer = self.residents.login(agency_id, pin)
        if answer.ok:
            self._terms_after_login()
        return answer

    def change_pin(self, old_pin: str, new_pin: str) -> Answer[LoggedIn]:
        answer = self.residents.change_pin(old_pin, new_pin)
        if answer.ok:
            self._terms_after_login()
        return answer

    def logout(self) -> None:
        self.residents.tell_server_logout(self.residents.end_session())

    def end_session(self) -> Resident | None:
        """Forget who is logged in at once; :meth:`tell_server_logout` tells the server."""
        return self.residents.end_session()

    def tell_server_logout(self, resident: Resident | None) -> None:
        self.residents.tell_server_logout(resident)

    def kiosk_session(self) -> KioskSession | None:
        return self.residents.kiosk_session()

    def home(self) -> Answer[Home]:
        return self.residents.home()

    def contacts(self) -> Answer[tuple[Contact, ...]]:
        return self.residents.contacts()

    def catalog(self, query: str = "") -> Answer[tuple[CatalogItem, ...]]:
        return self.residents.catalog(query)

    def entitlements(self) -> Answer[tuple[Entitlement, ...]]:
        return self.residents.entitlements()

    def offers(self) -> Answer[tuple[Offer, ...]]:
        return self.residents.offers()

    def tickets(self) -> Answer[tuple[Ticket, ...]]:
        return self.residents.tickets()

    def attempt(self, action: str, subject: str) -> Attempt:
        """The attempt at buying (``buy``, ``stamps``), moving money
        (``transfer``) or filing (``ticket``): the open one or a new one."""
        return self.residents.attempt(action, subject)

    def ticket_attempt(self, category: str, description: str) -> Attempt:
        return self.residents.attempt("ticket", ResidentSessions.ticket_subject(category,
                                                                                description))

    def buy(self, attempt: Attempt,
            expected_price_cents: int | None = None) -> Answer[tuple[Entitlement, ...]]:
        return self.residents.buy(attempt, expected_price_cents)

    def buy_stamps(self, attempt: Attempt) -> Answer[StampPurchase]:
        return self.residents.buy_stamps(attempt)

    def transfer(self, attempt: Attempt) -> Answer[Transfer]:
        return self.residents.transfer(attempt)

    def file_ticket(self, attempt: Attempt, *, category: str,
                    description: str) -> Answer[Ticket]:
        return self.residents.file_ticket(attempt, category=category, description=description,
                                          diagnostics=self.diagnostics_for_ticket())

    def write_letter(self, contact_id: int, body: str,
                     uid: str | None = None) -> Answer[LetterState]:
        return self.residents.write_letter(contact_id, body, uid)

    def request_attempt(self, type_: str, body: str) -> Attempt:
        """The attempt at filing this request: a second touch is the same one."""
        return self.residents.attempt("request", ResidentSessions.ticket_subject(type_, body))

    def file_request(self, attempt: Attempt, *, type_: str, body: str,
                     paper: bool = False, language: str = "en") -> Answer[FiledRequest]:
        """File an essential request (sent now, or kept for a round while the
        server is away) and, when ``paper``, print its copy on the kiosk's
        printer in ``language`` (the resident's): with the receipt number, or
        the kiosk's reference. Raises ValueError for a language the kiosk
        does not speak."""
        t = self.paper_words.speaking(language)
        answer = self.residents.file_request(attempt, type_=type_, body=body)
        resident = self.resident
        filed = answer.value
        if not paper or filed is None or resident is None or filed.state == REFUSED:
            return answer
        text = paper_copy(filed, body=body.strip(), name=resident.name,
                          agency_id=resident.agency_id, location=self.config.location_code,
                          days=self.cache.agency_policy().request_days(type_), t=t)
        problem = self.print_paper(text)
        return Answer.of(dataclasses.replace(filed, printed=not problem, print_problem=problem),
                         online=answer.online)

    def requests(self) -> Answer[tuple[RequestLine, ...]]:
        return self.residents.requests_list()

    def print_paper(self, text: str) -> str:
        """Print ``text`` on the kiosk's printer: "" when it printed, else why not."""
        if not self.config.printer:
            return N_("This kiosk has no printer.")
        try:
            print_text(self.config.printer, text)
        except HwError as e:
            log.warning("the printer %s: %s", self.config.printer, e)
            return N_("The printer is not working.")
        return ""

    def agency_policy(self) -> AgencyPolicy:
        """The agency's prices and limits as the last round brought them."""
        return self.cache.agency_policy()

    def blob_bytes(self, sha256: str) -> bytes | None:
        """A photo or videogram of the resident's messages, opened in memory
        (the cache holds it sealed); None when it is not here or does not open."""
        try:
            return self.cache.blob_bytes(sha256)
        except CacheError as e:
            log.warning("a file cannot be shown: %s", e)
            return None

    def terms_text(self, language: str = "en") -> str:
        """The terms in ``language`` with the agency's numbers, as shown."""
        return render(language, self.cache.agency_policy())

    def terms_accepted(self) -> bool:
        """Whether the resident logged in accepted the terms as they read now
        (in either language), here or (as the server said at login) elsewhere."""
        resident = self.resident
        return resident is not None and any(
            self.terms.accepted(resident.agency_id, digest(self.terms_text(language)))
            for language in TEXT)

    def accept_terms(self, language: str = "en") -> Answer[str]:
        """Accept the terms shown in ``language``: recorded on the server with
        the text's SHA-256 (the answer), or, while it is away, noted here and
        sent at the resident's next login."""
        resident = self.resident
        if resident is None or not resident.ready:
            return not_logged_in()
        text = self.terms_text(language)
        sha = digest(text)
        answer = self.residents.call(lambda r: self._desk_client.accept_terms(
            r.token, text=text, language=language))
        if answer.ok:
            self.terms.accept(resident.agency_id, sha)
            return Answer.of(sha)
        if answer.code != OFFLINE:
            return Answer.no(answer.code, answer.message)
        self.terms.accept(resident.agency_id, sha,
                          unsent=Unsent(resident.agency_id, sha, language, text))
        return Answer.of(sha, online=False)

    def _terms_after_login(self) -> None:
        """Send the acceptances kept while the server was away, and learn
        which terms the resident accepted at other kiosks."""
        resident = self.resident
        if resident is None or not resident.ready:
            return
        try:
            for unsent in self.terms.unsent(resident.agency_id):
                self._desk_client.accept_terms(resident.token, text=unsent.text,
                                               language=unsent.language)
            self.terms.learn(resident.agency_id,
                             self._desk_client.accepted_terms(resident.token))
        except CentralClientError as e:
            log.info("the terms accepted by %s are not checked with the server now: %s",
                     resident.agency_id, e)

    def diagnostics_for_ticket(self) -> dict[str, Any]:
        """What a trouble ticket carries from this kiosk (no one else's data)."""
        resident = self.resident
        tablets = []
        if resident is not None:
            tablets = [{"serial": t["serial"], "status": t["status"],
                        "last_sync_at": t["last_sync_at"]}
                       for t in self.cache.status()["tablets"]
                       if t["resident_id"] == resident.resident_id]
        return {"kiosk": self.config.location_code, "unit": self.config.unit,
                "central_online": self.rounds.online, "tablets": tablets,
                "docked_now": len(self.dock.busy()), "at": int(time.time())}

    # -- the facade: the kiosk itself --------------------------------------------------------

    def tablet_terms(self) -> TabletTerms:
        """What every genuine tablet is told at its dock (device_security.pairing)."""
        policy = self.cache.agency_policy()
        return TabletTerms(unit=self.config.unit, lock_after_days=policy.tablet_lock_days,
                           stamps_per_message=policy.stamps_per_message,
                           out_of_service_since=self.service_state.out_of_service_since())

    def out_of_service_since(self) -> int | None:
        return self.service_state.out_of_service_since()

    def run_round(self) -> Round:
        return self.rounds.run_now()

    @property
    def online(self) -> bool | None:
        return self.rounds.online

    def status(self) -> dict[str, Any]:
        """For ``headless``'s status: where the kiosk is, who is here, the cache."""
        resident = self.resident
        return {"online": self.rounds.online, "location": self.config.location_code,
                "unit": self.config.unit,
                "resident": resident.agency_id if resident is not None else None,
                "docks": self.dock.busy(), "cache": self.cache.status()}

    # -- the facade: the maintenance menu ----------------------------------------------------

    def technician_pin_ok(self, pin: str) -> bool:
        return self.maintenance.technician_pin_ok(pin)

    def technician_badge_ok(self, badge: str) -> bool:
        return self.maintenance.technician_badge_ok(badge)

    def staff_sign_in(self, username: str, password: str) -> Answer[None]:
        return self.maintenance.staff_sign_in(username, password)

    def staff_sign_out(self) -> None:
        self.maintenance.staff_sign_out()

    def change_tablet(self, serial: str, *, assign_to: str | None = None,
                      status: str | None = None) -> Answer[None]:
        return self.maintenance.change_tablet(serial, assign_to=assign_to, status=status)

    def diagnostics(self) -> list[Check]:
        return self.maintenance.diagnostics()

    def event_log(self, lines: int = 80) -> str:
        return self.maintenance.event_log(lines)

    def alerts_here(self) -> list[AlertHere]:
        return self.maintenance.alerts_here()

    def tablets_here(self) -> list[TabletHere]:
        return self.maintenance.tablets_here()

    def configuration(self) -> dict[str, str]:
        return self.maintenance.configuration()

    def save_configuration(self, *, location_code: str, unit: str,
                           central_url: str) -> Answer[None]:
        return self.maintenance.save_configuration(location_code=location_code, unit=unit,
                                                   central_url=central_url)

    def set_in_service(self, in_service: bool) -> int | None:
        return self.maintenance.set_in_service(in_service)

    def test_print(self) -> str:
        return self.maintenance.test_print()

    def archive_to_stick(self, resident_agency_id: str,
                         progress: Progress | None = None) -> Answer[StickWritten]:
        return self.maintenance.archive_to_stick(resident_agency_id, progress)

