"""One conversation: the messages with one family member, their photos and
videograms (and, in its place, each part staff withheld, with the reason),
letters written here with their state, and the way to reply."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.inbox import Attachment, Message, letter_state_text
from kiosk.ui.plain import when
from kiosk.ui.widgets import make
from sync.withheld import WithheldPart, in_place, withheld_text


class ConversationScreen(Screen):
    contact_id = NumericProperty(0)
    contact_name = StringProperty("")

    def reset(self) -> None:
        self.ids.messages.clear_widgets()
        self.contact_id, self.contact_name = 0, ""

    def on_pre_enter(self, *_: object) -> None:
        app = App.get_running_app()
        resident = app.resident
        box = self.ids.messages
        box.clear_widgets()
        if resident is None:
            return
        inbox = app.service.inbox
        conversation = inbox.conversation(resident.resident_id, int(self.contact_id))
        if conversation is None or not conversation.messages:
            box.add_widget(make("Body", text=app.t("No messages with {name} yet.",
                                                   name=self.contact_name)))
        else:
            for m in conversation.messages:
                box.add_widget(self._bubble(m))
            inbox.mark_read(resident.resident_id, int(self.contact_id))
        self.ids.scroll.scroll_y = 0  # the newest, at the bottom, in view

    def _bubble(self, m: Message) -> object:
        app = App.get_running_app()
        if m.incoming:
            detail = app.t("From {name}", name=m.contact_name or self.contact_name) + " · " \
                + when(m.at, app.lang)
        elif m.state == "sent":
            detail = app.t("You") + " · " + when(m.at, app.lang)
        else:
            detail = app.t(letter_state_text(m.state)) + (f": {m.note}" if m.note else "")
        if m.legal:
            detail = app.t("Legal mail: sealed, not read by staff") + " · " + detail
        bubble = make("MessageBubble", text=m.body, detail=detail, incoming=m.incoming,
                      waiting=m.state != "sent")
        for part in in_place(m.attachments, m.withheld):  # as the sender placed them
            bubble.ids.parts.add_widget(
                make("WithheldNote", text=withheld_text(app.t, part, app.lang))
                if isinstance(part, WithheldPart) else self._attachment(part))
        return bubble

    def _attachment(self, a: Attachment) -> object:
        app = App.get_running_app()
        if not a.here:
            return make("Caption", text=app.t("A photo is on its way to the kiosk.")
                        if a.kind == "photo" else app.t("A videogram is on its way to the kiosk."))
        label = app.t("View photo") if a.kind == "photo" else app.t("Play videogram")
        button = make("BigButton", text=label)
        button.bind(on_release=lambda *_: self.open(a))
        return button

    def open(self, a: Attachment) -> None:
        app = App.get_running_app()
        screen = app.root.get_screen("viewer")
        screen.show(a.kind, app.service.blob_bytes(a.sha256), back="conversation")
        app.go("viewer")

    def reply(self) -> None:
        app = App.get_running_app()
        app.root.get_screen("compose").start(int(self.contact_id), self.contact_name)
        app.go("compose")
