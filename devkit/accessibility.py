"""Measuring a screen as a resident with poor sight meets it: the contrast of
every text against what is drawn behind it (WCAG 2.1 AA) and the size of
every touch target, on the real Kivy widget tree.

The decisions are pure functions (:func:`contrast_ratio`, :func:`is_large`,
:func:`millimetres`); :class:`Audit` walks a running app's widgets, reads each
text's colour from the widget and its background from the canvas
instructions of the nearest widget (itself, then its ancestors) whose
rectangle lies under the text's centre, and records what fails, naming the
screen, the theme and the widget.

Devices (the pixels of the window the app draws in, over the panel's size):

- the tablet: a 7-inch portrait panel of 600x1024, 169.5 dots per inch;
- the kiosk: a 15.4-inch 1280x800 panel (16:10), 98.0 dots per inch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

Colour = tuple[float, float, float, float]

NORMAL_TEXT_RATIO = 4.5  # WCAG 2.1 AA, 1.4.3
LARGE_TEXT_RATIO = 3.0
LARGE_PT, LARGE_BOLD_PT = 18.0, 14.0
MIN_TARGET_MM = 9.0
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Device:
    name: str
    width_px: int
    height_px: int
    diagonal_in: float

    @property
    def dpi(self) -> float:
        return math.hypot(self.width_px, self.height_px) / self.diagonal_in


TABLET = Device("tablet", 600, 1024, 7.0)
KIOSK = Device("kiosk", 1280, 800, 15.4)


# -- the decisions ------------------------------------------------------------------

def _linear(channel: float) -> float:
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def luminance(colour: Colour) -> float:
    """WCAG 2.1's relative luminance of an opaque sRGB colour (0 to 1)."""
    r, g, b = (_linear(c) for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: Colour, b: Colour) -> float:
    """WCAG 2.1's contrast ratio of two opaque colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def over(top: Colour, under: Colour) -> Colour:
    """``top`` drawn over the opaque ``under`` (its alpha blended)."""
    alpha = top[3] if len(top) > 3 else 1.0
    r, g, b = (alpha * t + (1 - alpha) * u for t, u in zip(top[:3], under[:3], strict=True))
    return (r, g, b, 1.0)


def points(font_px: float, dpi: float) -> float:
    """A font's size in points on a panel of ``dpi``."""
    return font_px * 72.0 / dpi


def is_large(font_px: float, bold: bool, dpi: float) -> bool:
    """Large text as WCAG 2.1 counts it: 18 pt, or 14 pt bold."""
    return points(font_px, dpi) >= (LARGE_BOLD_PT if bold else LARGE_PT)


def required_ratio(font_px: float, bold: bool, dpi: float) -> float:
    return LARGE_TEXT_RATIO if is_large(font_px, bold, dpi) else NORMAL_TEXT_RATIO


def millimetres(px: float, dpi: float) -> float:
    return px * MM_PER_INCH / dpi


# -- what is found ------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    device: str
    screen: str
    theme: str
    check: str  # contrast, target, background
    widget: str  # its class, its text, where it is
    measured: float
    required: float
    detail: str

    def __str__(self) -> str:
        return (f"{self.device} {self.screen} [{self.theme}] {self.check}: {self.widget}: "
                f"{self.measured:.2f} < {self.required:.2f} ({self.detail})")


THEMES = {"normal": False, "high contrast": True}


@dataclass
class Audit:
    """Measures screens of one device's app (the kiosk's or the tablet's: an
    ``app.style`` with ``set(contrast=, large=)``, and ``app.contrast`` and
    ``app.large_text`` as chosen) in the normal and the high-contrast theme,
    with the text size chosen; the app's own choice is put back after."""

    device: Device
    app: Any
    findings: list[Finding]
    measured: list[dict[str, Any]]

    @classmethod
    def of(cls, device: Device, app: Any) -> Audit:
        return cls(device, app, [], [])

    def measure(self, screen: str, settle: Callable[[], None]) -> None:
        """Measure the screen shown now in each theme."""
        app = self.app
        try:
            for theme, contrast in THEMES.items():
                app.style.set(contrast=contrast, large=app.large_text)
                settle()
                texts, targets = self._measure(app.root, screen, theme)
                self.measured.append({"screen": screen, "theme": theme,
                                      "large_text": bool(app.large_text), "texts": texts,
                                      "targets": targets})
        finally:
            app.style.set(contrast=app.contrast, large=app.large_text)
            settle()

    def write(self, path: Path) -> None:
        """The report: every screen measured, and every failure."""
        path.write_text(json.dumps({
            "device": asdict(self.device), "dpi": round(self.device.dpi, 1),
            "thresholds": {"normal_text": NORMAL_TEXT_RATIO, "large_text": LARGE_TEXT_RATIO,
                           "large_pt": LARGE_PT, "large_bold_pt": LARGE_BOLD_PT,
                           "target_mm": MIN_TARGET_MM},
            "measured": self.measured,
            "failures": [asdict(f) | {"text": str(f)} for f in self.findings]}, indent=1))

    # -- the walk ------------------------------------------------------------------

    def _measure(self, root: Any, screen: str, theme: str) -> tuple[int, int]:
        from kivy.uix.behaviors import ButtonBehavior
        from kivy.uix.label import Label
        from kivy.uix.slider import Slider
        from kivy.uix.textinput import TextInput

        dpi = self.device.dpi
        texts = targets = 0
        for widget in _shown(root):
            if isinstance(widget, (ButtonBehavior, Slider, TextInput)) and not widget.disabled:
                targets += 1
                short = min(widget.width, widget.height)
                if millimetres(short, dpi) < MIN_TARGET_MM:
                    self._found(screen, theme, "target", widget,
                                millimetres(short, dpi), MIN_TARGET_MM,
                                f"{widget.width:.0f}x{widget.height:.0f} px at {dpi:.1f} dpi")
            if isinstance(widget, (Label, TextInput)):
                # Text on a control that is off is measured too (WCAG does not ask
                # it): it says why, and a resident with poor sight must read it.
                shown_text = widget.text or getattr(widget, "hint_text", "")
                if not str(shown_text).strip():
                    continue
                texts += 1
                if isinstance(widget, TextInput):
                    ink = widget.foreground_color if widget.text else widget.hint_text_color
                else:
                    ink = widget.disabled_color if widget.disabled else widget.color
                behind = background(widget)
                if behind is None:
                    self._found(screen, theme, "background", widget, 0, 1,
                                "nothing found drawn behind it (an image background?)")
                    continue
                bold = bool(getattr(widget, "bold", False))
                need = required_ratio(float(widget.font_size), bold, dpi)
                ratio = contrast_ratio(over(tuple(ink), behind), behind)
                if ratio < need:
                    self._found(screen, theme, "contrast", widget, ratio, need,
                                f"text {_hex(ink)} on {_hex(behind)}, "
                                f"{points(float(widget.font_size), dpi):.1f} pt"
                                f"{' bold' if bold else ''}")
        return texts, targets

    def _found(self, screen: str, theme: str, check: str, widget: Any, measured: float,
               required: float, detail: str) -> None:
        self.findings.append(Finding(self.device.name, screen, theme, check, describe(widget),
                                     round(measured, 2), required, detail))


