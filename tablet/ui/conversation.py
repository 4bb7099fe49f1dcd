"""One conversation: the messages with one family member, their photos and
videograms (and, in its place, each part staff withheld, with the reason),
and the way to reply (unless the tablet is locked for writing). Each
message can be read aloud, what was withheld too."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from device_security.errors import IntegrityError
from sync.withheld import WithheldPart, in_place, withheld_text
from tablet.library import Attachment, Track
from tablet.ui.widgets import clear, lock_text, make


class ConversationScreen(Screen):
    contact_id = NumericProperty(0)
    title = StringProperty("")
    contact_name = StringProperty("")
    can_reply = BooleanProperty(True)
    lock_text = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        app = App.get_running_app()
        t, context = app.t, app.context
        lock = context.lock()
        self.can_reply = lock.can_compose
        self.lock_text = "" if lock.can_compose else lock_text(lock, t)
        conversation = context.library.conversation(int(self.contact_id))
        box = self.ids.messages
        clear(box)
        if conversation is None:
            self.title = t("Messages")
            return
        name = conversation.contact_name or t("Contact {n}", n=conversation.contact_id)
        self.contact_name = name
        self.title = t("Legal mail · {name}", name=name) if conversation.legal else name
        for m in conversation.messages:
            if m.waiting:
                cost = context.library.draft_cost(m.body)
                detail = t("Waiting for the next dock · {n} stamp", n=cost) if cost == 1 else \
                    t("Waiting for the next dock · {n} stamps", n=cost)
                who = t("You")
            elif m.handed_at is not None:
                detail = t("You · handed to the kiosk {when}, on its way",
                           when=app.when(m.handed_at))
                who = t("You")
            else:
                who = t("From {name}", name=name) if m.incoming else t("You")
                detail = f"{who} · {app.when(m.sent_at)}"
            if m.legal:
                detail = t("Legal mail: sealed, not read by staff · {detail}", detail=detail)
            placed = in_place(m.attachments, m.withheld)  # as the sender placed them
            parts = [withheld_text(t, p, app.lang) if isinstance(p, WithheldPart)
                     else t("A photo") if p.kind == "photo" else t("A videogram")
                     for p in placed]
            bubble = make("MessageBubble", message_uid=m.uid, text=m.body, detail=detail,
                          incoming=m.incoming,
                          spoken="\n".join(p for p in (detail, m.body, *parts) if p))
            for part, words in zip(placed, parts, strict=True):
                bubble.ids.parts.add_widget(
                    make("WithheldNote", text=words) if isinstance(part, WithheldPart)
                    else self._attachment(part))
            box.add_widget(bubble)
        self.ids.scroll.scroll_y = 0  # the newest at the bottom, in view

    def spoken(self) -> str:
        """The screen read aloud: who the conversation is with, each message,
        and the reply button (or why it is off)."""
        t = App.get_running_app().t
        bubbles = [w.spoken for w in self.ids.messages.children[::-1] if hasattr(w, "spoken")]
        reply = t("Button: {name}", name=t("Write a reply")) if self.can_reply \
            else self.lock_text
        return "\n".join(line for line in (self.title, *bubbles, reply) if line)

    def _attachment(self, a: Attachment) -> object:
        t = App.get_running_app().t
        if a.here:
            text = {"photo": t("View photo"), "videogram": t("Play videogram")}.get(
                a.kind, t("Open"))
        else:
            text = t("A photo arrives at the next dock") if a.kind == "photo" else \
                t("A videogram arrives at the next dock")
        button = make("BigButton", text=text, disabled=not a.here)
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
            track = Track(a.sha256, app.t("Videogram from {name}", name=self.contact_name),
                          self.contact_name, "videogram", None, None, 30, a.sha256, True,
                          a.captions)
            app.context.player.play([track])
            app.go("player")

    def reply(self) -> None:
        app = App.get_running_app()
        app.root.get_screen("compose").contact_id = int(self.contact_id)
        app.root.get_screen("compose").contact_name = self.contact_name
        app.go("compose")
