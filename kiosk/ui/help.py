"""Help: file a trouble ticket (what kind, what happened; the kiosk attaches
its diagnostics) and follow each ticket's status and answers."""

from __future__ import annotations

import secrets
from typing import Any

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.ui.plain import TICKET_CATEGORIES, TICKET_STATUS, when
from kiosk.ui.widgets import make


class HelpScreen(Screen):
    tab = StringProperty("mine")  # mine or new
    category = StringProperty("")
    problem = StringProperty("")
    note = StringProperty("")
    _uid = ""

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
            self.category, self._uid = "", "t-" + secrets.token_urlsafe(12)
            self.ids.description.text = ""
            box = self.ids.categories
            box.clear_widgets()
            for code, label in TICKET_CATEGORIES.items():
                button = make("QuietButton", text=app.t(label))
                button.bind(on_release=lambda b, c=code: self._chosen(c, b))
                box.add_widget(button)
        else:
            app.task(lambda: app.service.call(app.service.desk.tickets), self._listed)

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
        uid, category = self._uid, self.category  # the same uid if Send is touched twice
        diagnostics = app.service.diagnostics_for_ticket()
        self.note = app.t("Sending…")
        app.task(lambda: app.service.call(lambda r: app.service.desk.file_ticket(
            r, uid=uid, category=category, description=text, diagnostics=diagnostics)),
            self._filed)

    def _filed(self, answer: dict[str, Any]) -> None:
        app = App.get_running_app()
        self.note = ""
        if not answer.get("ok"):
            self.problem = app.t("Not sent: {why}", why=answer.get("message") or "")
            return
        self.show("mine")
        self.note = app.t("Your ticket was filed. Staff must answer within 14 days.")

    def _listed(self, answer: dict[str, Any]) -> None:
        app = App.get_running_app()
        box = self.ids.tickets
        box.clear_widgets()
        if not answer.get("ok"):
            self.problem = str(answer.get("message") or "")
            return
        if not answer["value"]:
            box.add_widget(make("Body", text=app.t("You have no tickets.")))
        for ticket in answer["value"]:
            history = [h for h in ticket.get("history") or [] if h.get("text")]
            last = history[-1]["text"] if history else ""
            card = make("NoticeCard", title=app.t(TICKET_CATEGORIES.get(
                ticket["category"], ticket["category"])) + " · " + app.t(TICKET_STATUS.get(
                    ticket["status"], ticket["status"])),
                text=ticket["description"] + (f"\n\n{last}" if last and last !=
                                              ticket["description"] else "")
                + "\n" + app.t("Filed {time}; answer due by {due}.", time=when(
                    ticket.get("created_at")), due=when(ticket.get("due_at"))))
            box.add_widget(card)
