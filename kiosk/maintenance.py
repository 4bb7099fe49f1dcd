"""The technicians' side of the kiosk: who may open the maintenance menu (a
technician's badge, or the PIN with its lockout), and what the menu does:
diagnostics, the event log, the alerts raised here, this unit's tablets (a
technician signed in as staff assigns one or marks it lost or retired), the
configuration, out of service and back, a test print, and a released
resident's archive written to a USB stick (signed in as staff)."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from base.config import ConfigError, update_config_file
from device_security.alerts import AlertQueue
from hw.errors import DeviceGone, DeviceNotFound, HwError, ReadBackMismatch
from hw.mass_storage import LABEL, Progress, UsbStick
from hw.peripherals import BadgeReader, print_text
from hw.records import DockedDevice
from kiosk.answers import OFFLINE, AlertHere, Answer, Check, StickWritten, TabletHere
from kiosk.cache import KioskCache
from kiosk.central_client import CentralClient, CentralRefused, CentralUnavailable
from kiosk.config import KioskConfig, SyncConfig
from kiosk.dock import LastDock
from kiosk.events import Emit, ServiceChanged
from kiosk.i18n import N_
from kiosk.lockout import LockoutFile, after_try, locked
from kiosk.service_state import ServiceState

log = logging.getLogger(__name__)

UNREACHABLE = "the central server cannot be reached"
NO_STICK = N_("There is no USB stick in the port. Put one in and try again.")
STICK_PULLED = N_("The USB stick was taken out before the archive was whole, so nothing on "
                  "it counts. Put the stick back and write the archive again.")
STICK_BAD = N_("The USB stick gave back other bytes than were written to it. Try another "
               "stick.")


class DockPorts(Protocol):
    """What the menu reads of the dock (kiosk.dock.Dock)."""

    @property
    def watching(self) -> bool: ...

    @property
    def last_dock(self) -> LastDock | None: ...

    def ports(self) -> list[DockedDevice]: ...


class Maintenance:
    """The maintenance menu's work. ``client`` reaches the central server (for
    the link check and a technician's staff calls); ``round_now`` runs a round
    at once, so the kiosk's registry follows a tablet change."""

    def __init__(self, config: KioskConfig, sync_config: SyncConfig, *, client: CentralClient,
                 cache: KioskCache, dock: DockPorts, alerts: AlertQueue, service: ServiceState,
                 lockout: LockoutFile, emit: Emit, round_now: Callable[[], object],
                 badges: BadgeReader | None = None, config_path: Path | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.sync_config = sync_config
        self.config_path = config_path  # the TOML file it came from, for technicians' changes
        self.client = client
        self.cache = cache
        self.dock = dock
        self.alerts = alerts
        self.service = service
        self.lockout = lockout
        self.badges = badges
        self._emit = emit
        self._round_now = round_now
        self._clock = clock
        self._lock = threading.Lock()
        self._staff_token: str | None = None

    # -- who may open the menu ------------------------------------------------------------

    def technician_pin_ok(self, pin: str) -> bool:
        """Whether ``pin`` opens the menu (argon2id). After too many wrong PINs
        in a row no PIN opens it for a while (kiosk/lockout.py), across
        restarts; a badge still does. Each wrong PIN is logged."""
        stored = self.config.technician_pin_hash
        with self._lock:
            now = self._clock()
            state = self.lockout.load(now)
            if locked(state, now):
                log.warning("maintenance PIN refused: locked after repeated wrong PINs")
                return False
            if not stored or not pin:
                return False
            try:
                ok = bool(PasswordHasher().verify(stored, pin))
            except (VerifyMismatchError, InvalidHashError, VerificationError):
                ok = False
            after = after_try(state, ok, now)
            if after != state:
                self.lockout.save(after)
        if not ok:
            log.warning("a wrong maintenance PIN (%s)", "the PIN is now locked for a while"
                        if locked(after, now) else f"{after.failures} in a row")
        return ok

    def technician_badge_ok(self, badge: str) -> bool:
        ok = badge in self.config.technician_badges
        if ok:  # a technician's badge number is not for the log; who it was, is
            log.warning("maintenance menu opened by a technician badge ending %s", badge[-4:])
        else:
            log.warning("maintenance menu refused for badge %r", badge[:32])
        return ok

    # -- a technician signed in as staff ----------------------------------------------------

    def staff_sign_in(self, username: str, password: str) -> Answer[None]:
        """Sign in to the central server (for tablet changes), until :meth:`staff_sign_out`."""
        try:
            grant = self.client.staff_sign_in(username, password)
        except CentralRefused as e:
            return Answer.no(e.code, e.message)
        except CentralUnavailable:
            return Answer.no(OFFLINE, UNREACHABLE)
        with self._lock:
            self._staff_token = grant.token
        log.warning("staff %s signed in at the maintenance menu", username)
        return Answer(True)

    def staff_sign_out(self) -> None:
        with self._lock:
            token, self._staff_token = self._staff_token, None
        if token:
            try:
                self.client.staff_sign_out(token)
            except (CentralUnavailable, CentralRefused) as e:
                log.info("staff sign-out not confirmed by the server: %s", e)

    def change_tablet(self, serial: str, *, assign_to: str | None = None,
                      status: str | None = None) -> Answer[None]:
        """Assign a registered tablet to a resident (by agency ID), or mark it
        lost or retired, as the technician signed in; the kiosk's registry copy
        follows at once (a round)."""
        with self._lock:
            token = self._staff_token
        if not token:
            return Answer.no("not_signed_in", "sign in as staff first")
        try:
            if assign_to is not None:
                self.client.assign_tablet(token, serial, assign_to)
            else:
                self.client.set_tablet_status(token, serial, status or "")
        except CentralRefused as e:
            return Answer.no(e.code, e.message)
        except CentralUnavailable:
            return Answer.no(OFFLINE, UNREACHABLE)
        log.warning("tablet %s %s at the maintenance menu", serial,
                    f"assigned to {assign_to}" if assign_to else f"marked {status}")
        self._round_now()
        return Answer(True)

    def archive_to_stick(self, resident_agency_id: str,
                         progress: Progress | None = None) -> Answer[StickWritten]:
        """Write released resident ``resident_agency_id``'s whole archive (a
        zip from the central server, audited there with this kiosk and the
        staff member) to the USB stick, whole or not at all: written under a
        temporary name, fsynced, read back from the stick and its SHA-256
        compared with what came, opened as a zip, and only then named
        (:mod:`hw.mass_storage`). ``progress`` hears each stage. A stick
        pulled out at any point answers ``stick_pulled`` and counts nothing
        as written; put back, the same call writes it again."""
        with self._lock:
            token = self._staff_token
        if not token:
            return Answer.no("not_signed_in", "sign in as staff first")
        if not self.config.usb_stick:
            return Answer.no("no_stick", "this kiosk has no USB stick port configured")
        stick = UsbStick(Path(self.config.usb_stick))
        agency_id = resident_agency_id.strip()
        if not LABEL.match(agency_id):
            return Answer.no("bad_id", "type the released resident's ID")
        counted: list[int] = []

        def check(path: Path) -> None:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
                if bad is not None:
                    raise zipfile.BadZipFile(f"{bad} is damaged")
                counted.append(len(archive.namelist()))

        try:
            room = stick.free_bytes()
            written = stick.write(f"archive-{agency_id}", ".zip", lambda sink: (
                self.client.released_archive(token, agency_id, sink, limit=room)), check,
                progress)
        except CentralRefused as e:
            return Answer.no(e.code, e.message)
        except CentralUnavailable:
            return Answer.no(OFFLINE, UNREACHABLE)
        except zipfile.BadZipFile as e:
            return Answer.no("bad_archive", f"the archive did not arrive whole ({e}); "
                             "nothing was left on the stick")
        except DeviceNotFound as e:
            log.info("no stick to write to: %s", e)
            return Answer.no("no_stick", NO_STICK)
        except DeviceGone as e:
            log.warning("the archive of released resident %s is not written: %s", agency_id, e)
            return Answer.no("stick_pulled", STICK_PULLED)
        except ReadBackMismatch as e:
            log.error("the archive of released resident %s is not written: %s", agency_id, e)
            return Answer.no("stick_bad", STICK_BAD)
        except HwError as e:
            return Answer.no("stick", str(e))
        log.warning("the archive of released resident %s was written to the USB stick (%s, "
                    "SHA-256 %s)", agency_id, written.path.name, written.sha256)
        return Answer.of(StickWritten(written.path.name, written.size, counted[0],
                                      written.sha256))

    # -- what the menu shows ------------------------------------------------------------------

    def diagnostics(self) -> list[Check]:
        """Each check a technician reads first."""
        k = self.config
        checks: list[Check] = []
        started = time.monotonic()
        url = self.sync_config.central_url
        try:
            self.client.heads()
            checks.append(Check("central link", True, f"{url} answered in "
                                f"{(time.monotonic() - started) * 1000:.0f} ms"))
        except (CentralUnavailable, CentralRefused) as e:
            checks.append(Check("central link", False, f"{url}: {e}; last good round "
                                f"{self.cache.meta('central_last_ok') or 'never'}"))
        disk = shutil.disk_usage(self.cache.directory)
        checks.append(Check("disk", disk.free > 1 << 30,
                            f"{disk.free / 1e9:.1f} GB free of {disk.total / 1e9:.1f} GB"))
        if self.dock.watching:
            ports = self.dock.ports()
            checks.append(Check("dock ports", True, f"watching; {len(ports)} tablet(s) "
                                "plugged: " + (", ".join(f"{d.serial} on {d.link_address}"
                                                         for d in ports) or "none")))
        else:
            checks.append(Check("dock ports", False,
                                "not watching yet (waiting for the first round)"))
        if self.badges is None:
            checks.append(Check("badge reader", True, "none configured"))
        else:
            checks.append(Check("badge reader", self.badges.running,
                                f"{k.badge_reader}: {self.badges.swipes} swipes read"
                                + (f"; {self.badges.last_error}" if self.badges.last_error
                                   else "")))
        checks.append(Check("printer", True,
                            k.printer or "none configured (use Test print to check one)"))
        if k.usb_stick:
            stick = UsbStick(Path(k.usb_stick))
            checks.append(Check("USB stick", True, (
                f"{k.usb_stick}: {stick.free_bytes() / 1e9:.1f} GB free") if stick.present()
                else f"{k.usb_stick}: no stick in the port"))
        last = self.dock.last_dock
        checks.append(Check("tablet link", True, (
            f"last dock: {last.serial} moved {last.bytes / 1e6:.1f} MB in {last.seconds:.1f} s "
            f"({last.bytes / 1e6 / max(last.seconds, 1e-3):.1f} MB/s)") if last
            else "no tablet synced since the kiosk started"))
        counts = self.alerts.counts()
        checks.append(Check("alert queue", True,
                            ", ".join(f"{name} {n}" for name, n in counts.items())))
        since = self.service.out_of_service_since()
        checks.append(Check("service", since is None, "in service" if since is None
                            else f"out of service since {since}"))
        return checks

    def event_log(self, lines: int = 80) -> str:
        """The end of the kiosk's log."""
        try:
            with self.config.log_path.open("rb") as f:
                f.seek(max(0, f.seek(0, 2) - 64 * 1024))
                tail = f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n".join(tail)

    def alerts_here(self) -> list[AlertHere]:
        return [AlertHere(a.alert.raised_at.strftime("%Y-%m-%d %H:%M"), a.alert.reason,
                          a.alert.tablet_serial, a.alert.resident_id, state)
                for a, state in self.alerts.recent(50)]

    def tablets_here(self) -> list[TabletHere]:
        out = []
        for t in self.cache.status()["tablets"]:
            known = self.cache.tablet(t["serial"]) or {}
            out.append(TabletHere(t["serial"], t["status"], known.get("resident_agency_id"),
                                  t["last_sync_at"]))
        return out

    def configuration(self) -> dict[str, str]:
        """The settings a technician reads, by name."""
        k, s = self.config, self.sync_config
        return {"location code": k.location_code, "unit": k.unit,
                "central server": s.central_url, "state": str(k.state_path),
                "cache": str(s.cache_path), "badge reader": k.badge_reader or "none",
                "printer": k.printer or "none", "USB stick": k.usb_stick or "none",
                "alert mail": k.alert_to or "none",
                "logout after": f"{k.inactivity_s:.0f} s without a touch"}

    def save_configuration(self, *, location_code: str, unit: str,
                           central_url: str) -> Answer[None]:
        """A technician's change to where this kiosk stands and which server it
        talks to, checked, then written to its TOML file; it applies when the
        kiosk restarts."""
        if self.config_path is None:
            return Answer.no("no_file", "this kiosk was started without a file to change")
        location_code, unit, central_url = (location_code.strip(), unit.strip(),
                                            central_url.strip())
        try:
            dataclasses.replace(self.config, location_code=location_code, unit=unit)
            dataclasses.replace(self.sync_config, central_url=central_url)
        except ValueError as e:
            return Answer.no("invalid", str(e))
        try:
            update_config_file(self.config_path, {
                "kiosk": {"location_code": location_code, "unit": unit},
                "sync": {"central_url": central_url}})
        except (ConfigError, OSError) as e:
            return Answer.no("not_written", str(e))
        log.warning("configuration changed at the maintenance menu: location %s, unit %s, "
                    "central server %s (applies at the next start)", location_code, unit,
                    central_url)
        return Answer(True)

    def set_in_service(self, in_service: bool) -> int | None:
        """Put the kiosk in or out of service (kept across restarts); tablets
        hear of it at their next contact. Returns since when it is out."""
        since = self.service.set(in_service)
        log.warning("kiosk %s is %s", self.config.location_code,
                    "back in service" if in_service else "out of service")
        self._emit(ServiceChanged(in_service, since))
        return since

    def test_print(self) -> str:
        if not self.config.printer:
            return "No printer is configured ([kiosk] printer)."
        try:
            print_text(self.config.printer, f"Sallyport kiosk {self.config.location_code}\n"
                       f"test print {time.strftime('%Y-%m-%d %H:%M:%S')}")
        except HwError as e:
            return f"The printer did not take the test page: {e}"
        return f"Test page sent to {self.config.printer}."
