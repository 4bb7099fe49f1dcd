"""The kiosk's dock ports: udev reports a tablet arriving (hw/hotplug.py);
pairing (device_security.pairing) decides whether it may sync here now and
opens the mutual-TLS channel; the sync counter it accepted is queued for the
central server, which passes it on to every kiosk's registry; the session
(sync.session) then runs inside the channel, from the kiosk's cache. The
tablet's signing key is the one its certificate names, so the receipts and
drafts it signs are checked against the identity that just proved itself in
the handshake. Each dock runs on a thread of its own; the screen hears of it
through events.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from device_security.alerts import Alerter
from device_security.channel import ByteStream
from device_security.errors import ChannelError
from device_security.pairing import DockedTablet, PairingGate, PairingResult
from device_security.policy import KioskSession
from hw.config import HwConfig
from hw.errors import HwError
from hw.hotplug import UdevHotplug
from hw.records import DockedDevice, HotplugEvent
from hw.worker import DeviceIO, DeviceWorker
from kiosk.cache import KioskCache
from kiosk.events import Docked, DockReady, Emit, PairingDecided, Plugged, SyncProgress, Unplugged
from sync.session import DockedResident, Progress, SessionError, SessionSummary, run_kiosk
from sync.stream import FrameStream

log = logging.getLogger(__name__)


@dataclass
class DockOutcome:
    """What happened at the dock, in words a resident and a technician can read."""

    pairing: PairingResult
    summary: SessionSummary | None = None
    problem: str | None = None  # why a paired tablet did not finish its sync

    @property
    def synced(self) -> bool:
        return self.summary is not None


def dock_and_sync(gate: PairingGate, tablet: DockedTablet, open_stream: Callable[[], ByteStream],
                  session: KioskSession | None, cache: KioskCache, *, kiosk: str,
                  on_progress: Callable[[Progress], None] | None = None) -> DockOutcome:
    """Pair a docked tablet and, if allowed, sync it. An unplug during pairing
    raises the link's error (a tablet that left is not refused); an unplug
    during the sync is an outcome (``problem``), and the next dock resumes."""
    result = gate.pair(tablet, open_stream, session)
    outcome = DockOutcome(result)
    if not result.decision.allowed:
        return outcome
    channel, stream = result.channel, result.stream
    assert channel is not None and stream is not None  # open when allowed
    try:
        serial = result.peer.serial if result.peer is not None else None
        if serial and result.counter is not None:  # for the central server, and every kiosk
            cache.counter_accepted(serial, result.counter)
        known = cache.tablet(serial) if serial else None
        certificate = channel.peer_certificate
        key = certificate.public_key() if certificate is not None else None
        if not (serial and known and known.get("resident_id") is not None
                and known.get("resident_agency_id") and isinstance(key, Ed25519PublicKey)):
            outcome.problem = (f"this kiosk has not yet learned whose tablet {serial} is; "
                               "it will sync once the kiosk has heard from the central server")
            return outcome
        docked = DockedResident(serial, int(known["resident_id"]),
                                str(known["resident_agency_id"]), key)
        outcome.summary = run_kiosk(FrameStream(channel), cache, docked, kiosk=kiosk,
                                    on_progress=on_progress)
        cache.mark_synced(serial)
        log.info("synced %s: %d records, %d files (%d bytes), %d drafts up (%d left for the "
                 "next dock), %.2f s", serial, outcome.summary.records, outcome.summary.blobs,
                 outcome.summary.blob_bytes, outcome.summary.outbox,
                 outcome.summary.outbox_left, outcome.summary.seconds)
    except SessionError as e:
        outcome.problem = f"the sync stopped: {e.message}" + (" (the tablet said so)"
                                                             if e.by_peer else "")
        log.warning("sync with %s ended: %s", tablet.usb_serial, e)
    except (HwError, ChannelError, TimeoutError, OSError) as e:
        outcome.problem = "the tablet was unplugged before the sync finished; plug it in " \
                          "again to go on from where it stopped"
        log.info("sync with %s cut: %s", tablet.usb_serial, e)
    finally:
        channel.close()
        stream.close()
    return outcome


@dataclass(frozen=True)
class LastDock:
    """The last tablet synced here, for the technician's link check."""

    serial: str
    bytes: int
    seconds: float
    at: int


