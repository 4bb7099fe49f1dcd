"""The tablet's look as properties the .kv files bind to, so that high
contrast and larger text change every screen at once (as on the kiosk)."""

from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.properties import ColorProperty, NumericProperty

from base.collector import collected_first

Colour = tuple[float, float, float, float]

NORMAL: dict[str, Colour] = {
    "ink": (0.10, 0.12, 0.16, 1), "paper": (0.97, 0.97, 0.95, 1),
    "muted": (0.34, 0.36, 0.41, 1), "warn": (0.62, 0.18, 0.11, 1),
    "accent": (0.13, 0.38, 0.62, 1), "accent_down": (0.08, 0.26, 0.45, 1),
    "accent_text": (1, 1, 1, 1),
    "card": (0.90, 0.93, 0.97, 1), "card_alt": (0.88, 0.95, 0.88, 1),
    "card_down": (0.80, 0.86, 0.93, 1), "quiet": (0.90, 0.90, 0.89, 1),
    "key": (0.86, 0.88, 0.91, 1), "key_down": (0.70, 0.75, 0.82, 1),
    "field": (1, 1, 1, 1)}
CONTRAST: dict[str, Colour] = {
    "ink": (1, 1, 1, 1), "paper": (0, 0, 0, 1),
    "muted": (0.85, 0.85, 0.85, 1), "warn": (1, 0.60, 0.50, 1),
    "accent": (1, 0.86, 0, 1), "accent_down": (0.80, 0.68, 0, 1),
    "accent_text": (0, 0, 0, 1),
    "card": (0.13, 0.13, 0.13, 1), "card_alt": (0.08, 0.17, 0.08, 1),
    "card_down": (0.28, 0.28, 0.28, 1), "quiet": (0.10, 0.10, 0.10, 1),
    "key": (0.20, 0.20, 0.20, 1), "key_down": (0.40, 0.40, 0.40, 1),
    "field": (0, 0, 0, 1)}
LARGE = 1.3  # how much larger "larger text" is


class Style(EventDispatcher):
    ink = ColorProperty(NORMAL["ink"])
    paper = ColorProperty(NORMAL["paper"])
    muted = ColorProperty(NORMAL["muted"])
    warn = ColorProperty(NORMAL["warn"])
    accent = ColorProperty(NORMAL["accent"])
    accent_down = ColorProperty(NORMAL["accent_down"])
    accent_text = ColorProperty(NORMAL["accent_text"])
    card = ColorProperty(NORMAL["card"])
    card_alt = ColorProperty(NORMAL["card_alt"])
    card_down = ColorProperty(NORMAL["card_down"])
    quiet = ColorProperty(NORMAL["quiet"])
    key = ColorProperty(NORMAL["key"])
    key_down = ColorProperty(NORMAL["key_down"])
    field = ColorProperty(NORMAL["field"])
    scale = NumericProperty(1.0)  # text size

    def set(self, *, contrast: bool, large: bool) -> None:
        with collected_first():  # every screen's rules follow at once (base/collector.py)
            for name, value in (CONTRAST if contrast else NORMAL).items():
                setattr(self, name, value)
            self.scale = LARGE if large else 1.0
