"""What the kiosk's service answers its screen: typed answers, never dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

NOT_LOGGED_IN = "not_logged_in"
OFFLINE = "offline"


@dataclass(frozen=True)
class Answer(Generic[T]):
    """The answer to a call: ``value`` when ``ok``; otherwise ``code`` and a
    ``message`` a resident can read. ``unsure`` is True when nobody knows
    whether the server did it (it was away, busy with the same request, or
    failed itself): asked again, the same :class:`Attempt` must be used.
    ``online`` is False for an answer the kiosk kept from earlier, read
    while the server is away (``as_of`` says when it was fresh)."""

    ok: bool
    value: T | None = None
    code: str = ""
    message: str = ""
    unsure: bool = False
    online: bool = True
    as_of: int | None = None

    @classmethod
    def of(cls, value: T, *, online: bool = True, as_of: int | None = None) -> Answer[T]:
        return cls(True, value, online=online, as_of=as_of)

    @classmethod
    def no(cls, code: str, message: str, *, unsure: bool = False) -> Answer[T]:
        return cls(False, None, code, message, unsure)

    def get(self) -> T:
        """The value of an answer that is ``ok``. Raises ValueError otherwise."""
        if not self.ok or self.value is None:
            raise ValueError(f"no value: {self.code} {self.message}".strip())
        return self.value


def not_logged_in() -> Answer[T]:
    return Answer.no(NOT_LOGGED_IN, "Log in first.")


@dataclass(frozen=True)
class Attempt:
    """One thing a resident asked for (a purchase, a transfer, stamps, a
    ticket), under an idempotency key the service made. Until the server has
    answered it for sure, asking for the same thing again is the same
    attempt, with the same key, so it happens once however often it is sent."""

    action: str
    subject: str
    key: str


@dataclass(frozen=True)
class LoggedIn:
    """Who logged in: the name and ID once the PIN is their own."""

    must_change_pin: bool
    name: str = ""
    agency_id: str = ""


@dataclass(frozen=True)
class LetterState:
    """A letter written at this kiosk: ``sent``, ``queued`` (for a round),
    ``waiting_login`` (its writer's session ended) or ``refused`` (with why)."""

    uid: str
    state: str
    note: str = ""


@dataclass(frozen=True)
class FiledRequest:
    """An essential request filed at this kiosk: ``sent`` (``receipt`` is the
    server's number, ``due_at`` its deadline), ``queued`` (for a round;
    ``reference`` is what its paper copy says), ``waiting_login`` (its
    writer's session ended) or ``refused`` (``note`` says why). ``printed``:
    its paper copy came out of the printer (``print_problem`` says why not)."""

    uid: str
    type: str
    state: str
    reference: str
    written_at: int
    receipt: str = ""
    due_at: int | None = None
    note: str = ""
    printed: bool = False
    print_problem: str = ""

    @property
    def number(self) -> str:
        """What the resident quotes: the receipt number, or the kiosk's reference."""
        return self.receipt or self.reference


@dataclass(frozen=True)
class RequestLine:
    """One of a resident's essential requests as their list shows it:
    ``status`` is the server's (filed, answered, escalated, resolved) or the
    kiosk's (queued, waiting_login, refused) for one not yet up. ``text`` and
    ``answer`` are empty for a PREA report: nothing of its words is shown
    at the kiosk once it is sent."""

    type: str
    number: str
    status: str
    filed_at: int
    due_at: int | None
    text: str = ""
    answer: str = ""


@dataclass(frozen=True)
class StickWritten:
    """A released resident's archive, written to the USB stick and read back
    whole: the file's name on the stick, its size, how many files the zip
    holds, and its SHA-256."""

    name: str
    size: int
    files: int
    sha256: str


@dataclass(frozen=True)
class Check:
    """One diagnostic a technician reads first."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class AlertHere:
    """An alert raised at this kiosk, as the maintenance menu lists it."""

    raised_at: str
    reason: str
    tablet_serial: str | None
    resident_id: str | None
    state: str


@dataclass(frozen=True)
class TabletHere:
    """A tablet of this unit, as the kiosk's cache knows it."""

    serial: str
    status: str
    resident_agency_id: str | None
    last_sync_at: int | None