def _shown(root: Any) -> Iterator[Any]:
    """The widgets a resident can see: sized, not transparent, in the window
    and, inside a scrolled list, in its visible part."""
    from kivy.uix.scrollview import ScrollView

    def visible(widget: Any, clip: tuple[float, float, float, float] | None) -> Iterator[Any]:
        if widget.opacity <= 0.01 or widget.width < 1 or widget.height < 1:
            return
        x, y = widget.to_window(*widget.pos)
        box = (x, y, x + widget.width, y + widget.height)
        if clip is not None and (box[2] <= clip[0] or box[0] >= clip[2] or box[3] <= clip[1]
                                 or box[1] >= clip[3]):
            return  # scrolled out of view
        yield widget
        inner = box if isinstance(widget, ScrollView) else clip
        for child in reversed(widget.children):
            yield from visible(child, inner)

    yield from visible(root, None)


def background(widget: Any) -> Colour | None:
    """The opaque colour drawn behind the centre of ``widget``'s text: its own
    flat button colour, or the topmost rectangle under the centre in the
    canvas of itself or its nearest ancestor, blended over what is further
    down when it is translucent; the window's clear colour at the bottom.
    None when what is behind is an image (it cannot be told from here)."""
    from kivy.core.window import Window
    from kivy.uix.button import Button
    from kivy.uix.textinput import TextInput

    x, y = widget.to_window(*widget.pos)
    # the middle of the part in the window (a long text in a list may run off it)
    cx = (max(x, 0) + min(x + widget.width, Window.width)) / 2
    cy = (max(y, 0) + min(y + widget.height, Window.height)) / 2
    layers: list[Colour] = []
    node = widget
    while node is not None and node is not Window:
        if isinstance(node, (Button, TextInput)):
            if node.background_normal != "":
                return None  # an image: what is behind the text cannot be told here
            layers.append(tuple(node.background_color))
        else:
            found = _rectangle_colour(node, cx, cy)
            if found is not None:
                layers.append(found)
        if layers and layers[-1][3] >= 0.999:
            break
        node = node.parent
    colour: Colour = tuple(Window.clearcolor)
    colour = (*colour[:3], 1.0)
    for layer in reversed(layers):
        colour = over(layer, colour)
    return colour


def _rectangle_colour(node: Any, cx: float, cy: float) -> Colour | None:
    """The colour of the topmost rectangle of ``node``'s canvas (before, then
    its own) under the window point (cx, cy)."""
    from kivy.graphics import Color, Rectangle, RoundedRectangle
    from kivy.uix.widget import Widget

    local = type(node).to_parent is not Widget.to_parent  # a relative layout, a scroll view
    plain = Rectangle().texture  # what a rectangle without an image is filled with
    found: Colour | None = None
    for group in (node.canvas.before, node.canvas):
        colour: Colour | None = None
        for instruction in group.children:
            if isinstance(instruction, Color):
                colour = tuple(instruction.rgba)
            elif isinstance(instruction, (Rectangle, RoundedRectangle)) and colour is not None:
                texture = instruction.texture
                if texture is not None and texture is not plain:
                    continue  # an image or a label's text, not a background
                x, y = instruction.pos
                w, h = instruction.size
                x0, y0 = node.to_window(x, y, initial=not local)
                if x0 <= cx <= x0 + w and y0 <= cy <= y0 + h and colour[3] > 0:
                    found = colour
    return found


def describe(widget: Any) -> str:
    text = str(getattr(widget, "text", "") or getattr(widget, "hint_text", "") or "")
    text = text.replace("\n", " ")
    x, y = widget.to_window(*widget.pos)
    return (f"{type(widget).__name__} {text[:40]!r} at ({x:.0f}, {y:.0f}) "
            f"{widget.width:.0f}x{widget.height:.0f}")


def _hex(colour: Any) -> str:
    return "#" + "".join(f"{round(float(c) * 255):02x}" for c in list(colour)[:3])
