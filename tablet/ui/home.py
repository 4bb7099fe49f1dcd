"""Home: the resident's conversations, newest first, and how the tablet stands."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from tablet.ui.widgets import clear, lock_text, make

MEDIA = "media"  # the agency's switch for music and video on tablets


class HomeScreen(Screen):
    status_line = StringProperty("")
    lock_line = StringProperty("")
    switched_off = StringProperty("")  # what the agency turned off, said in words
    _media: Any = None

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
        self._show_media(app.feature(MEDIA))
        self.switched_off = "" if app.feature(MEDIA) else \
            t("The agency turned off music and video on tablets.")
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
        buttons = ((t("Music & video"),) if self._media is None or self._media.parent else ()) \
            + (t("Requests"), t("This tablet"))
        lines = [t("Messages"), self.status_line, self.lock_line, self.switched_off,
                 *(f"{r.name}. {r.preview}. {r.detail}" for r in rows),
                 t("Buttons: {names}", names=", ".join(buttons))]
        return "\n".join(line for line in lines if line)

    def _show_media(self, on: bool) -> None:
        """The Music & video button only while the agency leaves it on."""
        if self._media is None:  # held here: ids hold widgets weakly, and it may leave
            self._media = self.ids.media_button.__self__
        bar, button = self.ids.buttons, self._media
        if on and button.parent is None:
            bar.add_widget(button, index=len(bar.children))  # first, as before
        elif not on and button.parent is not None:
            bar.remove_widget(button)

    def open(self, contact_id: int) -> None:
        app = App.get_running_app()
        app.root.get_screen("conversation").contact_id = contact_id
        app.go("conversation")
