"""One conversation: the messages with one family member, their photos and
videograms, and the way to reply (unless the tablet is locked for writing)."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from device_security.errors import IntegrityError
from tablet.library import Attachment, Track
from tablet.ui.context import when
from tablet.ui.widgets import make


class ConversationScreen(Screen):
    contact_id = NumericProperty(0)
    title = StringProperty("")
    contact_name = StringProperty("")
    can_reply = BooleanProperty(True)
    lock_text = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        context = App.get_running_app().context
        lock = context.lock()
        self.can_reply = lock.can_compose
        self.lock_text = "" if lock.can_compose else lock.explanation
        conversation = context.library.conversation(int(self.contact_id))
        box = self.ids.messages
        box.clear_widgets()
        if conversation is None:
            self.title = "Messages"
            return
        name = conversation.contact_name or f"Contact {conversation.contact_id}"
        self.contact_name = name
        self.title = f"Legal mail · {name}" if conversation.legal else name
        for m in conversation.messages:
            if m.waiting:
                cost = context.library.draft_cost(m.body)
                detail = (f"Waiting for the next dock · {cost} stamp"
                          f"{'' if cost == 1 else 's'}")
            elif m.handed_at is not None:
                detail = f"You · handed to the kiosk {when(m.handed_at)}, on its way"
            else:
                detail = ("From " + name if m.incoming else "You") + " · " + when(m.sent_at)
            if m.legal:
                detail = "Legal mail: sealed, not read by staff · " + detail
            bubble = make("MessageBubble", text=m.body, detail=detail, incoming=m.incoming)
            for a in m.attachments:
                bubble.ids.parts.add_widget(self._attachment(a))
            box.add_widget(bubble)
        self.ids.scroll.scroll_y = 0  # the newest at the bottom, in view

    def _attachment(self, a: Attachment) -> object:
        label = {"photo": "View photo", "videogram": "Play videogram"}.get(a.kind, "Open")
        button = make("BigButton", text=label if a.here else
                                   f"{a.kind.capitalize()} arrives at the next dock",
                                   disabled=not a.here)
        button.bind(on_release=lambda *_: self.open(a))
        return button

    def open(self, a: Attachment) -> None:
        app = App.get_running_app()
        library = app.context.library
        if a.kind == "photo":
            photo = app.root.get_screen("photo")
            try:
                photo.show(library.photo(a.sha256))
            except (KeyError, IntegrityError):
                photo.show(b"")  # it says the photo cannot be shown
            app.go("photo")
        elif app.context.player is not None and a.here:
            track = Track(a.sha256, f"Videogram from {self.contact_name}", self.contact_name,
                          "videogram",
                          None, None, 30, a.sha256, True)
            app.context.player.play([track])
            app.go("player")

    def reply(self) -> None:
        app = App.get_running_app()
        app.root.get_screen("compose").contact_id = int(self.contact_id)
        app.root.get_screen("compose").contact_name = self.contact_name
        app.go("compose")
