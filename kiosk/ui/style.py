"""The kiosk's look as properties the .kv files bind to, so that high
contrast and larger text change every screen at once."""

from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.properties import ColorProperty, NumericProperty

from base.collector import collected_first

NORMAL = {"ink": (0.10, 0.12, 0.16, 1), "paper": (0.97, 0.97, 0.95, 1),
          "card": (0.90, 0.93, 0.97, 1), "accent": (0.13, 0.38, 0.62, 1),
          "accent_down": (0.08, 0.26, 0.45, 1), "accent_text": (1, 1, 1, 1),
          "muted": (0.36, 0.38, 0.43, 1), "warn": (0.66, 0.18, 0.11, 1),
          "good": (0.10, 0.45, 0.22, 1), "banner": (0.66, 0.18, 0.11, 1)}
CONTRAST = {"ink": (1, 1, 1, 1), "paper": (0, 0, 0, 1), "card": (0.12, 0.12, 0.12, 1),
            "accent": (1, 0.86, 0, 1), "accent_down": (0.8, 0.68, 0, 1),
            "accent_text": (0, 0, 0, 1), "muted": (0.85, 0.85, 0.85, 1),
            "warn": (1, 0.55, 0.45, 1), "good": (0.55, 1, 0.6, 1),
            "banner": (0.75, 0.1, 0.05, 1)}
LARGE = 1.25  # how much larger "larger text" is


class Style(EventDispatcher):
    ink = ColorProperty(NORMAL["ink"])
    paper = ColorProperty(NORMAL["paper"])
    card = ColorProperty(NORMAL["card"])
    accent = ColorProperty(NORMAL["accent"])
    accent_down = ColorProperty(NORMAL["accent_down"])
    accent_text = ColorProperty(NORMAL["accent_text"])
    muted = ColorProperty(NORMAL["muted"])
    warn = ColorProperty(NORMAL["warn"])
    good = ColorProperty(NORMAL["good"])
    banner = ColorProperty(NORMAL["banner"])
    scale = NumericProperty(1.0)  # text size

    def set(self, *, contrast: bool, large: bool) -> None:
        with collected_first():  # every screen's rules follow at once (base/collector.py)
            for name, value in (CONTRAST if contrast else NORMAL).items():
                setattr(self, name, value)
            self.scale = LARGE if large else 1.0
