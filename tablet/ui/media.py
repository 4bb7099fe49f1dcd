"""Music and video the resident bought: albums first, then every track."""

from __future__ import annotations

from kivy.app import App
from kivy.uix.screenmanager import Screen

from tablet.library import Track
from tablet.ui.widgets import clear, make


class MediaScreen(Screen):
    def on_pre_enter(self, *_: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        app = App.get_running_app()
        t, library = app.t, app.context.library
        box = self.ids.entries
        clear(box)
        tracks = library.tracks()
        if not tracks:
            box.add_widget(make("Body", text=t("Nothing here yet. Songs and videos you buy "
                                               "at the kiosk arrive when you dock this "
                                               "tablet.")))
            return
        albums = library.albums()
        if albums:
            box.add_widget(make("Title", text=t("Albums")))
        for album in albums:
            row = make("MediaRow", title=album.title,
                       detail=t("{artist} · {n} tracks", artist=album.artist,
                                n=len(album.tracks)))
            row.bind(on_release=lambda _, a=album: self.play(list(a.tracks), 0))
            box.add_widget(row)
        box.add_widget(make("Title", text=t("Songs and videos")))
        for i, track in enumerate(tracks):
            minutes, seconds = divmod(track.duration_s, 60)
            detail = f"{track.artist} · {minutes}:{seconds:02d}" if track.playable else \
                t("{artist} · arrives at the next dock", artist=track.artist)
            row = make("MediaRow", title=track.title, detail=detail, disabled=not track.playable)
            row.bind(on_release=lambda _, n=i: self.play(tracks, n))
            box.add_widget(row)

    def spoken(self) -> str:
        """The screen read aloud: each album and track, and the button."""
        t = App.get_running_app().t
        lines = [t("Music & video")]
        for w in self.ids.entries.children[::-1]:
            lines.append(f"{w.title}. {w.detail}" if hasattr(w, "detail") else w.text)
        lines.append(t("Button: {name}", name=t("Now playing")))
        return "\n".join(lines)

    def play(self, tracks: list[Track], start: int) -> None:
        app = App.get_running_app()
        playable = [t for t in tracks if t.playable]
        if app.context.player is None or not playable:
            return
        first = tracks[start]
        app.context.player.play(playable, playable.index(first) if first in playable else 0)
        app.go("player")
