"""Logging in: the resident's agency ID, then their PIN, on a keypad. A
wrong PIN, a lockout or an unreachable server is said in plain words."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.answers import Answer, LoggedIn
from kiosk.ui.widgets import keyed

MAX_ID = 16
MAX_PIN = 12


class LoginScreen(Screen):
    agency_id = StringProperty("")
    pin = StringProperty("")
    field = StringProperty("id")  # which one the keypad types into
    problem = StringProperty("")
    busy = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        self.agency_id = self.pin = self.problem = self.busy = ""
        self.field = "id"

    def key(self, key: str) -> None:
        if self.field == "id":
            self.agency_id = keyed(self.agency_id, key, MAX_ID)
        else:
            self.pin = keyed(self.pin, key, MAX_PIN)

    def next_or_login(self) -> None:
        app = App.get_running_app()
        if self.field == "id":
            if not self.agency_id:
                self.problem = app.t("Type your ID number first.")
                return
            self.field = "pin"
            self.problem = ""
            return
        if not self.pin:
            self.problem = app.t("Type your PIN.")
            return
        self.busy = app.t("Checking…")
        agency_id, pin = self.agency_id, self.pin
        app.task(lambda: app.service.login(agency_id, pin), lambda answer: self._answered(
            answer, pin))

    def _answered(self, answer: Answer[LoggedIn], pin: str) -> None:
        app = App.get_running_app()
        self.busy = ""
        if app.root.current != self.name:  # they went back (or away) while it was checked
            if answer.ok:
                gone = app.service.end_session()
                app.task(lambda: app.service.tell_server_logout(gone), lambda _: None)
            return
        if not answer.ok or answer.value is None:
            self.pin = ""
            self.problem = {
                "offline": app.t("The central server cannot be reached, so you cannot log in "
                                 "right now. Try again in a few minutes."),
                "locked_out": app.t("Too many wrong PINs: this ID is locked for a while. Ask "
                                    "staff if you need help."),
            }.get(answer.code, app.t("That ID and PIN do not match. Try again."))
            return
        app.logged_in_as(app.resident)
        if answer.value.must_change_pin:
            app.first_pin = pin
            app.go("pin")
        else:
            app.root.get_screen("terms").then = "home"
            app.go("terms" if not app.root.get_screen("terms").accepted() else "home")
