"""Now playing: the track, where it is, and play/pause, previous, next, seek
and volume. The player reports from its own thread; this screen looks twice
a second (on Kivy's clock) and draws what it finds, with a videogram's
captions, when its sender supplied them, timed under the video."""

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
    track_title = StringProperty("")
    track_detail = StringProperty("")
    caption = StringProperty("")  # the captions' text at the position played
    has_captions = BooleanProperty(False)
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
        t = App.get_running_app().t
        player = self.player()
        s = player.snapshot() if player is not None else {}
        track = s.get("track")
        self.playing = s.get("state") == "playing"
        self.problem = s.get("error") or ""
        if track is None:
            self.track_title = t("Nothing playing")
            self.track_detail = t("Choose a song, an album or a videogram.")
            self.caption, self.has_captions = "", False
            return
        self.track_title = track.title
        self.track_detail = " · ".join(p for p in (track.artist, track.album or "") if p)
        self.length = max(1.0, float(s.get("duration") or track.duration_s or 1))
        if not self.ids.seek.is_held:
            self.position = min(self.length, float(s.get("position") or 0))
        self.times = f"{clock_text(self.position)} / {clock_text(self.length)}"
        self.volume = int(s.get("volume", self.volume))
        captions = getattr(track, "captions", None)
        self.has_captions = captions is not None
        self.caption = captions.at(float(s.get("position") or 0)) if captions else ""

    def spoken(self) -> str:
        """The screen read aloud: what plays, where, and the buttons."""
        t = App.get_running_app().t
        buttons = (t("Previous"), t("Pause") if self.playing else t("Play"), t("Next"))
        return "\n".join(line for line in (
            t("Now playing"), self.track_title, self.track_detail, self.caption, self.times,
            self.problem, t("Buttons: {names}", names=", ".join(buttons))) if line)

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
