"""This tablet: battery, storage, the last dock, the lock state in plain
words, and how it reads (larger text, high contrast, the language)."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from tablet.ui.context import size_text
from tablet.ui.widgets import lock_text


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
        app = App.get_running_app()
        t, context = app.t, app.context
        s = context.status()
        lock = context.lock()
        self.serial = t("Tablet {serial}", serial=s.serial)
        self.battery = t("Battery: {battery}", battery=t("unknown") if s.battery_pct is None
                         else f"{s.battery_pct}%")
        self.storage = t("Storage: {used} used, {free} free", used=size_text(s.storage_used),
                         free=size_text(s.storage_free))
        self.last_sync = t("Last docked: {when}", when=app.when(s.last_sync_at))
        self.lock_title = {"open": t("Writing: on"), "locked": t("Writing: locked"),
                           "released": t("Released")}.get(lock.mode, lock.mode)
        self.lock_text = lock_text(lock, t)

    def spoken(self) -> str:
        app = App.get_running_app()
        t = app.t
        look = (t("Larger text: on") if app.large_text else t("Larger text: off"),
                t("High contrast: on") if app.contrast else t("High contrast: off"))
        return "\n".join((t("This tablet"), self.serial, self.battery, self.storage,
                          self.last_sync, self.lock_title, self.lock_text,
                          t("Buttons: {names}",
                            names=", ".join((*look, t("Read the terms you accepted"))))))
