"""Requests: essential requests (medical, grievance, PREA report, legal,
records). Choose the kind, write it on the keyboard, send it, with a paper
copy if wanted; the receipt number is shown (or, while the central server is
away, the kiosk's reference, and the request goes when it is back). The
resident's requests are listed with their status and deadline. Nothing of a
PREA report's words stays on the screen once it is sent."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.answers import Answer, FiledRequest, RequestLine
from kiosk.ui.plain import REQUEST_STATUS, REQUEST_TYPES, when
from kiosk.ui.widgets import make


class RequestsScreen(Screen):
    tab = StringProperty("mine")  # mine or new
    kind = StringProperty("")
    paper = BooleanProperty(False)
    problem = StringProperty("")
    note = StringProperty("")

    def reset(self) -> None:
        self.ids.requests.clear_widgets()
        self.ids.text.text = ""
        self.problem = self.note = self.kind = ""
        self.paper = False
        self.tab = "mine"

    def on_pre_enter(self, *_: object) -> None:
        self.problem = self.note = ""
        self.ids.keyboard.target = self.ids.text
        self.show(self.tab)

    def show(self, tab: str, note: str = "") -> None:
        app = App.get_running_app()
        self.tab, self.problem, self.note = tab, "", note
        if tab == "new":
            self.kind = ""
            self.paper = False
            self.ids.text.text = ""
            box = self.ids.kinds
            box.clear_widgets()
            for code, label in REQUEST_TYPES.items():
                button = make("QuietButton", text=app.t(label))
                button.bind(on_release=lambda b, c=code: self._chosen(c, b))
                box.add_widget(button)
        else:
            app.task(app.service.requests, self._listed)

    def _chosen(self, code: str, button: Any) -> None:
        self.kind = code
        for other in self.ids.kinds.children:
            other.bold = other is button

    def send(self) -> None:
        app = App.get_running_app()
        text = self.ids.text.text.strip()
        if not self.kind:
            self.problem = app.t("Choose what kind of request it is first.")
            return
        if not text:
            self.problem = app.t("Write your request first.")
            return
        kind, paper, language = self.kind, self.paper, app.lang
        attempt = app.service.request_attempt(kind, text)  # a second touch is the same one
        self.note = app.t("Sending…")
        app.task(lambda: app.service.file_request(attempt, type_=kind, body=text, paper=paper,
                                                  language=language),  # paper in theirs
                 self._filed)

    def _filed(self, answer: Answer[FiledRequest]) -> None:
        app = App.get_running_app()
        self.note = ""
        filed = answer.value
        if not answer.ok or filed is None:
            self.problem = app.t("Not sent: {why}", why=answer.message)
            return
        self.ids.text.text = ""  # nothing of what was written stays on the screen
        name = app.t(REQUEST_TYPES.get(filed.type, filed.type))
        if filed.receipt:
            words = app.t("Received: {kind}. Receipt number {number}; staff must answer "
                          "by {due}.", kind=name, number=filed.receipt,
                          due=when(filed.due_at, app.lang))
        else:
            words = app.t("The central server is away. {kind}: kept at this kiosk, sent "
                          "when the server is back. Your reference is {number}.", kind=name,
                          number=filed.reference)
        if filed.printed:
            words += " " + app.t("Take your paper copy from the printer.")
        elif filed.print_problem:
            words += " " + app.t("No paper copy: {why}", why=app.t(filed.print_problem))
        self.show("mine", words)

    def _listed(self, answer: Answer[tuple[RequestLine, ...]]) -> None:
        app = App.get_running_app()
        box = self.ids.requests
        box.clear_widgets()
        if not answer.ok or answer.value is None:
            self.problem = answer.message
            return
        if not answer.online:
            box.add_widget(make("Caption", text=app.t(
                "The central server is away: your requests as of {time}, without their "
                "words.", time=when(answer.as_of, app.lang)) if answer.as_of else app.t(
                "The central server is away: only requests kept at this kiosk are shown.")))
        if not answer.value:
            box.add_widget(make("Body", text=app.t("You have no requests.")))
        for line in answer.value:
            status = app.t(REQUEST_STATUS.get(line.status, line.status))
            filed = when(line.filed_at, app.lang)
            when_text = app.t("Filed {time}; answer due by {due}.", time=filed,
                              due=when(line.due_at, app.lang)) if line.due_at else \
                app.t("Written {time}.", time=filed)
            text = "\n\n".join(part for part in (line.text, line.answer) if part)
            box.add_widget(make(
                "NoticeCard",
                title=f"{app.t(REQUEST_TYPES.get(line.type, line.type))} · {line.number} · "
                      f"{status}",
                text=(text + "\n" if text else "") + when_text))
