"""This tablet: battery, storage, the last dock, and the lock state in plain words."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from tablet.ui.context import battery_text, size_text, when


class StatusScreen(Screen):
    serial = StringProperty("")
    battery = StringProperty("")
    storage = StringProperty("")
    last_sync = StringProperty("")
    lock_title = StringProperty("")
    lock_text = StringProperty("")

    def on_pre_enter(self, *_: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        context = App.get_running_app().context
        s = context.status()
        lock = context.lock()
        self.serial = f"Tablet {s.serial}"
        self.battery = f"Battery: {battery_text(s.battery_pct)}"
        self.storage = (f"Storage: {size_text(s.storage_used)} used, "
                        f"{size_text(s.storage_free)} free")
        self.last_sync = f"Last docked: {when(s.last_sync_at)}"
        self.lock_title = {"open": "Writing: on", "locked": "Writing: locked",
                           "released": "Released"}.get(lock.mode, lock.mode)
        self.lock_text = lock.explanation
