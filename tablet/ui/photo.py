"""A photo, as large as the screen allows. Its bytes come from the sealed
store and are decoded in memory; no copy is written anywhere."""

from __future__ import annotations

import io
import logging

from kivy.app import App
from kivy.core.image import Image as CoreImage
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from tablet.i18n import N_

log = logging.getLogger(__name__)

# What a photo's first bytes say it is, as Kivy's image loaders name it.
_KINDS = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"GIF8", "gif"),
          (b"RIFF", "webp"))
CANNOT = N_("This photo cannot be shown on the tablet.")


class PhotoScreen(Screen):
    texture = ObjectProperty(None, allownone=True)
    problem = StringProperty("")

    def show(self, data: bytes) -> None:
        """Decode ``data`` for display; a photo that cannot be decoded is said so."""
        ext = next((name for magic, name in _KINDS if data.startswith(magic)), None)
        self.texture, self.problem = None, ""
        if ext is None:
            self.problem = CANNOT
            return
        try:
            self.texture = CoreImage(io.BytesIO(data), ext=ext).texture
        except Exception as e:  # noqa: BLE001 - any decoder failure: say so, keep going
            log.warning("a photo could not be decoded: %s", e)
            self.problem = CANNOT

    def spoken(self) -> str:
        t = App.get_running_app().t
        return "\n".join(line for line in (t("Photo"), t(self.problem) if self.problem
                                            else t("A photo")) if line)
