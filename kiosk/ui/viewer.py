"""A photo, or a videogram playing (libvlc, kiosk/videogram.py), as large as
the screen allows. Both come as bytes opened from the kiosk's sealed cache:
a photo is decoded in memory, a videogram played from an in-memory file."""

from __future__ import annotations

import io
import logging
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.graphics.texture import Texture
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.videogram import HEIGHT, OPTIONS, WIDTH, VideogramPlayer

log = logging.getLogger(__name__)

_KINDS = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"GIF8", "gif"))
FPS = 30


class ViewerScreen(Screen):
    texture = ObjectProperty(None, allownone=True)
    kind = StringProperty("photo")
    problem = StringProperty("")
    state = StringProperty("")
    back_to = StringProperty("conversation")
    player: VideogramPlayer | None = None
    _event: Any = None

    def show(self, kind: str, data: bytes | None, *, back: str = "conversation") -> None:
        """Show a photo or play a videogram from its bytes (None: it could not
        be read, which the screen says)."""
        self.kind, self.back_to, self.problem, self.texture = kind, back, "", None
        if kind == "photo":
            self._photo(data or b"")
        elif data is None:
            self.problem = App.get_running_app().t("This videogram cannot be played here.")
        else:
            self._videogram(data)

    def _photo(self, data: bytes) -> None:
        app = App.get_running_app()
        ext = next((name for magic, name in _KINDS if data.startswith(magic)), None)
        try:
            if ext is None:
                raise ValueError("not a picture this kiosk shows")
            self.texture = CoreImage(io.BytesIO(data), ext=ext).texture
        except Exception as e:  # noqa: BLE001 - any decoder failure: say so, go on
            log.warning("a photo could not be shown: %s", e)
            self.problem = app.t("This photo cannot be shown here.")

    def _videogram(self, data: bytes) -> None:
        app = App.get_running_app()
        if self.player is None:
            self.player = VideogramPlayer((*OPTIONS, *app.video_options))
        self.texture = Texture.create(size=(WIDTH, HEIGHT), colorfmt="bgra")
        self.texture.flip_vertical()
        try:
            self.player.play(data)
        except OSError as e:
            log.warning("a videogram could not be loaded: %s", e)
            self.problem = app.t("This videogram cannot be played here.")
            return
        self.state = "playing"
        self._event = Clock.schedule_interval(lambda _: self._draw(), 1 / FPS)

    def _draw(self) -> None:
        player = self.player
        if player is None or self.texture is None:
            return
        frame = player.frame()
        if frame is not None:
            self.texture.blit_buffer(frame, colorfmt="bgra", bufferfmt="ubyte")
            self.canvas.ask_update()
        state = player.state()
        self.state = state
        if state == "error":
            self.problem = App.get_running_app().t("This videogram cannot be played here.")

    def toggle(self) -> None:
        if self.player is None:
            return
        if self.state == "ended":
            self.player.replay()
        else:
            self.player.toggle_pause()

    def reset(self) -> None:
        self.on_leave()
        self.texture, self.problem = None, ""

    def on_leave(self, *_: object) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        if self.player is not None:
            self.player.stop()

    def close(self) -> None:
        if self.player is not None:
            self.player.close()
            self.player = None
