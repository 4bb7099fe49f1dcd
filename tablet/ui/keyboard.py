"""An on-screen keyboard: the tablet has no other. Large keys, letters,
digits and the punctuation a letter home needs; it types into one TextInput."""

from __future__ import annotations

from kivy.factory import Factory
from kivy.properties import BooleanProperty, ObjectProperty
from kivy.uix.boxlayout import BoxLayout

ROWS = ("1234567890", "qwertyuiop", "asdfghjkl'", "zxcvbnm,.?")


class OnScreenKeyboard(BoxLayout):
    target = ObjectProperty(None, allownone=True)  # the TextInput it types into
    shift = BooleanProperty(False)

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        for row in ROWS:
            line = BoxLayout(spacing="3dp")
            for ch in row:
                key = Factory.Key(text=ch)
                key.bind(on_release=lambda k: self.type(k.text))
                line.add_widget(key)
            self.add_widget(line)
        last = BoxLayout(spacing="3dp")
        shift = Factory.Key(text="Shift", size_hint_x=1.6)
        shift.bind(on_release=lambda *_: self.toggle_shift())
        space = Factory.Key(text="space", size_hint_x=4)
        space.bind(on_release=lambda *_: self.type(" "))
        newline = Factory.Key(text="New line", size_hint_x=1.8)
        newline.bind(on_release=lambda *_: self.type("\n"))
        delete = Factory.Key(text="Delete", size_hint_x=1.6)
        delete.bind(on_release=lambda *_: self.backspace())
        for key in (shift, space, newline, delete):
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
        if self.target is None:
            return
        self.target.insert_text(text)
        if self.shift and text.isalpha():
            self.shift = False  # one capital, as phones do

    def backspace(self) -> None:
        if self.target is not None:
            self.target.do_backspace()
