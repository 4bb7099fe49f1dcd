"""What the screens read and do, behind plain Python objects (no Kivy here),
so the app runs on a simulated tablet, a real one, or a test's fixtures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tablet.library import Library, Track
from tablet.settings import Settings


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
    explanation: str  # in English
    template: str | None = None  # the explanation to translate, with {days}
    days: int | None = None


class SpeakerLike(Protocol):
    """What the screens need to read aloud (tablet.speech.Speaker)."""

    @property
    def speaking(self) -> bool: ...
    def say(self, text: str, language: str) -> None: ...
    def stop(self) -> None: ...


class SettingsLike(Protocol):
    """Where the resident's reading settings are kept (tablet.settings.SettingsFile)."""

    def load(self, owner: str | None = None) -> Settings: ...
    def save(self, settings: Settings) -> None: ...


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
    speaker: SpeakerLike | None = None  # None: reading aloud is not offered
    settings: SettingsLike | None = None  # None: settings last until the app closes
    # Whether the agency left a feature on (its switches, as of the last dock).
    # None: every feature is on.
    features: Callable[[str], bool] | None = None


def size_text(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
