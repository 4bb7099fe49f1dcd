"""Writing a message at the kiosk: to whom, the text on the on-screen
keyboard, and the stamp cost shown before it is sent. It is kept at the
kiosk first, so it goes out even if the central server is away now."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.answers import Answer, LetterState
from kiosk.inbox import MAX_LETTER_CHARS
from kiosk.ui.widgets import make


class ComposeScreen(Screen):
    contact_id = NumericProperty(0)  # 0: choose someone first
    contact_name = StringProperty("")
    cost_text = StringProperty("")
    problem = StringProperty("")
    busy = StringProperty("")

    def reset(self) -> None:
        self.ids.text.text = ""
        self.contact_id, self.contact_name = 0, ""
        self.problem = self.busy = ""

    def start(self, contact_id: int | None, name: str = "") -> None:
        self.contact_id, self.contact_name = contact_id or 0, name

    def on_pre_enter(self, *_: object) -> None:
        self.problem = self.busy = ""
        self.ids.text.text = ""
        self.ids.keyboard.target = self.ids.text
        self.ids.keyboard.on_change = self.update_cost
        self._contacts()
        self.update_cost()

    def _contacts(self) -> None:
        app = App.get_running_app()
        box = self.ids.people
        box.clear_widgets()
        if self.contact_id:
            return
        people = app.screen_data.contacts or ()
        if not people:
            box.add_widget(make("Body", text=app.t("Nobody is approved to write with you yet. "
                                                   "Family and friends register online.")))
        for person in people:
            button = make("QuietButton", text=f"{person.name} ({person.relationship})")
            button.bind(on_release=lambda _, p=person: self.choose(p.id, p.name))
            box.add_widget(button)

    def choose(self, contact_id: int, name: str) -> None:
        self.contact_id, self.contact_name = contact_id, name
        self._contacts()
        self.update_cost()

    def update_cost(self) -> None:
        app = App.get_running_app()
        cost = app.service.agency_policy().stamps_per_message
        left = MAX_LETTER_CHARS - len(self.ids.text.text)
        stamps = app.screen_data.stamps
        have = "" if stamps is None else " " + app.t("You have {n}.", n=stamps)
        self.cost_text = app.t("This message costs {n} stamp(s).", n=cost) + have + "  " + \
            app.t("{n} characters left.", n=left)

    def send(self) -> None:
        app = App.get_running_app()
        if not self.contact_id:
            self.problem = app.t("Choose who it is for first.")
            return
        text = self.ids.text.text
        if not text.strip():
            self.problem = app.t("Write something first.")
            return
        if len(text) > MAX_LETTER_CHARS:
            self.problem = app.t("A message is at most {n} characters.", n=MAX_LETTER_CHARS)
            return
        self.busy = app.t("Sending…")
        contact = int(self.contact_id)
        app.task(lambda: app.service.write_letter(contact, text), self._sent)

    def _sent(self, answer: Answer[LetterState]) -> None:
        app = App.get_running_app()
        self.busy = ""
        if not answer.ok:
            self.problem = app.t("Not sent: {why}", why=answer.message)
            return
        conversation = app.root.get_screen("conversation")
        conversation.contact_id, conversation.contact_name = self.contact_id, self.contact_name
        app.go("conversation")
