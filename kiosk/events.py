"""What the kiosk's work tells its screen (and ``sallyport kiosk headless``):
typed events, raised on the kiosk's own threads and passed to one ``emit``
callback; the screen hears them through Kivy's clock."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    """Base of every event; ``name`` is what ``headless`` prints as "event"."""

    name: ClassVar[str] = "event"
    at: float = field(default_factory=lambda: round(time.time(), 3), kw_only=True)

    def as_json(self) -> dict[str, Any]:
        return {"event": self.name, **dataclasses.asdict(self)}


Emit = Callable[[Event], None]


@dataclass(frozen=True)
class Started(Event):
    name: ClassVar[str] = "started"
    location: str
    unit: str


@dataclass(frozen=True)
class Stopped(Event):
    name: ClassVar[str] = "stopped"


@dataclass(frozen=True)
class BadgeSwiped(Event):
    """A badge on the kiosk's reader (a technician's opens the maintenance menu)."""

    name: ClassVar[str] = "badge"
    badge: str


@dataclass(frozen=True)
class CentralChanged(Event):
    """The central server answers again, or no longer does."""

    name: ClassVar[str] = "central"
    online: bool
    error: str = ""


@dataclass(frozen=True)
class RoundDone(Event):
    """A round with the central server moved something (or failed)."""

    name: ClassVar[str] = "round"
    online: bool
    sent_alerts: int = 0
    sent_drafts: int = 0
    refused_drafts: int = 0
    sent_receipts: int = 0
    records: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    error: str = ""


@dataclass(frozen=True)
class DockReady(Event):
    """The kiosk watches its dock ports (after its first round)."""

    name: ClassVar[str] = "dock_ready"


@dataclass(frozen=True)
class Plugged(Event):
    name: ClassVar[str] = "plugged"
    usb_serial: str | None
    port: str


@dataclass(frozen=True)
class Unplugged(Event):
    name: ClassVar[str] = "unplugged"
    usb_serial: str | None
    port: str


@dataclass(frozen=True)
class PairingDecided(Event):
    """Allowed, or refused with a reason code (device_security.reasons)."""

    name: ClassVar[str] = "pairing"
    usb_serial: str | None
    serial: str | None
    allowed: bool
    reason: str | None
    detail: str
    alerted: bool


@dataclass(frozen=True)
class SyncProgress(Event):
    """One step of a sync: ``phase`` is outbox, messages, files or done."""

    name: ClassVar[str] = "progress"
    phase: str
    item: str
    items_done: int
    items_total: int
    bytes_done: int
    bytes_total: int


@dataclass(frozen=True)
class Docked(Event):
    """A dock ended: synced or not (``problem`` says why not), safe to unplug."""

    name: ClassVar[str] = "docked"
    usb_serial: str | None
    paired: bool
    synced: bool
    safe_to_unplug: bool = True
    problem: str | None = None
    records: int = 0
    files: int = 0
    drafts_up: int = 0
    drafts_left: int = 0  # drafts the tablet keeps for its next dock (the dock's bounds)


@dataclass(frozen=True)
class ServiceChanged(Event):
    """A technician took the kiosk out of service, or put it back."""

    name: ClassVar[str] = "service"
    in_service: bool
    since: int | None
