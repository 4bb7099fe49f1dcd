"""The terms the resident accepted at the kiosk, word for word (a dock
brings them down), readable on the tablet at any time."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen


class TermsScreen(Screen):
    text = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        app = App.get_running_app()
        accepted = app.context.library.terms()
        self.text = accepted or app.t("The terms you accept at your unit's kiosk show here "
                                      "after your next dock.")

    def spoken(self) -> str:
        """The screen read aloud: its title and the terms, word for word."""
        return "\n".join((App.get_running_app().t("The terms you accepted"), self.text))