class Dock:
    """The dock ports of one kiosk. ``sessions()`` says who is logged in
    (only their own tablet may sync); ``gate`` pairs; ``cache`` serves the
    sync. The constructor does no I/O: :meth:`watch` starts the watching."""

    def __init__(self, gate: PairingGate, cache: KioskCache, hw: HwConfig, *, location: str,
                 sessions: Callable[[], KioskSession | None], alerter: Alerter,
                 emit: Emit) -> None:
        self.gate = gate
        self.cache = cache
        self.hw = hw
        self.location = location
        self._sessions = sessions
        self._alerter = alerter
        self._emit = emit
        self._lock = threading.Lock()
        self._plugs = itertools.count(1)
        self._docks: dict[str, tuple[str, DeviceWorker]] = {}  # sys_path -> plug, worker
        self._hotplug: UdevHotplug | None = None
        self._last_dock: LastDock | None = None

    def watch(self, ready: threading.Event, stop: threading.Event,
              wait_s: float = 20.0) -> None:
        """Watch the ports once ``ready`` is set (the first round brings the
        registry copy; until then every tablet would look unknown), or after
        ``wait_s`` seconds. The body of the dock-watch thread."""
        ready.wait(wait_s)
        if stop.is_set():
            return
        self._hotplug = UdevHotplug(self.hw.matches(), poll_interval=self.hw.poll_interval,
                                    settle=self.hw.settle)
        self._hotplug.start(self.on_hotplug)
        self._emit(DockReady())

    def stop(self, timeout: float = 10.0) -> None:
        if self._hotplug is not None:
            self._hotplug.stop()
        with self._lock:
            workers = [worker for _, worker in self._docks.values()]
        for worker in workers:
            worker.stop(timeout)

    @property
    def watching(self) -> bool:
        return self._hotplug is not None

    @property
    def last_dock(self) -> LastDock | None:
        """The last tablet synced here since the kiosk started."""
        return self._last_dock

    def ports(self) -> list[DockedDevice]:
        """The tablets plugged in now, as udev sees them."""
        return self._hotplug.scan() if self._hotplug is not None else []

    def busy(self) -> list[str]:
        """The ports with a dock under way."""
        with self._lock:
            return sorted(path for path, (_, worker) in self._docks.items() if worker.busy)

    def on_hotplug(self, event: HotplugEvent) -> None:
        """A tablet arrived (its dock runs on a worker thread of its own) or left
        (the worker is stopped: whatever its dock was waiting for ends at once)."""
        device = event.device
        if event.kind == "left":
            with self._lock:
                entry = self._docks.get(device.sys_path)
            if entry is not None:
                self._alerter.device_left(entry[0])  # its next arrival may alert again
                entry[1].stop(timeout=0)  # aborts a blocked read or write; no wait here
            self._emit(Unplugged(device.serial, device.sys_path))
            return
        plug_id = f"{device.sys_path}#{next(self._plugs)}"
        self._emit(Plugged(device.serial, device.sys_path))
        worker = DeviceWorker(device)
        with self._lock:
            before = self._docks.get(device.sys_path)
            self._docks[device.sys_path] = (plug_id, worker)
        worker.start()
        worker.submit(lambda io: self._dock(io, plug_id, before))

    def _dock(self, io: DeviceIO, plug_id: str,
              before: tuple[str, DeviceWorker] | None) -> None:
        """One dock, on the device's worker thread."""
        device = io.device
        if before is not None:
            before[1].stop(30)  # the same port's last dock ends first (its link is gone)
        tablet = DockedTablet(device.serial, device.interface_classes, plug_id=plug_id)

        try:
            outcome = dock_and_sync(self.gate, tablet, io.link, self._sessions(),
                                    self.cache, kiosk=self.location,
                                    on_progress=lambda p: self._emit(SyncProgress(**asdict(p))))
        except (HwError, ChannelError, TimeoutError, OSError) as e:
            log.info("tablet %s left during pairing: %s", device.serial, e)
            self._emit(Docked(device.serial, paired=False, synced=False,
                              problem="the tablet was unplugged before pairing finished"))
            return
        except Exception:
            log.exception("docking %s failed", device.serial)
            self._emit(Docked(device.serial, paired=False, synced=False,
                              problem="the kiosk could not finish; a technician can read "
                              "its log"))
            return
        self._report(device, outcome)

    def _report(self, device: DockedDevice, outcome: DockOutcome) -> None:
        d = outcome.pairing.decision
        peer = outcome.pairing.peer
        self._emit(PairingDecided(device.serial, peer.serial if peer is not None else None,
                                  d.allowed, d.reason, d.detail, outcome.pairing.alerted))
        summary = outcome.summary
        if summary is not None:
            self._last_dock = LastDock(summary.serial, summary.blob_bytes, summary.seconds,
                                       int(time.time()))
        self._emit(Docked(device.serial, paired=d.allowed, synced=outcome.synced,
                          problem=outcome.problem,
                          records=summary.records if summary else 0,
                          files=summary.blobs if summary else 0,
                          drafts_up=summary.outbox if summary else 0,
                          drafts_left=summary.outbox_left if summary else 0))
