"""The technicians' maintenance menu (a technician's badge or PIN): the
kiosk's diagnostics, its event log, tablets (assign, retire) and a released
resident's archive to a USB stick, the alerts raised here, its configuration,
service state and a test print."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kiosk.answers import AlertHere, Answer, Check, StickWritten, TabletHere
from kiosk.events import BadgeSwiped, Event
from kiosk.ui.pin import MAX_PIN
from kiosk.ui.plain import when
from kiosk.ui.widgets import keyed, make


class MaintenanceScreen(Screen):
    unlocked = BooleanProperty(False)
    signed_in = BooleanProperty(False)
    form_note = StringProperty("")
    pin = StringProperty("")
    problem = StringProperty("")
    section = StringProperty("Diagnostics")
    output = StringProperty("")

    def on_kv_post(self, *_: object) -> None:
        App.get_running_app().listeners.append(self._event)
        self._bind_fields()

    def on_pre_enter(self, *_: object) -> None:
        self.pin = self.problem = ""
        if self.unlocked:
            self.show(self.section)

    def on_leave(self, *_: object) -> None:
        self.unlocked = False  # the menu locks as soon as it is left
        app = App.get_running_app()
        app.task(app.service.staff_sign_out, lambda _: None)
        self.signed_in = False

    def _bind_fields(self) -> None:
        for name in ("username", "password", "serial", "resident", "location", "unit",
                     "central"):
            self.ids[name].bind(focus=self._focused)

    def _focused(self, field: Any, focused: bool) -> None:
        if focused:
            self.ids.keyboard.target = field
            self.ids.config_keyboard.target = field

    def save_configuration(self) -> None:
        app = App.get_running_app()
        location, unit, central = (self.ids[n].text for n in ("location", "unit", "central"))
        app.task(lambda: app.service.save_configuration(
            location_code=location, unit=unit, central_url=central), self._saved)

    def _saved(self, answer: Answer[None]) -> None:
        app = App.get_running_app()
        self.form_note = app.t("Saved: it applies when the kiosk restarts.") \
            if answer.ok else app.t("Not saved: {why}", why=answer.message)

    def sign_in(self) -> None:
        app = App.get_running_app()
        username, password = self.ids.username.text.strip(), self.ids.password.text
        self.ids.password.text = ""
        app.task(lambda: app.service.staff_sign_in(username, password), self._signed_in)

    def _signed_in(self, answer: Answer[None]) -> None:
        app = App.get_running_app()
        self.signed_in = answer.ok
        self.form_note = app.t("Signed in: tablet changes go to the central server.") \
            if self.signed_in else app.t("Not signed in: {why}", why=answer.message)

    def change(self, what: str) -> None:
        app = App.get_running_app()
        serial = self.ids.serial.text.strip().upper()
        resident = self.ids.resident.text.strip()
        if not serial or (what == "assign" and not resident):
            self.form_note = app.t("Type the tablet's serial (and the resident's ID to "
                                   "assign it).")
            return
        if what == "assign":
            app.task(lambda: app.service.change_tablet(serial, assign_to=resident),
                     self._changed)
        else:
            app.task(lambda: app.service.change_tablet(serial, status=what), self._changed)

    def archive_to_stick(self) -> None:
        """A released resident's archive, to the USB stick in the kiosk's port.
        Taken out before it is whole, the stick holds nothing that counts; put
        back, the same button writes it again."""
        app = App.get_running_app()
        resident = self.ids.resident.text.strip()
        if not resident:
            self.form_note = app.t("Type the released resident's ID.")
            return
        self.form_note = app.t("Writing the archive…")

        def progress(stage: str, size: int) -> None:  # on the worker thread
            Clock.schedule_once(lambda _: self._progress(stage, size))

        app.task(lambda: app.service.archive_to_stick(resident, progress), self._archived)

    def _progress(self, stage: str, size: int) -> None:
        app = App.get_running_app()
        if not self.form_note.startswith((app.t("Writing the archive…"),
                                          app.t("Checking what the stick holds…"))):
            return  # answered already
        self.form_note = app.t("Writing the archive… {size}", size=f"{size / 1e6:.1f} MB") \
            if stage == "writing" else app.t("Checking what the stick holds…")

    def _archived(self, answer: Answer[StickWritten]) -> None:
        app = App.get_running_app()
        written = answer.value
        if answer.ok and written is not None:
            self.form_note = app.t("Written and checked: {name} ({size}). Take the stick "
                                   "out.", name=written.name,
                                   size=f"{written.size / 1e6:.1f} MB")
        else:
            self.form_note = app.t("Not written: {why}", why=app.t(answer.message))

    def _changed(self, answer: Answer[None]) -> None:
        app = App.get_running_app()
        self.form_note = app.t("Done.") if answer.ok else \
            app.t("Not done: {why}", why=answer.message)
        self.show("Tablets")

    def _event(self, event: Event) -> None:
        app = App.get_running_app()
        if isinstance(event, BadgeSwiped) and app.root.current == self.name \
                and not self.unlocked:
            self._unlock(app.service.technician_badge_ok(event.badge))

    def key(self, key: str) -> None:
        self.pin = keyed(self.pin, key, MAX_PIN)

    def enter(self) -> None:
        app = App.get_running_app()
        pin = self.pin
        self.pin = ""
        app.task(lambda: app.service.technician_pin_ok(pin), self._unlock)

    def _unlock(self, ok: bool) -> None:
        app = App.get_running_app()
        if app.root.current != self.name:
            return  # the check came back after the technician left: the menu stays shut
        self.unlocked = ok
        self.problem = "" if ok else app.t("That is not a technician's PIN or badge.")
        if ok:
            self.show("Diagnostics")

    def show(self, section: str) -> None:
        app = App.get_running_app()
        self.section = section
        self.output = app.t("Reading…")
        box = self.ids.actions
        box.clear_widgets()
        if section == "Diagnostics":
            app.task(app.service.diagnostics, self._diagnostics)
            for label, action in ((app.t("Test print"), self._test_print),
                                  (app.t("Take out of service"), lambda: self._service(False)),
                                  (app.t("Put back in service"), lambda: self._service(True))):
                button = make("QuietButton", text=label)
                button.bind(on_release=lambda _, act=action: act())
                box.add_widget(button)
        elif section == "Event log":
            app.task(lambda: app.service.event_log(80), lambda text: setattr(
                self, "output", text or app.t("The log is empty.")))
        elif section == "Alerts":
            app.task(app.service.alerts_here, self._alerts)
        elif section == "Configuration":
            self.form_note = ""
            config, sync = app.service.config, app.service.sync_config
            self.ids.location.text, self.ids.unit.text = config.location_code, config.unit
            self.ids.central.text = sync.central_url
            app.task(app.service.configuration, lambda rows: setattr(
                self, "output", "\n".join(f"{k}: {v}" for k, v in rows.items())))
        elif section == "Tablets":
            app.task(app.service.tablets_here, self._tablets)

    def _diagnostics(self, checks: list[Check]) -> None:
        self.output = "\n".join(f"{'OK ' if c.ok else '!! '} {c.name}: {c.detail}"
                                for c in checks)

    def _alerts(self, alerts: list[AlertHere]) -> None:
        app = App.get_running_app()
        if not alerts:
            self.output = app.t("No alerts were raised at this kiosk.")
            return
        self.output = "\n".join(
            f"{a.raised_at}  {a.reason}  tablet {a.tablet_serial or '?'}  "
            f"resident {a.resident_id or '-'}  ({a.state})" for a in alerts)

    def _tablets(self, tablets: list[TabletHere]) -> None:
        self.output = "\n".join(
            f"{t.serial}  {t.status}  owner {t.resident_agency_id or '-'}  "
            f"last sync {when(t.last_sync_at) if t.last_sync_at else 'never'}"
            for t in tablets) or "-"

    def _test_print(self) -> None:
        app = App.get_running_app()
        app.task(app.service.test_print, lambda answer: setattr(self, "output", answer))

    def _service(self, in_service: bool) -> None:
        app = App.get_running_app()
        app.task(lambda: app.service.set_in_service(in_service), lambda _: self.show(
            "Diagnostics"))
