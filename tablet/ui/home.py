"""Home: the resident's conversations, newest first, and how the tablet stands."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from tablet.ui.widgets import clear, lock_text, make


class HomeScreen(Screen):
    status_line = StringProperty("")
    lock_line = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        app = App.get_running_app()
        t, context = app.t, app.context
        status = context.status()
        lock = context.lock()
        battery = t("unknown") if status.battery_pct is None else f"{status.battery_pct}%"
        self.status_line = t("Battery {battery}   ·   Last docked: {when}", battery=battery,
                             when=app.when(status.last_sync_at))
        self.lock_line = "" if lock.can_compose else lock_text(lock, t)
        box = self.ids.conversations
        clear(box)
        conversations = context.library.conversations()
        if not conversations:
            box.add_widget(make("Body", text=t("No messages yet. Messages arrive when you "
                                               "dock this tablet at your unit's kiosk.")))
        for c in conversations:
            last = c.last
            preview = last.body.replace("\n", " ")[:80] or t("(a photo or video)")
            waiting = t("   ·   {n} waiting to send", n=c.waiting) if c.waiting else ""
            name = c.contact_name or t("Contact {n}", n=c.contact_id)
            row = make("ConversationRow",
                name=t("Legal mail · {name}", name=name) if c.legal else name,
                preview=(t("You: ") if not last.incoming else "") + preview,
                detail=(app.when(last.sent_at) if last.sent_at else t("not sent yet"))
                + waiting)
            row.bind(on_release=lambda _, cid=c.contact_id: self.open(cid))
            box.add_widget(row)

    def spoken(self) -> str:
        """The screen read aloud: its title, how the tablet stands, each
        conversation, and the buttons."""
        t = App.get_running_app().t
        rows = [w for w in self.ids.conversations.children[::-1] if hasattr(w, "preview")]
        lines = [t("Messages"), self.status_line, self.lock_line,
                 *(f"{r.name}. {r.preview}. {r.detail}" for r in rows),
                 t("Buttons: {names}", names=", ".join((t("Music & video"), t("Requests"),
                                                         t("This tablet"))))]
        return "\n".join(line for line in lines if line)

    def open(self, contact_id: int) -> None:
        app = App.get_running_app()
        app.root.get_screen("conversation").contact_id = contact_id
        app.go("conversation")
