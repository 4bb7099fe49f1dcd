"""Home: who is logged in, their stamps and balances, unread messages, their
tablet, and the way to everything else."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.answers import Answer
from kiosk.records import Home
from kiosk.ui.plain import money, when


class HomeScreen(Screen):
    greeting = StringProperty("")
    stamps = StringProperty("…")
    trust = StringProperty("…")
    prepaid = StringProperty("…")
    tablet = StringProperty("")
    note = StringProperty("")
    unread = StringProperty("")

    def reset(self) -> None:
        self.greeting = self.tablet = self.note = self.unread = ""
        self.stamps = self.trust = self.prepaid = "…"

    def on_pre_enter(self, *_: object) -> None:
        app = App.get_running_app()
        self.reset()
        resident = app.resident
        if resident is None:
            return
        self.greeting = app.t("Hello, {name}", name=resident.name)
        count = app.service.inbox.unread(resident.resident_id)
        self.unread = app.t("{n} unread", n=count) if count else ""
        app.task(app.service.home, self._home)

    def _home(self, answer: Answer[Home]) -> None:
        app = App.get_running_app()
        if not answer.ok or answer.value is None:
            self.note = answer.message
            return
        home = answer.value
        self.stamps = str(home.stamps)
        app.screen_data.balances(home)
        self.prepaid = money(home.prepaid_cents)
        self.trust = money(home.trust_cents)
        notes = []
        if not answer.online:
            notes.append(app.t("Balances as of {time}: the central server is not answering.",
                               time=when(answer.as_of, app.lang)))
        if home.trust_note:
            notes.append(app.t("The trust balance is not available right now."))
        self.note = " ".join(notes)
        active = [t for t in home.tablets if t.status == "active"]
        if active:
            last = active[0].last_dock_at
            self.tablet = app.t("Your tablet {serial}: last synced {time}",
                                serial=active[0].serial, time=when(last, app.lang)) if last else \
                app.t("Your tablet {serial}: not synced yet", serial=active[0].serial)
        else:
            self.tablet = app.t("You have no tablet yet. Ask staff for one.")
