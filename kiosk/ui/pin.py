"""Choosing a PIN at the first login (the one staff gave out is for once):
the new PIN twice, on the keypad."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.answers import Answer, LoggedIn
from kiosk.ui.widgets import keyed

MIN_PIN, MAX_PIN = 6, 12


class PinScreen(Screen):
    new = StringProperty("")
    again = StringProperty("")
    field = StringProperty("new")
    problem = StringProperty("")
    busy = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        self.new = self.again = self.problem = self.busy = ""
        self.field = "new"

    def key(self, key: str) -> None:
        if self.field == "new":
            self.new = keyed(self.new, key, MAX_PIN)
        else:
            self.again = keyed(self.again, key, MAX_PIN)

    def next_or_save(self) -> None:
        app = App.get_running_app()
        if self.field == "new":
            if len(self.new) < MIN_PIN:
                self.problem = app.t("A PIN has at least {n} digits.", n=MIN_PIN)
                return
            self.field, self.problem = "again", ""
            return
        if self.again != self.new:
            self.problem = app.t("The two PINs are not the same. Type the new PIN again.")
            self.new = self.again = ""
            self.field = "new"
            return
        self.busy = app.t("Saving…")
        old, new = app.first_pin, self.new
        app.task(lambda: app.service.change_pin(old, new), self._answered)

    def _answered(self, answer: Answer[LoggedIn]) -> None:
        app = App.get_running_app()
        self.busy = ""
        if not answer.ok:
            self.problem = answer.message or app.t("The PIN was not changed.")
            self.new = self.again = ""
            self.field = "new"
            return
        app.first_pin = ""
        app.logged_in_as(app.resident)
        terms = app.root.get_screen("terms")
        terms.then = "home"
        app.go("home" if terms.accepted() else "terms")
