"""Now playing: the track, where it is, and play/pause, previous, next, seek
and volume. The player reports from its own thread; this screen looks twice
a second (on Kivy's clock) and draws what it finds."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen


def clock_text(seconds: float) -> str:
    minutes, rest = divmod(int(max(0, seconds)), 60)
    return f"{minutes}:{rest:02d}"


class PlayerScreen(Screen):
    track_title = StringProperty("Nothing playing")
    track_detail = StringProperty("Choose a song, an album or a videogram.")
    position = NumericProperty(0)
    length = NumericProperty(1)
    times = StringProperty("")
    playing = BooleanProperty(False)
    volume = NumericProperty(80)
    problem = StringProperty("")
    _event: Any = None

    def on_pre_enter(self, *_: object) -> None:
        self.look()
        self._event = Clock.schedule_interval(lambda _: self.look(), 0.5)

    def on_leave(self, *_: object) -> None:
        if self._event is not None:
            self._event.cancel()

    def player(self) -> Any:
        return App.get_running_app().context.player

    def look(self) -> None:
        player = self.player()
        if player is None:
            return
        s = player.snapshot()
        track = s.get("track")
        self.playing = s.get("state") == "playing"
        self.problem = s.get("error") or ""
        if track is None:
            return
        self.track_title = track.title
        self.track_detail = " · ".join(p for p in (track.artist, track.album or "") if p)
        self.length = max(1.0, float(s.get("duration") or track.duration_s or 1))
        if not self.ids.seek.is_held:
            self.position = min(self.length, float(s.get("position") or 0))
        self.times = f"{clock_text(self.position)} / {clock_text(self.length)}"
        self.volume = int(s.get("volume", self.volume))

    def toggle(self) -> None:
        if self.player() is not None:
            self.player().toggle()
            self.look()

    def step(self, forward: bool) -> None:
        if self.player() is not None:
            (self.player().next if forward else self.player().previous)()
            self.look()

    def seek_to(self, seconds: float) -> None:
        if self.player() is not None:
            self.player().seek(seconds)

    def set_volume(self, volume: float) -> None:
        if self.player() is not None:
            self.player().set_volume(int(volume))
