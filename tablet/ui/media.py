"""Music and video the resident bought: albums first, then every track."""

from __future__ import annotations

from kivy.app import App
from kivy.uix.screenmanager import Screen

from tablet.library import Track
from tablet.ui.widgets import make


class MediaScreen(Screen):
    def on_pre_enter(self, *_: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        library = App.get_running_app().context.library
        box = self.ids.entries
        box.clear_widgets()
        tracks = library.tracks()
        if not tracks:
            box.add_widget(make("Body", text="Nothing here yet. Songs and videos you buy at "
                                        "the kiosk arrive when you dock this tablet."))
            return
        albums = library.albums()
        if albums:
            box.add_widget(make("Title", text="Albums"))
        for album in albums:
            row = make("MediaRow", title=album.title, detail=f"{album.artist} · "
                                   f"{len(album.tracks)} tracks")
            row.bind(on_release=lambda _, a=album: self.play(list(a.tracks), 0))
            box.add_widget(row)
        box.add_widget(make("Title", text="Songs and videos"))
        for i, track in enumerate(tracks):
            minutes, seconds = divmod(track.duration_s, 60)
            detail = f"{track.artist} · {minutes}:{seconds:02d}" if track.playable else \
                f"{track.artist} · arrives at the next dock"
            row = make("MediaRow", title=track.title, detail=detail, disabled=not track.playable)
            row.bind(on_release=lambda _, n=i: self.play(tracks, n))
            box.add_widget(row)

    def play(self, tracks: list[Track], start: int) -> None:
        app = App.get_running_app()
        playable = [t for t in tracks if t.playable]
        if app.context.player is None or not playable:
            return
        first = tracks[start]
        app.context.player.play(playable, playable.index(first) if first in playable else 0)
        app.go("player")
