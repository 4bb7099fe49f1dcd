"""What the screens read and do, behind plain Python objects (no Kivy here),
so the app runs on a simulated tablet, a real one, or a test's fixtures."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tablet.library import Library, Track


@dataclass(frozen=True)
class DeviceStatus:
    serial: str
    battery_pct: int | None  # None: the battery cannot be read
    storage_used: int  # bytes of synced content
    storage_free: int
    last_sync_at: int | None  # seconds since the epoch; None: never docked


@dataclass(frozen=True)
class LockView:
    """The lock state as the resident reads it."""

    mode: str  # open, locked, released
    can_compose: bool
    explanation: str


class PlayerLike(Protocol):
    """What the player screen needs of the media player."""

    def play(self, tracks: list[Track], start: int = 0) -> None: ...
    def toggle(self) -> None: ...
    def next(self) -> None: ...
    def previous(self) -> None: ...
    def seek(self, seconds: float) -> None: ...
    def set_volume(self, volume: int) -> None: ...
    def snapshot(self) -> dict[str, Any]: ...


@dataclass
class TabletContext:
    library: Library
    status: Callable[[], DeviceStatus]
    lock: Callable[[], LockView]
    player: PlayerLike | None = None
    # Something that changes when the content does (a dock elsewhere): the app
    # looks every few seconds and redraws the screen shown. None: never changes.
    version: Callable[[], object] | None = None


def when(at: int | None) -> str:
    """A time as a resident reads it: 'never', or like 'Mon 23 Nov, 14:05'."""
    if not at:
        return "never"
    return datetime.datetime.fromtimestamp(at).strftime("%a %d %b, %H:%M")


def battery_text(pct: int | None) -> str:
    return "unknown" if pct is None else f"{pct}%"


def size_text(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
