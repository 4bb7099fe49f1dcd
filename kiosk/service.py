"""The kiosk without its screen: rounds with the central server, the dock, and
who is logged in.

Three kinds of work run here, each on its own threads, and report through
one ``emit`` callback as plain dicts (the screen turns them into what a
resident sees; ``sallyport kiosk headless`` prints them as JSON lines):

* **Rounds** with the central server (kiosk/rounds.py): drafts, receipts
  and alerts up; tablets, feeds and blobs down. Events ``round`` and
  ``central`` (when the server comes or goes).
* **The dock**: udev reports a tablet arriving (hw/hotplug.py); the pairing
  gate decides (device_security), and an allowed tablet syncs from the cache
  (kiosk/dock.py). Events ``plugged``, ``pairing``, ``progress``, ``docked``
  (with ``safe_to_unplug``) and ``unplugged``.
* **The resident**: log in with ID and PIN through the central server, change
  the first-login PIN, log out. Only a logged-in resident's own tablet may
  sync; a tablet docked with nobody logged in is refused and alerted.

Everything a dock needs is local (the cache, the registry copy, the alert
queue), so docking goes on while the server is away.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import secrets
import shutil
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography import x509

from base.config import ConfigError, update_config_file
from base.files import write_atomic
from device_security.alerts import Alerter, AlertQueue, SmtpAlertMailer, SmtpSettings
from device_security.channel import Credentials
from device_security.errors import ChannelError
from device_security.pairing import DockedTablet, PairingGate, TabletTerms
from device_security.pki import TrustAnchors
from device_security.policy import KioskSession
from device_security.registry import Registry
from hw.config import HwConfig
from hw.errors import HwError
from hw.hotplug import UdevHotplug
from hw.peripherals import BadgeReader, print_text
from hw.records import DockedDevice, HotplugEvent
from hw.serial_link import SerialLink, open_link
from kiosk.cache import REFUSED, KioskCache
from kiosk.central_client import CentralClient, CentralRefused, CentralUnavailable
from kiosk.config import KioskConfig, SyncConfig
from kiosk.dock import DockOutcome, dock_and_sync
from kiosk.inbox import MAX_LETTER_CHARS, Inbox
from kiosk.resident import LoginRefused, Resident, ResidentDesk
from kiosk.rounds import CentralSync, Round, final
from kiosk.terms import TermsLedger
from sync.session import Progress

log = logging.getLogger(__name__)

Event = dict[str, Any]
FIRST_ROUND_WAIT_S = 20.0  # the dock opens after the first round, or after this
TECHNICIAN_TRIES = 5  # wrong maintenance PINs before the PIN is refused for a while
TECHNICIAN_LOCKOUT_S = 15 * 60


class KioskService:
    """One kiosk's work without its screen. The constructor does no I/O;
    :meth:`start` opens the state and starts the threads, :meth:`stop` ends
    them."""

    def __init__(self, kiosk: KioskConfig, sync: SyncConfig, hw: HwConfig, *,
                 emit: Callable[[Event], None], config_path: Path | None = None) -> None:
        self.config = kiosk
        self.config_path = config_path  # the TOML file it came from, for technicians' changes
        self.sync_config = sync
        self.hw_config = hw
        self._emit_to = emit
        self._emit_lock = threading.Lock()
        self._stop = threading.Event()
        self._first_round = threading.Event()
        self._lock = threading.Lock()
        self._resident: Resident | None = None
        self._online: bool | None = None
        self._plugs = itertools.count(1)
        self._docks: dict[str, tuple[str, threading.Thread]] = {}  # sys_path -> plug id, thread
        self._threads: list[threading.Thread] = []
        self._hotplug: UdevHotplug | None = None
        self._badges: BadgeReader | None = None
        self._last_dock: dict[str, Any] | None = None  # for the link check in diagnostics
        self._staff_token: str | None = None  # a technician signed in at the maintenance menu
        self._technician_failures = 0
        self._technician_locked_until = 0.0
        self.cache: KioskCache | None = None

    # -- life ----------------------------------------------------------------------------

    def start(self) -> None:
        """Open the state and start rounds and the dock watcher. Raises
        ValueError for settings that cannot work (say, no certificate)."""
        k, s = self.config, self.sync_config
        credentials = s.credentials()
        k.state_path.mkdir(parents=True, exist_ok=True)
        s.cache_path.mkdir(parents=True, exist_ok=True)
        self.cache = KioskCache(s.cache_path)
        self.registry = Registry(k.state_path / "registry.db")
        self.alerts = AlertQueue(s.alert_queue_path or k.state_path / "alerts.db")
        mailer = SmtpAlertMailer(SmtpSettings(k.smtp_host, k.smtp_port, k.alert_from,
                                              k.alert_to)) if k.smtp_host else None
        ca = x509.load_pem_x509_certificate(credentials.ca.read_bytes())
        crl = x509.load_pem_x509_crl(Path(k.crl).read_bytes()) if k.crl else None
        self.alerter = Alerter(self.alerts, mailer)
        self.gate = PairingGate(
            credentials=Credentials(credentials.certificate, credentials.key),
            trust=TrustAnchors(ca, crl), registry=self.registry,
            alerter=self.alerter, kiosk_location=k.location_code,
            handshake_timeout=k.handshake_timeout_s, terms=self.tablet_terms)
        # Two connections: rounds run on their own thread, resident calls on the caller's.
        self._rounds_client = CentralClient(s.central_url, credentials,
                                            timeout=s.request_timeout_s, attempts=2)
        self.desk = ResidentDesk(CentralClient(s.central_url, credentials,
                                               timeout=s.request_timeout_s, attempts=2))
        self.pump = CentralSync(self._rounds_client, self.cache, registry=self.registry,
                                alerts=self.alerts)
        # Letters go up at once, on the resident calls' connection (rounds retry them).
        self._letters = CentralSync(self.desk.client, self.cache)
        self.inbox = Inbox(self.cache)
        self.terms = TermsLedger(k.state_path / "terms.json")
        self._spawn("rounds", self._rounds)
        self._spawn("dock-watch", self._watch_dock)
        if k.badge_reader:
            self._badges = BadgeReader(k.badge_reader, lambda badge: self.emit(
                {"event": "badge", "badge": badge}))
            self._badges.start()
        self.emit({"event": "started", "location": k.location_code, "unit": k.unit})

    def stop(self) -> None:
        self._stop.set()
        if self._hotplug is not None:
            self._hotplug.stop()
        if self._badges is not None:
            self._badges.stop()
        with self._lock:
            docks = [thread for _, thread in self._docks.values()]
        for thread in [*self._threads, *docks]:
            thread.join(10)
        self._rounds_client.close()
        self.desk.client.close()
        if self.cache is not None:
            self.cache.close()
        self.emit({"event": "stopped"})

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def emit(self, event: Event) -> None:
        event.setdefault("at", round(time.time(), 3))
        with self._emit_lock:  # one event at a time, whole
            self._emit_to(event)

    # -- the resident --------------------------------------------------------------------

    @property
    def resident(self) -> Resident | None:
        with self._lock:
            return self._resident

    def login(self, agency_id: str, pin: str) -> Event:
        """Log a resident in; the answer says whether a new PIN is needed first."""
        resident, refusal = self._ask(lambda: self.desk.login(agency_id, pin))
        if resident is None:
            return refusal
        with self._lock:
            self._resident = resident
        self._renew_letters(resident)
        log.info("resident %s logged in%s", resident.agency_id or agency_id,
                 " (must choose a new PIN)" if resident.must_change_pin else "")
        return {"ok": True, "must_change_pin": resident.must_change_pin,
                "name": resident.name, "agency_id": resident.agency_id}

    def change_pin(self, old_pin: str, new_pin: str) -> Event:
        resident = self.resident
        if resident is None:
            return {"ok": False, "code": "not_logged_in", "message": "Log in first."}
        done, refusal = self._ask(lambda: self.desk.change_pin(resident, old_pin, new_pin))
        if done is None:
            return refusal
        with self._lock:
            self._resident = done
        self._renew_letters(done)
        return {"ok": True, "name": done.name, "agency_id": done.agency_id}

    def call(self, work: Callable[[Resident], Any]) -> Event:
        """A resident call to the central server for the resident logged in:
        ``{"ok": True, "value": ...}``, or why not (``not_logged_in``,
        ``offline``, or the server's refusal with its message). ``unsure`` is
        True when nobody knows whether the server did it (it was away, busy
        with the same request, or failed itself): a retry must carry the same
        idempotency key."""
        resident = self.resident
        if resident is None or not resident.ready:
            return {"ok": False, "code": "not_logged_in", "message": "Log in first."}
        try:
            return {"ok": True, "value": work(resident)}
        except LoginRefused as e:
            return {"ok": False, "code": e.code, "message": e.message}
        except CentralRefused as e:
            return {"ok": False, "code": e.code, "message": e.message, "unsure": not final(e)}
        except CentralUnavailable:
            return {"ok": False, "code": "offline", "unsure": True, "message": "The central "
                    "server cannot be reached right now; try again in a few minutes."}

    def resident_home(self) -> Event:
        """Balances and tablets from the server; while it is away, the last ones
        read here (``as_of`` says when)."""
        answer = self._kept("home", self.desk.home)
        return {**answer, **answer.pop("value")} if answer["ok"] else answer

    def contacts(self) -> Event:
        """The resident's approved contacts (the last list read here while the
        server is away): ``value`` is a list of {id, name, relationship}."""
        return self._kept("contacts", self.desk.contacts)

    def _kept(self, name: str, work: Callable[[Resident], Any]) -> Event:
        """A resident call whose answer is kept in the cache and given, with
        ``online`` False and ``as_of``, while the server cannot be reached."""
        resident = self.resident
        answer = self.call(work)
        if resident is None or self.cache is None or not resident.ready:
            return answer
        key = f"{name}:{resident.resident_id}"
        if answer["ok"]:
            now = int(time.time())
            self.cache.set_meta(key, json.dumps({"value": answer["value"], "as_of": now}))
            return {"ok": True, "online": True, "as_of": now, "value": answer["value"]}
        kept = self.cache.meta(key)
        if answer["code"] == "offline" and kept:
            return {"ok": True, "online": False, **json.loads(kept)}
        return answer

    def _renew_letters(self, resident: Resident) -> None:
        if resident.ready and self.cache is not None:
            renewed = self.cache.renew_letters(resident.resident_id, resident.token)
            if renewed:
                log.info("%d letters of %s go up with their new session", renewed,
                         resident.agency_id)

    def write_letter(self, contact_id: int, body: str, uid: str | None = None) -> Event:
        """A message from the resident logged in: kept in the cache first, then
        sent at once if the central server answers (else by a later round). The
        same ``uid`` again sends nothing twice."""
        resident = self.resident
        if resident is None or not resident.ready:
            return {"ok": False, "code": "not_logged_in", "message": "Log in first."}
        text = body.strip()
        if not text or len(text) > MAX_LETTER_CHARS:
            return {"ok": False, "code": "bad_length",
                    "message": f"A message is 1 to {MAX_LETTER_CHARS} characters."}
        assert self.cache is not None
        uid = uid or "k-" + secrets.token_urlsafe(18)
        self.cache.queue_letter(uid, resident_id=resident.resident_id, contact_id=contact_id,
                                body=text, token=resident.token)
        with contextlib.suppress(CentralUnavailable):  # it stays queued for the rounds
            self._letters.send_letter(uid)
        letter = self.cache.letter(resident.resident_id, uid)
        if letter is None:  # the uid is another resident's letter's
            return {"ok": False, "code": "uid_taken", "message": "Write it again."}
        return {"ok": letter["state"] != REFUSED, "uid": uid, "state": letter["state"],
                "message": letter["result"] if letter["state"] == REFUSED else ""}

    @staticmethod
    def _ask(call: Callable[[], Resident]) -> tuple[Resident | None, Event]:
        """A resident call to the server: its answer, or why there is none."""
        try:
            return call(), {}
        except LoginRefused as e:
            return None, {"ok": False, "code": e.code, "message": e.message}
        except CentralUnavailable:
            return None, {"ok": False, "code": "offline", "message": "The central server "
                          "cannot be reached; try again shortly."}

    def logout(self) -> Event:
        self.tell_server_logout(self.end_session())
        return {"ok": True}

    def end_session(self) -> Resident | None:
        """Forget who is logged in, at once (docking and calls are no longer
        theirs); returns them, for :meth:`tell_server_logout`."""
        with self._lock:
            resident, self._resident = self._resident, None
        return resident

    def tell_server_logout(self, resident: Resident | None) -> None:
        """End a forgotten session on the server too (it may be slow or away)."""
        if resident is not None:
            try:
                self.desk.logout(resident)
            except Exception as e:  # noqa: BLE001 - the kiosk forgets them either way
                log.info("logout not confirmed by the server: %s", e)

    def kiosk_session(self) -> KioskSession | None:
        """Who docking is for: a resident logged in for good, or nobody."""
        resident = self.resident
        if resident is None or not resident.ready:
            return None
        unit = self.config.unit  # the server logs residents in only on their own unit
        return KioskSession(resident.agency_id, resident.name, frozenset({unit}), unit)

    # -- in service or not -------------------------------------------------------------

    def out_of_service_since(self) -> int | None:
        """When a technician took this kiosk out of service (epoch seconds), or None."""
        path = self.config.state_path / "service.json"
        try:
            since = json.loads(path.read_text()).get("out_of_service_since")
        except (OSError, ValueError, AttributeError):
            return None
        return since if type(since) is int and since >= 0 else None

    def set_in_service(self, in_service: bool) -> Event:
        """Put the kiosk in or out of service (kept across restarts). Tablets
        hear of it at their next contact; their lock timers pause meanwhile."""
        since = None if in_service else (self.out_of_service_since() or int(time.time()))
        write_atomic(self.config.state_path / "service.json",
                     json.dumps({"out_of_service_since": since}).encode())
        log.warning("kiosk %s is %s", self.config.location_code,
                    "back in service" if in_service else "out of service")
        self.emit({"event": "service", "in_service": in_service, "since": since})
        return {"ok": True, "in_service": in_service, "since": since}

    def tablet_terms(self) -> TabletTerms:
        """What every genuine tablet is told at its dock (device_security.pairing)."""
        policy = self.cache.agency_policy() if self.cache is not None else None
        policy = policy or {}
        return TabletTerms(lock_after_days=policy.get("tablet_lock_days"),
                           stamps_per_message=policy.get("stamps_per_message"),
                           out_of_service_since=self.out_of_service_since())

    # -- rounds --------------------------------------------------------------------------

    def _rounds(self) -> None:
        interval = self.sync_config.round_interval_s
        wait = interval
        while not self._stop.is_set():
            try:
                done = self.pump.run_once()
            except Exception:  # a bug or a broken cache: say so, keep the rounds alive
                log.exception("a round with the central server failed")
                done = Round(error="the round failed; see the log")
            self._first_round.set()
            self._round_done(done)
            wait = interval if done.reached_central else min(60.0, max(wait * 2, interval))
            self._stop.wait(wait)

    def run_round(self) -> Round:
        """A round now, on the caller's thread (the rounds thread goes on)."""
        done = self.pump.run_once()
        self._round_done(done)
        return done

    def _round_done(self, done: Round) -> None:
        online = done.reached_central
        with self._lock:
            changed, self._online = self._online != online, online
        if changed:
            self.emit({"event": "central", "online": online, "error": done.error})
        moved = (done.sent_alerts, done.sent_drafts, done.refused_drafts, done.sent_receipts,
                 done.records, done.blobs)
        if any(moved) or (changed and not online):
            self.emit({"event": "round", "online": online, "sent_alerts": done.sent_alerts,
                       "sent_drafts": done.sent_drafts,
                       "refused_drafts": done.refused_drafts,
                       "sent_receipts": done.sent_receipts, "records": done.records,
                       "blobs": done.blobs, "blob_bytes": done.blob_bytes,
                       "error": done.error})

    # -- the dock ------------------------------------------------------------------------

    def _watch_dock(self) -> None:
        # The registry copy comes with the first round: until then every
        # tablet would look unknown, so the dock waits for it (or a while).
        self._first_round.wait(FIRST_ROUND_WAIT_S)
        if self._stop.is_set():
            return
        hw = self.hw_config
        self._hotplug = UdevHotplug(hw.matches(), poll_interval=hw.poll_interval,
                                    settle=hw.settle)
        self._hotplug.start(self._on_hotplug)
        self.emit({"event": "dock_ready"})

    def _on_hotplug(self, event: HotplugEvent) -> None:
        device = event.device
        if event.kind == "left":
            with self._lock:
                entry = self._docks.get(device.sys_path)
            if entry is not None:
                self.alerter.device_left(entry[0])  # its next arrival may alert again
            self.emit({"event": "unplugged", "usb_serial": device.serial,
                       "port": device.sys_path})
            return
        plug_id = f"{device.sys_path}#{next(self._plugs)}"
        self.emit({"event": "plugged", "usb_serial": device.serial, "port": device.sys_path})
        with self._lock:
            before = self._docks.get(device.sys_path)
            thread = threading.Thread(target=self._dock, args=(device, plug_id, before),
                                      name=f"dock-{device.serial or '?'}", daemon=True)
            self._docks[device.sys_path] = (plug_id, thread)
        thread.start()

    def _dock(self, device: DockedDevice, plug_id: str,
              before: tuple[str, threading.Thread] | None) -> None:
        if before is not None:
            before[1].join(30)  # the same port's last dock ends first (its link is gone)
        tablet = DockedTablet(device.serial, device.interface_classes, plug_id=plug_id)

        def open_stream() -> SerialLink:
            if device.link_address is None:
                raise HwError(f"{device.sys_path} has no serial link")
            return open_link(device.link_address)

        assert self.cache is not None
        try:
            outcome = dock_and_sync(self.gate, tablet, open_stream, self.kiosk_session(),
                                    self.cache, kiosk=self.config.location_code,
                                    on_progress=self._progress)
        except (HwError, ChannelError, TimeoutError, OSError) as e:
            log.info("tablet %s left during pairing: %s", device.serial, e)
            self.emit({"event": "docked", "usb_serial": device.serial, "paired": False,
                       "synced": False, "safe_to_unplug": True,
                       "problem": "the tablet was unplugged before pairing finished"})
            return
        except Exception:
            log.exception("docking %s failed", device.serial)
            self.emit({"event": "docked", "usb_serial": device.serial, "paired": False,
                       "synced": False, "safe_to_unplug": True,
                       "problem": "the kiosk could not finish; a technician can read its log"})
            return
        self._report(device, outcome)

    def _progress(self, p: Progress) -> None:
        self.emit({"event": "progress", **asdict(p)})

    def _report(self, device: DockedDevice, outcome: DockOutcome) -> None:
        d = outcome.pairing.decision
        peer = outcome.pairing.peer
        self.emit({"event": "pairing", "usb_serial": device.serial,
                   "serial": peer.serial if peer is not None else None,
                   "allowed": d.allowed, "reason": d.reason, "detail": d.detail,
                   "alerted": outcome.pairing.alerted})
        summary = outcome.summary
        if summary is not None:
            self._last_dock = {"serial": summary.serial, "bytes": summary.blob_bytes,
                               "seconds": summary.seconds, "at": int(time.time())}
        self.emit({"event": "docked", "usb_serial": device.serial, "paired": d.allowed,
                   "synced": outcome.synced, "safe_to_unplug": True,
                   "problem": outcome.problem,
                   "records": summary.records if summary else 0,
                   "files": summary.blobs if summary else 0,
                   "drafts_up": summary.outbox if summary else 0})

    def diagnostics_for_ticket(self) -> Event:
        """What a trouble ticket carries from this kiosk (no one else's data)."""
        resident = self.resident
        tablets = []
        if resident is not None and self.cache is not None:
            tablets = [{"serial": t["serial"], "status": t["status"],
                        "last_sync_at": t["last_sync_at"]}
                       for t in self.cache.status()["tablets"]
                       if t["resident_id"] == resident.resident_id]
        return {"kiosk": self.config.location_code, "unit": self.config.unit,
                "central_online": self._online, "tablets": tablets,
                "docked_now": sum(1 for _, t in self._docks.values() if t.is_alive()),
                "at": int(time.time())}

    # -- for technicians -----------------------------------------------------------------

    def technician_pin_ok(self, pin: str) -> bool:
        """Whether ``pin`` opens the maintenance menu (argon2id). After
        TECHNICIAN_TRIES wrong PINs no PIN opens it for TECHNICIAN_LOCKOUT_S
        (a badge still does), and each wrong PIN is logged."""
        stored = self.config.technician_pin_hash
        now = time.monotonic()
        with self._lock:
            if now < self._technician_locked_until:
                log.warning("maintenance PIN refused: locked after repeated wrong PINs")
                return False
        if not stored or not pin:
            return False
        try:
            ok = bool(PasswordHasher().verify(stored, pin))
        except (VerifyMismatchError, InvalidHashError, VerificationError):
            ok = False
        with self._lock:
            if ok:
                self._technician_failures = 0
            else:
                self._technician_failures += 1
                log.warning("a wrong maintenance PIN (%d in a row)", self._technician_failures)
                if self._technician_failures >= TECHNICIAN_TRIES:
                    self._technician_failures = 0
                    self._technician_locked_until = now + TECHNICIAN_LOCKOUT_S
        return ok

    def staff_sign_in(self, username: str, password: str) -> Event:
        """A technician signs in to the central server from the maintenance
        menu (for tablet changes); the session lasts until :meth:`staff_sign_out`."""
        try:
            answer = self.desk.client.call("POST", "/v1/staff/sessions",
                                           json={"username": username, "password": password})
        except CentralRefused as e:
            return {"ok": False, "code": e.code, "message": e.message}
        except CentralUnavailable:
            return {"ok": False, "code": "offline", "message": "the central server cannot "
                    "be reached"}
        with self._lock:
            self._staff_token = str(answer["token"])
        log.warning("staff %s signed in at the maintenance menu", username)
        return {"ok": True}

    def staff_sign_out(self) -> None:
        with self._lock:
            token, self._staff_token = self._staff_token, None
        if token:
            with contextlib.suppress(CentralUnavailable, CentralRefused):
                self.desk.client.call("DELETE", "/v1/staff/sessions", token=token)

    def staff_change_tablet(self, serial: str, *, assign_to: str | None = None,
                            status: str | None = None) -> Event:
        """Assign a registered tablet to a resident (by agency ID), or mark it
        lost or retired, as the technician signed in; the kiosk's registry
        copy follows at once (a round)."""
        with self._lock:
            token = self._staff_token
        if not token:
            return {"ok": False, "code": "not_signed_in",
                    "message": "sign in as staff first"}
        quoted = urllib.parse.quote(serial, safe="")
        path, body = ((f"/v1/staff/tablets/{quoted}/assignment",
                       {"resident_agency_id": assign_to}) if assign_to is not None
                      else (f"/v1/staff/tablets/{quoted}/status", {"status": status}))
        try:
            self.desk.client.call("POST", path, token=token, json=body)
        except CentralRefused as e:
            return {"ok": False, "code": e.code, "message": e.message}
        except CentralUnavailable:
            return {"ok": False, "code": "offline", "message": "the central server cannot "
                    "be reached"}
        log.warning("tablet %s %s at the maintenance menu", serial,
                    f"assigned to {assign_to}" if assign_to else f"marked {status}")
        self.run_round()
        return {"ok": True}

    def technician_badge_ok(self, badge: str) -> bool:
        ok = badge in self.config.technician_badges
        if ok:  # a technician's badge number is not for the log; who it was, is
            log.warning("maintenance menu opened by a technician badge ending %s", badge[-4:])
        else:
            log.warning("maintenance menu refused for badge %s", badge)
        return ok

    def diagnostics(self) -> list[Event]:
        """Each check a technician reads first: name, ok, and what was found."""
        assert self.cache is not None
        k = self.config
        checks: list[Event] = []
        started = time.monotonic()
        try:
            self.desk.client.call("GET", "/v1/kiosk/heads")
            checks.append({"name": "central link", "ok": True, "detail": (
                f"{self.sync_config.central_url} answered in "
                f"{(time.monotonic() - started) * 1000:.0f} ms")})
        except (CentralUnavailable, CentralRefused) as e:
            checks.append({"name": "central link", "ok": False, "detail": (
                f"{self.sync_config.central_url}: {e}; last good round "
                f"{self.cache.meta('central_last_ok') or 'never'}")})
        disk = shutil.disk_usage(self.cache.directory)
        checks.append({"name": "disk", "ok": disk.free > 1 << 30,
                       "detail": f"{disk.free / 1e9:.1f} GB free of {disk.total / 1e9:.1f} GB"})
        ports = self._hotplug.scan() if self._hotplug is not None else []
        checks.append({"name": "dock ports", "ok": self._hotplug is not None, "detail": (
            f"watching; {len(ports)} tablet(s) plugged: "
            + (", ".join(f"{d.serial} on {d.link_address}" for d in ports) or "none"))
            if self._hotplug is not None else "not watching yet (waiting for the first round)"})
        if self._badges is None:
            checks.append({"name": "badge reader", "ok": True, "detail": "none configured"})
        else:
            checks.append({"name": "badge reader", "ok": self._badges.running, "detail": (
                f"{k.badge_reader}: {self._badges.swipes} swipes read"
                + (f"; {self._badges.last_error}" if self._badges.last_error else ""))})
        checks.append({"name": "printer", "ok": True,
                       "detail": k.printer or "none configured (use Test print to check one)"})
        last = self._last_dock
        checks.append({"name": "tablet link", "ok": True, "detail": (
            f"last dock: {last['serial']} moved {last['bytes'] / 1e6:.1f} MB in "
            f"{last['seconds']:.1f} s ({last['bytes'] / 1e6 / max(last['seconds'], 1e-3):.1f} "
            f"MB/s)") if last else "no tablet synced since the kiosk started"})
        alerts = self.alerts.counts()
        checks.append({"name": "alert queue", "ok": True, "detail": json.dumps(alerts)})
        out_since = self.out_of_service_since()
        checks.append({"name": "service", "ok": out_since is None, "detail": (
            "in service" if out_since is None else f"out of service since {out_since}")})
        return checks

    def event_log(self, lines: int = 80) -> str:
        """The end of the kiosk's log, for technicians."""
        try:
            with self.config.log_path.open("rb") as f:
                f.seek(max(0, f.seek(0, 2) - 64 * 1024))
                tail = f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n".join(tail)

    def alerts_here(self) -> list[Event]:
        return [{"raised_at": a.alert.raised_at.strftime("%Y-%m-%d %H:%M"),
                 "reason": a.alert.reason, "tablet_serial": a.alert.tablet_serial,
                 "resident_id": a.alert.resident_id, "state": state}
                for a, state in self.alerts.recent(50)]

    def configuration(self) -> dict[str, str]:
        k, s = self.config, self.sync_config
        return {"location code": k.location_code, "unit": k.unit,
                "central server": s.central_url, "state": str(k.state_path),
                "cache": str(s.cache_path), "badge reader": k.badge_reader or "none",
                "printer": k.printer or "none", "alert mail": k.alert_to or "none",
                "logout after": f"{k.inactivity_s:.0f} s without a touch"}

    def save_configuration(self, *, location_code: str, unit: str,
                           central_url: str) -> Event:
        """A technician's change to where this kiosk stands and which server it
        talks to, checked, then written to its TOML file; it applies when the
        kiosk restarts."""
        if self.config_path is None:
            return {"ok": False, "message": "this kiosk was started without a file to change"}
        try:
            dataclasses.replace(self.config, location_code=location_code.strip(),
                                unit=unit.strip())
            dataclasses.replace(self.sync_config, central_url=central_url.strip())
        except ValueError as e:
            return {"ok": False, "message": str(e)}
        try:
            update_config_file(self.config_path, {
                "kiosk": {"location_code": location_code.strip(), "unit": unit.strip()},
                "sync": {"central_url": central_url.strip()}})
        except (ConfigError, OSError) as e:
            return {"ok": False, "message": str(e)}
        log.warning("configuration changed at the maintenance menu: location %s, unit %s, "
                    "central server %s (applies at the next start)", location_code, unit,
                    central_url)
        return {"ok": True}

    def tablets_here(self) -> list[Event]:
        assert self.cache is not None
        return [{**t, "resident_agency_id": (self.cache.tablet(t["serial"]) or {}).get(
            "resident_agency_id")} for t in self.cache.status()["tablets"]]

    def test_print(self) -> str:
        if not self.config.printer:
            return "No printer is configured ([kiosk] printer)."
        try:
            print_text(self.config.printer, f"Sallyport kiosk {self.config.location_code}\n"
                       f"test print {time.strftime('%Y-%m-%d %H:%M:%S')}")
        except HwError as e:
            return f"The printer did not take the test page: {e}"
        return f"Test page sent to {self.config.printer}."

    def status(self) -> Event:
        assert self.cache is not None
        resident = self.resident
        return {"online": self._online, "location": self.config.location_code,
                "unit": self.config.unit,
                "resident": resident.agency_id if resident is not None else None,
                "docks": sorted(self._docks), "cache": self.cache.status()}
