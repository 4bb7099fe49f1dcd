"""The player screen's side of :class:`tablet.player.Player`: the library's
tracks in, a snapshot out (what the screen draws twice a second)."""

from __future__ import annotations

from typing import Any

from tablet.library import Library
from tablet.library import Track as ShelfTrack
from tablet.player import Player, Playlist, Track


class Playback:
    """Adapts a :class:`Player` to what the screens call (``PlayerLike``);
    the tracks' bytes stream from the library's sealed store."""

    def __init__(self, player: Player, library: Library) -> None:
        self.player = player
        self.library = library
        self._shown: dict[str, ShelfTrack] = {}

    def play(self, tracks: list[ShelfTrack], start: int = 0) -> None:
        chosen = [t for t in tracks if t.playable]
        self._shown = {t.sha256: t for t in chosen}
        self.player.play(Playlist(tuple(
            Track(self.library.media(t.sha256), t.title, t.artist, t.album,
                  "video" if t.kind in ("music_video", "videogram") else "song",
                  float(t.duration_s) or None, t.item_id)
            for t in chosen)), start)

    def toggle(self) -> None:
        self.player.toggle_pause()

    def next(self) -> None:
        self.player.next()

    def previous(self) -> None:
        self.player.previous()

    def seek(self, seconds: float) -> None:
        duration = self.player.duration()
        if duration is not None:
            seconds = min(seconds, max(0.0, duration - 0.5))  # the slider may know less
        self.player.seek(max(0.0, seconds))

    def set_volume(self, volume: int) -> None:
        self.player.set_volume(volume)

    def snapshot(self) -> dict[str, Any]:
        status = self.player.status()
        track = self._shown.get(status.track.name) if status.track else None
        return {"track": track, "state": str(status.state), "error": status.error,
                "position": self.player.position(), "duration": self.player.duration(),
                "volume": self.player.volume}
