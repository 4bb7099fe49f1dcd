"""The resident at the kiosk: log in with ID and PIN through the central
server (the first-login PIN change included), act for them with their
session token (the kiosk's certificate goes along on every call; the server
checks both), and forget them at once at logout.

Answers the server gave are kept for a few things (home, contacts), so the
screen can show them, marked as of when, while the server is away. Actions
that move money or file something carry an idempotency key made here
(:meth:`ResidentSessions.attempt`): asked again before the server has
answered for sure, the same thing is the same attempt, so it happens once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from device_security.policy import KioskSession
from kiosk.answers import (
    OFFLINE,
    Answer,
    Attempt,
    FiledRequest,
    LetterState,
    LoggedIn,
    RequestLine,
    not_logged_in,
)
from kiosk.cache import SENT, CacheError, KioskCache
from kiosk.central_client import CentralClient, CentralRefused, CentralUnavailable
from kiosk.letters import Letters
from kiosk.records import (
    BadAnswer,
    CatalogItem,
    Contact,
    Entitlement,
    EssentialRequest,
    Home,
    Offer,
    StampPurchase,
    Ticket,
    Transfer,
    parse,
    parse_list,
)
from kiosk.requests import PREA, Requests

log = logging.getLogger(__name__)
T = TypeVar("T")

OFFLINE_MESSAGE = "The central server cannot be reached right now; try again in a few minutes."


@dataclass(frozen=True)
class Resident:
    """Who is logged in, as the central server knows them."""

    token: str
    expires_at: int
    must_change_pin: bool
    resident_id: int = 0  # the rest is known once the PIN is the resident's own
    agency_id: str = ""
    name: str = ""
    language: str = "en"

    @property
    def ready(self) -> bool:
        """Logged in for good: the first-login PIN change is behind them."""
        return not self.must_change_pin and bool(self.agency_id)


class ResidentSessions:
    """Who is logged in at one kiosk, and their calls. ``client`` is the
    residents' connection to the central server; ``cache`` keeps answers for
    while it is away; ``letters`` sends what they write."""

    def __init__(self, client: CentralClient, cache: KioskCache, letters: Letters, *,
                 unit: str, requests: Requests | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.cache = cache
        self.letters = letters
        self.requests = requests or Requests(client, cache)
        self.unit = unit
        self._clock = clock
        self._lock = threading.Lock()
        self._resident: Resident | None = None
        self._attempts: dict[tuple[int, str, str], str] = {}

    @property
    def resident(self) -> Resident | None:
        with self._lock:
            return self._resident

    # -- logging in and out ---------------------------------------------------------------

    def login(self, agency_id: str, pin: str) -> Answer[LoggedIn]:
        """Log a resident in; the answer says whether a new PIN is needed first."""
        try:
            grant = self.client.resident_login(agency_id, pin)
            resident = Resident(grant.token, grant.expires_at, grant.must_change_pin)
            if not resident.must_change_pin:
                resident = self._known(resident)
        except CentralRefused as e:
            return Answer.no(e.code, e.message)
        except CentralUnavailable:
            return Answer.no(OFFLINE, "The central server cannot be reached; try again "
                             "shortly.")
        self._logged_in(resident)
        log.info("resident %s logged in%s", resident.agency_id or agency_id,
                 " (must choose a new PIN)" if resident.must_change_pin else "")
        return Answer.of(LoggedIn(resident.must_change_pin, resident.name, resident.agency_id))

    def change_pin(self, old_pin: str, new_pin: str) -> Answer[LoggedIn]:
        """The first-login PIN change: the one-time PIN, then their own."""
        resident = self.resident
        if resident is None:
            return not_logged_in()
        try:
            self.client.change_pin(resident.token, old_pin, new_pin)
            done = self._known(Resident(resident.token, resident.expires_at, False))
        except CentralRefused as e:
            return Answer.no(e.code, e.message)
        except CentralUnavailable:
            return Answer.no(OFFLINE, "The central server cannot be reached; try again "
                             "shortly.")
        self._logged_in(done)
        return Answer.of(LoggedIn(False, done.name, done.agency_id))

    def _known(self, resident: Resident) -> Resident:
        home = self.client.home(resident.token)
        return Resident(resident.token, resident.expires_at, False, home.resident_id,
                        home.agency_id, home.name, home.language or "en")

    def _logged_in(self, resident: Resident) -> None:
        with self._lock:
            self._resident = resident
            self._attempts.clear()
        if resident.ready:
            self.letters.renew(resident.resident_id, resident.token)
            self.requests.renew(resident.resident_id, resident.token)

    def end_session(self) -> Resident | None:
        """Forget who is logged in, at once (docking and calls are no longer
        theirs); returns them, for :meth:`tell_server_logout`."""
        with self._lock:
            resident, self._resident = self._resident, None
            self._attempts.clear()
        return resident

    def tell_server_logout(self, resident: Resident | None) -> None:
        """End a forgotten session on the server too (it may be slow or away)."""
        if resident is None:
            return
        try:
            self.client.resident_logout(resident.token)
        except Exception as e:  # noqa: BLE001 - the kiosk forgets them either way
            log.info("logout not confirmed by the server: %s", e)

    def kiosk_session(self) -> KioskSession | None:
        """Who docking is for: a resident logged in for good, or nobody. (The
        server logs residents in only on their own unit.)"""
        resident = self.resident
        if resident is None or not resident.ready:
            return None
        return KioskSession(resident.agency_id, resident.name, frozenset({self.unit}),
                            self.unit)

    # -- their calls ------------------------------------------------------------------------

    def call(self, work: Callable[[Resident], T]) -> Answer[T]:
        """``work`` for the resident logged in, its refusal or failure as an answer."""
        resident = self.resident
        if resident is None or not resident.ready:
            return not_logged_in()
        try:
            return Answer.of(work(resident))
        except CentralRefused as e:
            return Answer.no(e.code, e.message, unsure=not e.final)
        except CentralUnavailable:
            return Answer.no(OFFLINE, OFFLINE_MESSAGE, unsure=True)

    def home(self) -> Answer[Home]:
        """Balances and tablets; while the server is away, the last ones read here."""
        return self._kept("home", lambda r: self.client.home(r.token),
                          lambda data: parse(Home, data))

    def contacts(self) -> Answer[tuple[Contact, ...]]:
        """The approved contacts (the last list read here while the server is away)."""
        return self._kept("contacts", lambda r: self.client.contacts(r.token),
                          lambda data: parse_list(Contact, data))

    def catalog(self, query: str = "") -> Answer[tuple[CatalogItem, ...]]:
        return self.call(lambda r: self.client.catalog(r.token, query))

    def entitlements(self) -> Answer[tuple[Entitlement, ...]]:
        return self.call(lambda r: self.client.entitlements(r.token))

    def offers(self) -> Answer[tuple[Offer, ...]]:
        return self.call(lambda r: self.client.offers(r.token))

    def tickets(self) -> Answer[tuple[Ticket, ...]]:
        return self.call(lambda r: self.client.tickets(r.token))

    def write_letter(self, contact_id: int, body: str,
                     uid: str | None = None) -> Answer[LetterState]:
        resident = self.resident
        if resident is None or not resident.ready:
            return not_logged_in()
        return self.letters.write(resident_id=resident.resident_id, token=resident.token,
                                  contact_id=contact_id, body=body, uid=uid)

    def file_request(self, attempt: Attempt, *, type_: str, body: str) -> Answer[FiledRequest]:
        """File an essential request under the attempt's key: sent now, or
        kept here for a round while the server is away."""
        resident = self.resident
        if resident is None or not resident.ready:
            return not_logged_in()
        answer = self.requests.file(resident_id=resident.resident_id, token=resident.token,
                                    type_=type_, body=body, uid=attempt.key)
        with self._lock:  # filed or kept: the next request is a new one
            if self._attempts.get((resident.resident_id, attempt.action,
                                   attempt.subject)) == attempt.key:
                del self._attempts[(resident.resident_id, attempt.action, attempt.subject)]
        return answer

    def requests_list(self) -> Answer[tuple[RequestLine, ...]]:
        """The resident's essential requests: those still kept here, then the
        server's, newest first. While the server is away, those kept here
        and the server's list as last read here, without their words (none
        are kept at the kiosk): ``online`` False, ``as_of`` when it was read."""
        resident = self.resident
        if resident is None or not resident.ready:
            return not_logged_in()
        waiting = tuple(RequestLine(f.type, f.reference, f.state, f.written_at, None,
                                    "" if f.type == PREA else f.note)
                        for f in self.requests.here(resident.resident_id) if f.state != SENT)
        kept = self._kept("requests", lambda r: tuple(
            _line(q) for q in self.client.requests(r.token)),
            lambda data: parse_list(RequestLine, data),
            keep=lambda lines: tuple(dataclasses.replace(line, text="", answer="")
                                     for line in lines))
        if kept.ok and kept.value is not None:
            return Answer(True, waiting + kept.value, online=kept.online, as_of=kept.as_of)
        if kept.code == OFFLINE:
            return Answer.of(waiting, online=False)
        return kept

    # -- what moves money or files something: under an attempt's key ---------------------

    def attempt(self, action: str, subject: str) -> Attempt:
        """The attempt at ``action`` on ``subject`` (a catalog item, an offer, an
        amount, a ticket's text): the one still open, with its key, or a new one."""
        resident = self.resident
        who = resident.resident_id if resident is not None else 0
        with self._lock:
            key = self._attempts.setdefault((who, action, subject),
                                            f"kiosk-{action}-" + secrets.token_urlsafe(12))
        return Attempt(action, subject, key)

    def buy(self, attempt: Attempt,
            expected_price_cents: int | None = None) -> Answer[tuple[Entitlement, ...]]:
        """Buy catalog item ``attempt.subject`` with prepaid funds, at the price
        shown (``expected_price_cents``: a price changed since is refused)."""
        return self._settled(attempt, lambda r: self.client.buy(
            r.token, attempt.subject, attempt.key, expected_price_cents))

    def buy_stamps(self, attempt: Attempt) -> Answer[StampPurchase]:
        """Buy stamp bundle ``attempt.subject`` with prepaid funds."""
        return self._settled(attempt, lambda r: self.client.buy_stamps(
            r.token, attempt.subject, attempt.key))

    def transfer(self, attempt: Attempt) -> Answer[Transfer]:
        """Move ``attempt.subject`` cents from trust to prepaid."""
        amount = int(attempt.subject)
        return self._settled(attempt, lambda r: self.client.transfer(r.token, amount,
                                                                     attempt.key))

    def file_ticket(self, attempt: Attempt, *, category: str, description: str,
                    diagnostics: Mapping[str, Any]) -> Answer[Ticket]:
        return self._settled(attempt, lambda r: self.client.file_ticket(
            r.token, uid=attempt.key, category=category, description=description,
            diagnostics=diagnostics))

    @staticmethod
    def ticket_subject(category: str, description: str) -> str:
        """What makes two tickets the same attempt: their category and text."""
        return f"{category}:{hashlib.sha256(description.encode()).hexdigest()[:16]}"

    def _settled(self, attempt: Attempt, work: Callable[[Resident], T]) -> Answer[T]:
        """Do an attempt; once the server has answered for sure, the next
        attempt at the same thing is a new one."""
        answer = self.call(work)
        if not answer.unsure:
            resident = self.resident
            who = resident.resident_id if resident is not None else 0
            with self._lock:
                if self._attempts.get((who, attempt.action, attempt.subject)) == attempt.key:
                    del self._attempts[(who, attempt.action, attempt.subject)]
        return answer

    def _kept(self, name: str, work: Callable[[Resident], T], read: Callable[[Any], T],
              keep: Callable[[T], T] | None = None) -> Answer[T]:
        """A call whose answer is kept in the cache (``keep``: only what it
        returns of it), and given (``online`` False, with ``as_of``) while the
        server cannot be reached."""
        resident = self.resident
        answer = self.call(work)
        if resident is None or not resident.ready:
            return answer
        key = f"{name}:{resident.resident_id}"
        if answer.ok:
            now = int(self._clock())
            value = answer.get()
            self.cache.keep(key, json.dumps({"value": _plain(keep(value) if keep else value),
                                             "as_of": now}))
            return Answer.of(answer.get(), as_of=now)
        if answer.code != OFFLINE:
            return answer
        try:
            kept = self.cache.kept(key)
            if kept:
                data = json.loads(kept)
                return Answer.of(read(data["value"]), online=False, as_of=int(data["as_of"]))
        except (ValueError, KeyError, TypeError, BadAnswer, CacheError) as e:
            log.warning("the kept %s of resident %d cannot be read: %s", name,
                        resident.resident_id, e)
        return answer


def _line(r: EssentialRequest) -> RequestLine:
    """A request from the server as the resident's list shows it; a PREA
    report's words and answers are not shown at the kiosk."""
    prea = r.type == PREA
    return RequestLine(r.type, r.receipt, r.status, r.created_at, r.due_at,
                       "" if prea else r.body, "" if prea else r.last_answer)


def _plain(value: Any) -> Any:
    """A record (or a tuple of records) as JSON values."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value
