"""Help: file a trouble ticket (what kind, what happened; the kiosk attaches
its diagnostics) and follow each ticket's status and answers."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.answers import Answer
from kiosk.records import Ticket
from kiosk.ui.plain import TICKET_CATEGORIES, TICKET_STATUS, when
from kiosk.ui.widgets import make


class HelpScreen(Screen):
    tab = StringProperty("mine")  # mine or new
    category = StringProperty("")
    problem = StringProperty("")
    note = StringProperty("")

    def reset(self) -> None:
        self.ids.tickets.clear_widgets()
        self.ids.description.text = ""
        self.problem = self.note = self.category = ""
        self.tab = "mine"

    def on_pre_enter(self, *_: object) -> None:
        self.problem = self.note = ""
        self.ids.keyboard.target = self.ids.description
        self.show(self.tab)

    def show(self, tab: str) -> None:
        app = App.get_running_app()
        self.tab, self.problem, self.note = tab, "", ""
        if tab == "new":
            self.category = ""
            self.ids.description.text = ""
            box = self.ids.categories
            box.clear_widgets()
            for code, label in TICKET_CATEGORIES.items():
                button = make("QuietButton", text=app.t(label))
                button.bind(on_release=lambda b, c=code: self._chosen(c, b))
                box.add_widget(button)
        else:
            app.task(app.service.tickets, self._listed)

    def _chosen(self, code: str, button: Any) -> None:
        self.category = code
        for other in self.ids.categories.children:
            other.bold = other is button

    def file(self) -> None:
        app = App.get_running_app()
        text = self.ids.description.text.strip()
        if not self.category:
            self.problem = app.t("Choose what it is about first.")
            return
        if not text:
            self.problem = app.t("Say what happened, in a few words.")
            return
        category = self.category
        # The same ticket sent again (a second touch, a retry) is the same attempt.
        attempt = app.service.ticket_attempt(category, text)
        self.note = app.t("Sending…")
        app.task(lambda: app.service.file_ticket(attempt, category=category, description=text),
                 self._filed)

    def _filed(self, answer: Answer[Ticket]) -> None:
        app = App.get_running_app()
        self.note = ""
        if not answer.ok:
            self.problem = app.t("Not sent: {why}", why=answer.message)
            return
        self.show("mine")
        self.note = app.t("Your ticket was filed. Staff must answer within 14 days.")

    def _listed(self, answer: Answer[tuple[Ticket, ...]]) -> None:
        app = App.get_running_app()
        box = self.ids.tickets
        box.clear_widgets()
        if not answer.ok or answer.value is None:
            self.problem = answer.message
            return
        if not answer.value:
            box.add_widget(make("Body", text=app.t("You have no tickets.")))
        for ticket in answer.value:
            last = ticket.last_answer
            card = make("NoticeCard", title=app.t(TICKET_CATEGORIES.get(
                ticket.category, ticket.category)) + " · " + app.t(TICKET_STATUS.get(
                    ticket.status, ticket.status)),
                text=ticket.description + (f"\n\n{last}" if last and last !=
                                           ticket.description else "")
                + "\n" + app.t("Filed {time}; answer due by {due}.", time=when(
                    ticket.created_at, app.lang), due=when(ticket.due_at, app.lang)))
            box.add_widget(card)
