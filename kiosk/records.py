"""What the central server tells the kiosk, as typed records: each answer is
checked field by field when it arrives (kiosk/central_client.py), so the
rest of the kiosk never reads an unchecked dict from the network."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

MAX_TEXT = 20_000  # characters of any text field the kiosk takes from the server
MAX_ITEMS = 10_000  # entries of any list

R = TypeVar("R")


class BadAnswer(ValueError):
    """An answer that is not what the server's API promises; the message
    names the record and the field."""


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _value(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _value(inner[0], value, where)
    if hint is Any:
        return value
    if origin is tuple:
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise BadAnswer(f"{where}: not a list of at most {MAX_ITEMS}")
        return tuple(_value(args[0], item, f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise BadAnswer(f"{where}: not a map")
        return value
    if dataclasses.is_dataclass(hint):
        return parse(typing.cast(type, hint), value, where)
    if hint is bool:
        if type(value) is not bool:
            raise BadAnswer(f"{where}: not true or false ({str(value)[:40]!r})")
        return value
    if hint is int:
        if type(value) is not int or not -(2**63) <= value < 2**63:
            raise BadAnswer(f"{where}: not a whole number ({str(value)[:40]!r})")
        return value
    if hint is str:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise BadAnswer(f"{where}: not a text of at most {MAX_TEXT} characters")
        return value
    raise TypeError(f"{where}: no reader for {hint!r}")  # a record declared wrongly


def parse(cls: type[R], value: Any, where: str = "") -> R:
    """``value`` (decoded JSON) as a ``cls`` record: every field present (or
    defaulted) and of its declared type; keys the record does not know are
    left out. Raises BadAnswer."""
    where = where or cls.__name__
    if not isinstance(value, dict):
        raise BadAnswer(f"{where}: not a map")
    out: dict[str, Any] = {}
    for f in dataclasses.fields(typing.cast(Any, cls)):
        if f.name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise BadAnswer(f"{where}.{f.name}: missing")
            continue
        hint = _hints(typing.cast(type, cls))[f.name]
        out[f.name] = _value(hint, value[f.name], f"{where}.{f.name}")
    return cls(**out)


def parse_list(cls: type[R], value: Any, where: str = "") -> tuple[R, ...]:
    where = where or cls.__name__
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise BadAnswer(f"{where}: not a list of at most {MAX_ITEMS}")
    return tuple(parse(cls, item, f"{where}[{i}]") for i, item in enumerate(value))


# -- a resident's session and home ------------------------------------------------------------


@dataclass(frozen=True)
class SessionGrant:
    """A login's answer: the session token, until when, and whether the PIN
    given was the one-time first PIN."""

    token: str
    expires_at: int
    must_change_pin: bool = False


@dataclass(frozen=True)
class TabletOnRecord:
    serial: str
    status: str
    last_dock_at: int | None = None


@dataclass(frozen=True)
class Home:
    """A resident's balances and tablets."""

    resident_id: int
    agency_id: str
    name: str
    language: str
    stamps: int
    prepaid_cents: int
    trust_cents: int | None = None
    trust_note: str | None = None
    feed_head: int = 0
    tablets: tuple[TabletOnRecord, ...] = ()


@dataclass(frozen=True)
class Contact:
    id: int
    name: str
    relationship: str


# -- the store and money ----------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogItem:
    id: str
    kind: str
    title: str
    artist: str
    price_cents: int  # what this resident pays: tracks they own are not charged again
    label: str = ""
    album_id: str | None = None
    duration_s: int = 0
    list_price_cents: int | None = None
    tracks: int = 1
    owned_tracks: int = 0

    @property
    def owned(self) -> bool:
        """Every file of it is the resident's already."""
        return self.tracks > 0 and self.owned_tracks >= self.tracks


@dataclass(frozen=True)
class Entitlement:
    """A purchase and where its file is: paid, at the kiosk, on the tablet, refunded."""

    id: int
    item_id: str
    title: str
    kind: str
    price_cents: int
    state: str
    created_at: int
    updated_at: int = 0
    sha256: str | None = None


@dataclass(frozen=True)
class Offer:
    """A stamp bundle the agency sells."""

    id: str
    stamps: int
    price_cents: int
    valid_days: int | None = None


@dataclass(frozen=True)
class StampPurchase:
    stamps: int
    price_cents: int
    expires_at: int | None = None
    replayed: bool = False


@dataclass(frozen=True)
class Transfer:
    amount_cents: int
    prepaid_cents: int
    trust_cents: int | None = None
    replayed: bool = False


@dataclass(frozen=True)
class Sent:
    """A message taken by the server."""

    message_id: int
    uid: str
    status: str
    stamps: int
    replayed: bool = False


# -- tickets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketEvent:
    at: int
    kind: str
    text: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Ticket:
    id: int
    uid: str
    category: str
    description: str
    status: str
    created_at: int
    due_at: int
    escalated_at: int | None = None
    resolved_at: int | None = None
    history: tuple[TicketEvent, ...] = ()

    @property
    def last_answer(self) -> str:
        """The newest text in its history (a staff reply, say), or ""."""
        texts = [e.text for e in self.history if e.text]
        return texts[-1] if texts else ""


# -- essential requests -----------------------------------------------------------------------


@dataclass(frozen=True)
class EssentialRequest:
    """A medical, grievance, PREA, legal or records request as the server
    holds it, with its receipt number, deadline and history."""

    id: int
    uid: str
    receipt: str
    type: str
    body: str
    source: str
    status: str
    created_at: int
    due_at: int
    kiosk_reference: str | None = None
    written_at: int | None = None
    escalated_at: int | None = None
    resolved_at: int | None = None
    history: tuple[TicketEvent, ...] = ()

    @property
    def last_answer(self) -> str:
        """The newest staff reply, or ""."""
        texts = [e.text for e in self.history if e.text and e.kind == "reply"]
        return texts[-1] if texts else ""


# -- the agency's rules, as the kiosk keeps them ----------------------------------------------


@dataclass(frozen=True)
class AgencyPolicy:
    """The agency's prices and tablet rules for this kiosk's unit
    (``GET /v1/kiosk/policy``); the defaults hold until the first round."""

    agency_id: str = ""
    stamps_per_message: int = 1
    stamps_per_photo: int = 0
    stamps_per_videogram: int = 0
    stamps_per_attachment: int = 0
    max_message_chars: int = 4000
    transfer_min_cents: int = 500
    transfer_max_cents: int = 20_000
    transfer_step_cents: int = 500
    refund_window_days: int = 14
    tablet_lock_days: int | None = None  # None: not heard from the server yet
    ticket_resolution_days: int = 14
    request_days_medical: int = 2
    request_days_grievance: int = 15
    request_days_prea: int = 1
    request_days_legal: int = 5
    request_days_records: int = 10

    def request_days(self, type_: str) -> int:
        """Days staff have to answer an essential request of ``type_``."""
        return int(getattr(self, f"request_days_{type_}", self.request_days_grievance))
