"""Docking: the plug-in prompt, the pairing result in plain words (including
why a tablet was refused), sync progress item by item with an overall bar,
and "safe to unplug" at the end. The dock's events come from the kiosk's
service; a tablet plugged in while someone is logged in brings this screen up."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.events import Docked, Event, PairingDecided, Plugged, SyncProgress, Unplugged
from kiosk.i18n import N_
from kiosk.ui.plain import refusal_text

PHASES = {"outbox": N_("Sending what you wrote on your tablet"),
          "messages": N_("Messages to your tablet"), "files": N_("Photos, videos and music"),
          "done": N_("Done")}


class DockScreen(Screen):
    state = StringProperty("idle")  # idle, checking, refused, syncing, done, problem
    headline = StringProperty("")
    detail = StringProperty("")
    item = StringProperty("")
    overall = NumericProperty(0.0)  # 0..1
    safe = BooleanProperty(True)  # safe to unplug now

    def on_kv_post(self, *_: object) -> None:
        App.get_running_app().listeners.append(self._event)

    def on_pre_enter(self, *_: object) -> None:
        if self.state in ("idle", "done", "refused", "problem") and not self.headline:
            self._show("idle")
        self._words()

    def reset(self) -> None:
        """Nothing of the last resident's dock stays on the screen."""
        self.headline = ""
        self._show("idle")

    def _show(self, state: str, **fields: Any) -> None:
        self.state = state
        for name, value in fields.items():
            setattr(self, name, value)
        self._words()

    def _words(self) -> None:
        t = App.get_running_app().t
        if self.state == "idle":
            self.headline = t("Plug your tablet into a dock port")
            self.detail = t("Use the cable on the kiosk. Your tablet syncs by itself: new "
                            "messages, photos and music go to it, and what you wrote on it is "
                            "sent.")
            self.item, self.overall, self.safe = "", 0.0, True

    def _event(self, event: Event) -> None:
        app = App.get_running_app()
        t = app.t
        if isinstance(event, Plugged):
            self._show("checking", headline=t("Checking your tablet…"),
                       detail=t("Keep it plugged in."), item="", overall=0.0, safe=False)
            if app.logged_in and app.root.current != "dock":
                app.go("dock")
        elif isinstance(event, PairingDecided):
            if event.allowed:
                self._show("syncing", headline=t("Syncing your tablet"),
                           detail=t("Keep it plugged in until the kiosk says it is safe to "
                                    "unplug."), safe=False)
            else:
                self._show("refused", headline=t("This tablet cannot sync"),
                           detail=refusal_text(t, event.reason) + " "
                           + t("You can unplug it now."), item="", overall=0.0, safe=True)
        elif isinstance(event, SyncProgress):
            done, total = event.items_done, event.items_total
            moved, size = event.bytes_done, event.bytes_total
            label = t(PHASES.get(event.phase, event.phase))
            self.item = f"{label}: {event.item}".rstrip(": ") + (
                f"  ({done} / {total})" if total else "")
            self.overall = moved / size if size else (done / total if total else self.overall)
        elif isinstance(event, Docked):
            if event.synced:
                counts = t("{records} messages and records, {files} files to the tablet; "
                           "{drafts} of your messages sent.", records=event.records,
                           files=event.files, drafts=event.drafts_up)
                if event.drafts_left:
                    counts += " " + t("{left} more of your messages stay on the tablet and go "
                                      "at your next dock.", left=event.drafts_left)
                self._show("done", headline=t("All done: it is safe to unplug your tablet"),
                           detail=counts, item="", overall=1.0, safe=True)
            elif self.state != "refused":
                problem = event.problem or ""
                self._show("problem", headline=t("The sync did not finish"),
                           detail=t("Nothing is lost: plug the tablet in again to go on.")
                           + (f" ({problem})" if problem else ""), safe=True)
        elif isinstance(event, Unplugged) and self.state in ("done", "refused", "problem"):
            self._show("idle")
        elif isinstance(event, Unplugged) and self.state in ("checking", "syncing"):
            self._show("problem", headline=t("The tablet was unplugged"),
                       detail=t("Nothing is lost: plug it in again and the sync goes on where "
                                "it stopped."), item="", safe=True)
