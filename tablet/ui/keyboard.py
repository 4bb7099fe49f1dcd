"""An on-screen keyboard: the tablet has no other. Letters in alphabetical
order, eight to a row, so that every key is at least 9 mm wide on the 7-inch
screen (ten across, as on a typewriter, would not be); digits and the
punctuation a letter home needs on a second page; it types into one TextInput."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ObjectProperty
from kivy.uix.boxlayout import BoxLayout

from tablet.i18n import N_

LETTERS = ("abcdefgh", "ijklmnop", "qrstuvwx", "yz',.?!-")
DIGITS = ("12345678", "90()$&@:", "/;\"%+=*#", "áéíóúñü¿")
SHIFT, SPACE, NEW_LINE, DELETE = N_("Shift"), N_("space"), N_("New line"), N_("Delete")
TO_DIGITS, TO_LETTERS = "123", "abc"


class OnScreenKeyboard(BoxLayout):
    target = ObjectProperty(None, allownone=True)  # the TextInput it types into
    shift = BooleanProperty(False)
    digits = BooleanProperty(False)

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        self._typing: list[Any] = []  # the keys that type their label
        for _ in LETTERS:
            line = BoxLayout(spacing="4dp")
            for _ in range(8):
                key = Factory.Key()
                key.bind(on_release=lambda k: self.type(k.text))
                line.add_widget(key)
                self._typing.append(key)
            self.add_widget(line)
        last = BoxLayout(spacing="4dp")
        self._shift = Factory.Key(size_hint_x=1.3)
        self._shift.bind(on_release=lambda *_: self.toggle_shift())
        self._page = Factory.Key(size_hint_x=1.2)
        self._page.bind(on_release=lambda *_: self.toggle_page())
        self._space = Factory.Key(size_hint_x=2.6)
        self._space.bind(on_release=lambda *_: self.type(" "))
        self._newline = Factory.Key(size_hint_x=1.7)
        self._newline.bind(on_release=lambda *_: self.type("\n"))
        self._delete = Factory.Key(size_hint_x=1.5)
        self._delete.bind(on_release=lambda *_: self.backspace())
        for key in (self._shift, self._page, self._space, self._newline, self._delete):
            last.add_widget(key)
        self.add_widget(last)
        self.bind(shift=self.relabel, digits=self.relabel)
        app = App.get_running_app()
        if app is not None and hasattr(app, "lang"):
            app.bind(lang=self.relabel)
        self.relabel()

    def relabel(self, *_: object) -> None:
        """Label the keys for the page, the shift and the language shown."""
        app = App.get_running_app()
        t = app.t if app is not None and hasattr(app, "t") else (lambda text, *_: text)
        chars = "".join(DIGITS if self.digits else LETTERS)
        for key, ch in zip(self._typing, chars, strict=True):
            key.text = ch.upper() if self.shift and ch.isalpha() else ch
        self._shift.text = t(SHIFT)
        self._page.text = TO_LETTERS if self.digits else TO_DIGITS
        self._space.text = t(SPACE)
        self._newline.text = t(NEW_LINE)
        self._delete.text = t(DELETE)

    def toggle_shift(self) -> None:
        self.shift = not self.shift

    def toggle_page(self) -> None:
        self.digits = not self.digits

    def type(self, text: str) -> None:
        if self.target is None:
            return
        self.target.insert_text(text)
        if self.shift and text.isalpha():
            self.shift = False  # one capital, as phones do

    def backspace(self) -> None:
        if self.target is not None:
            self.target.do_backspace()
