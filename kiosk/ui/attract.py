"""The attract screen: what a kiosk shows while nobody is logged in. A touch
starts a login; a tablet docked now is told to wait for one."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.events import Event, PairingDecided
from kiosk.ui.plain import refusal_text


class AttractScreen(Screen):
    notice = StringProperty("")

    def on_kv_post(self, *_: object) -> None:
        App.get_running_app().listeners.append(self._event)

    def on_pre_enter(self, *_: object) -> None:
        app = App.get_running_app()
        self.notice = app.t("This kiosk is out of service: a technician is on it. Your "
                            "tablet keeps working meanwhile and does not lock.") \
            if app.service.out_of_service_since() is not None else ""

    def _event(self, event: Event) -> None:
        app = App.get_running_app()
        if app.logged_in or not isinstance(event, PairingDecided) or event.allowed:
            return
        self.notice = refusal_text(app.t, event.reason)

    def begin(self, language: str | None = None) -> None:
        app = App.get_running_app()
        if language is not None:
            app.set_language(language)
        if app.service.out_of_service_since() is not None:
            self.on_pre_enter()  # say it again, in the language chosen
            return
        app.go("login")
