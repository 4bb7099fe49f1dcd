"""The terms, read before the first use (and after they change). There is
no time limit on this screen: the inactivity logout waits."""

from __future__ import annotations

import logging

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.terms import TEXT, VERSION

log = logging.getLogger(__name__)


class TermsScreen(Screen):
    text = StringProperty("")
    then = StringProperty("home")

    def on_pre_enter(self, *_: object) -> None:
        app = App.get_running_app()
        self.text = TEXT.get(app.lang, TEXT["en"])
        self.ids.scroll.scroll_y = 1

    def accepted(self) -> bool:
        return bool(App.get_running_app().service.terms_accepted())

    def accept(self) -> None:
        app = App.get_running_app()
        resident = app.resident
        if resident is not None:
            app.service.accept_terms()
            log.info("%s accepted the terms (version %s)", resident.agency_id, VERSION)
        app.go(self.then)

    def decline(self) -> None:
        App.get_running_app().logout()
