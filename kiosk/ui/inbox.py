"""Messages: a conversation with each family member (from the kiosk's cache,
so it shows while the server is away), the notices about held and rejected
messages, refunds and tickets, and writing to someone new."""

from __future__ import annotations

from kivy.app import App
from kivy.uix.screenmanager import Screen

from kiosk.answers import Answer
from kiosk.i18n import N_
from kiosk.records import Contact
from kiosk.ui.plain import when
from kiosk.ui.widgets import make
from sync.withheld import withheld_text

NOTICE_TITLES = {"held": N_("Held for review"), "rejected": N_("Not delivered"),
                 "purchase_refunded": N_("Refunded"), "ticket": N_("Your ticket"),
                 "letter_refused": N_("Not sent"), "request": N_("Your request")}


class InboxScreen(Screen):
    def reset(self) -> None:
        self.ids.entries.clear_widgets()

    def on_pre_enter(self, *_: object) -> None:
        app = App.get_running_app()
        resident = app.resident
        box = self.ids.entries
        box.clear_widgets()
        if resident is None:
            return
        names = {c.id: c.name for c in app.screen_data.contacts or ()}
        conversations = app.service.inbox.conversations(resident.resident_id, names)
        if not conversations:
            box.add_widget(make("Body", text=app.t("No messages yet. When your family writes, "
                                                   "their messages show here.")))
        for c in conversations:
            last = c.messages[-1] if c.messages else None
            name = c.contact_name or app.t("A contact")
            row = make("ConversationRow",
                       name=app.t("Legal mail") + " · " + name if c.legal else name,
                       preview=(last.body.replace("\n", " ") if last and last.body else
                                withheld_text(app.t, last.withheld[0], app.lang)
                                if last and last.withheld else
                                "" if last else app.t("No messages yet")),
                       detail=(app.t("{n} unread", n=c.unread) + " · " if c.unread else "")
                       + (when(last.at, app.lang) if last else ""),
                       unread=c.unread > 0)
            row.bind(on_release=lambda _, cid=c.contact_id, name=c.contact_name:
                     self.open(cid, name))
            box.add_widget(row)
        notices = app.service.inbox.notices(resident.resident_id)
        if notices:
            box.add_widget(make("Title", text=app.t("Notices")))
        for n in notices[:20]:
            card = make("NoticeCard", title=app.t(NOTICE_TITLES.get(n.kind, N_("Notice"))),
                        text=n.text)
            box.add_widget(card)
        app.task(app.service.contacts, self._contacts)

    def _contacts(self, answer: Answer[tuple[Contact, ...]]) -> None:
        app = App.get_running_app()
        if answer.ok:
            known = app.screen_data.contacts
            app.screen_data.contacts = answer.value
            if known != answer.value and app.root.current == self.name:
                self.on_pre_enter()  # someone approved who has not written yet

    def open(self, contact_id: int, name: str) -> None:
        app = App.get_running_app()
        screen = app.root.get_screen("conversation")
        screen.contact_id, screen.contact_name = contact_id, name
        app.go("conversation")
