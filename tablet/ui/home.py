"""Home: the resident's conversations, newest first, and how the tablet stands."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from tablet.ui.context import battery_text, when
from tablet.ui.widgets import make


class HomeScreen(Screen):
    status_line = StringProperty("")
    lock_line = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        context = App.get_running_app().context
        status = context.status()
        lock = context.lock()
        self.status_line = (f"Battery {battery_text(status.battery_pct)}   ·   "
                            f"Last docked: {when(status.last_sync_at)}")
        self.lock_line = "" if lock.can_compose else lock.explanation
        box = self.ids.conversations
        box.clear_widgets()
        conversations = context.library.conversations()
        if not conversations:
            box.add_widget(make("Body", text="No messages yet. Messages arrive when you "
                                        "dock this tablet at your unit's kiosk."))
        for c in conversations:
            last = c.last
            preview = last.body.replace("\n", " ")[:80] or "(a photo or video)"
            waiting = f"   ·   {c.waiting} waiting to send" if c.waiting else ""
            name = c.contact_name or f"Contact {c.contact_id}"
            row = make("ConversationRow",
                name=f"Legal mail · {name}" if c.legal else name,
                preview=("You: " if not last.incoming else "") + preview,
                detail=(when(last.sent_at) if last.sent_at else "not sent yet") + waiting)
            row.bind(on_release=lambda _, cid=c.contact_id: self.open(cid))
            box.add_widget(row)

    def open(self, contact_id: int) -> None:
        app = App.get_running_app()
        app.root.get_screen("conversation").contact_id = contact_id
        app.go("conversation")
