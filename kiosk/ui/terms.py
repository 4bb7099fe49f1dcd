"""The terms, read before the first use (and after they change). There is
no time limit on this screen: the inactivity logout waits."""

from __future__ import annotations

import logging

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.answers import Answer

log = logging.getLogger(__name__)


class TermsScreen(Screen):
    text = StringProperty("")
    then = StringProperty("home")

    def on_pre_enter(self, *_: object) -> None:
        app = App.get_running_app()
        self.text = app.service.terms_text(app.lang)
        self.ids.scroll.scroll_y = 1

    def accepted(self) -> bool:
        return bool(App.get_running_app().service.terms_accepted())

    def accept(self) -> None:
        app = App.get_running_app()
        if app.resident is None:
            app.go(self.then)
            return
        language = app.lang
        app.task(lambda: app.service.accept_terms(language), self._accepted)

    def _accepted(self, answer: Answer[str]) -> None:
        app = App.get_running_app()
        if answer.ok:
            log.info("the terms %s were accepted%s", answer.get()[:12],
                     "" if answer.online else " (sent to the server at the next login)")
        else:
            log.warning("the terms' acceptance was refused: %s", answer.message)
        app.go(self.then)

    def decline(self) -> None:
        App.get_running_app().logout()
