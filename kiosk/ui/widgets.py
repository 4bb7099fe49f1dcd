"""The kiosk's on-screen keypad and keyboard (it has no other), and a helper
to build the widgets the .kv files declare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ObjectProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

ROWS = ("1234567890", "qwertyuiop", "asdfghjkl'", "zxcvbnm,.?")


def make(kind: str, /, **properties: Any) -> Any:
    """A widget of a .kv dynamic class, with these properties set."""
    widget = getattr(Factory, kind)()
    for key, value in properties.items():
        setattr(widget, key, value)
    return widget


class Reveal(BoxLayout):
    """A box whose children are in the widget tree only while ``shown``: a
    hidden part of a screen can then neither be seen nor touched (a disabled
    widget still takes the touches that land on it, even at zero height)."""

    shown = BooleanProperty(True)

    def __init__(self, **kw: Any) -> None:
        self._stash: list[Any] = []
        self._hint: float | None = None  # the height share it gives up while hidden
        super().__init__(**kw)

    def on_kv_post(self, *_: object) -> None:
        # The rule that made this box sets its size and ``shown`` after this
        # point: follow ``shown`` once everything is applied.
        Clock.schedule_once(lambda _: self._follow())

    def _follow(self) -> None:
        self.bind(shown=self._update)
        self._update()

    def _update(self, *_: object) -> None:
        if self.shown:
            for widget in self._stash:
                self.add_widget(widget)
            self._stash = []
            if self._hint is not None:
                self.size_hint_y, self._hint = self._hint, None
        else:
            if self.children:
                self._stash = list(reversed(self.children))
                self.clear_widgets()
            if self.size_hint_y is not None:  # a share of the height: give it up
                self._hint = self.size_hint_y
                self.size_hint_y = None  # type: ignore[assignment]  # Kivy allows None
                self.height = 0


def keyed(value: str, key: str, limit: int) -> str:
    """``value`` after a :class:`Keypad` key: a digit added (up to ``limit``),
    the last one deleted, or all cleared."""
    if key == "clear":
        return ""
    if key == "delete":
        return value[:-1]
    return value + key if len(value) < limit else value


class Keypad(GridLayout):
    """Digits, Clear and Delete, for IDs and PINs. ``action`` gets a digit,
    ``"clear"`` or ``"delete"``."""

    action = ObjectProperty(None, allownone=True)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        for label in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "Clear", "0", "Delete"):
            key = Factory.Key(text=label, size_hint_y=None, height="84dp")
            key.bind(on_release=lambda k: self._pressed(k.text))
            self.add_widget(key)

    def _pressed(self, label: str) -> None:
        if self.action is not None:
            self.action({"Clear": "clear", "Delete": "delete"}.get(label, label))


class Keyboard(BoxLayout):
    """Letters, digits, the punctuation a letter needs, space, new line and
    delete; it types into ``target`` (a TextInput)."""

    target = ObjectProperty(None, allownone=True)
    shift = BooleanProperty(False)
    multiline = BooleanProperty(True)
    on_change: Callable[[], None] | None = None

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        for row in ROWS:
            line = BoxLayout(spacing="6dp")
            for ch in row:
                key = Factory.Key(text=ch)
                key.bind(on_release=lambda k: self.type(k.text))
                line.add_widget(key)
            self.add_widget(line)
        last = BoxLayout(spacing="6dp")
        for label, width, action in (("Shift", 1.5, self.toggle_shift),
                                     ("-", 0.8, lambda: self.type("-")),
                                     ("/", 0.8, lambda: self.type("/")),
                                     (":", 0.8, lambda: self.type(":")),
                                     ("space", 3.2, lambda: self.type(" ")),
                                     ("New line", 1.8, lambda: self.type("\n")),
                                     ("Delete", 1.5, self.backspace)):
            key = Factory.Key(text=label, size_hint_x=width)
            key.bind(on_release=lambda _, act=action: act())
            last.add_widget(key)
        self.add_widget(last)
        self.bind(shift=self._relabel)

    def _relabel(self, *_: object) -> None:
        for line in self.children:
            for key in line.children:
                if len(key.text) == 1 and key.text.isalpha():
                    key.text = key.text.upper() if self.shift else key.text.lower()

    def toggle_shift(self) -> None:
        self.shift = not self.shift

    def type(self, text: str) -> None:
        if self.target is None or (text == "\n" and not self.multiline):
            return
        self.target.insert_text(text)
        if self.shift and text.isalpha():
            self.shift = False  # one capital, as phones do
        self._changed()

    def backspace(self) -> None:
        if self.target is not None:
            self.target.do_backspace()
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
