"""The terms the resident accepted at the kiosk, word for word (a dock
brings them down), readable on the tablet at any time."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen


class TermsScreen(Screen):
    text = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        accepted = App.get_running_app().context.library.terms()
        self.text = accepted or ("The terms you accept at your unit's kiosk show here after "
                                 "your next dock.")
