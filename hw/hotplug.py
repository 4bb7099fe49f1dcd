"""Tablets arriving and leaving, seen through udev (pyudev).

The hot-plug source keeps no handles. Its state is what an enumeration of
``/sys`` shows: a uevent only tells it *when* to look again, and a timer makes
it look again when no events arrive (the polling fallback). Arrivals and
departures are the difference between two looks, so a burst of duplicate
uevents produces no duplicate reports.

A device with a CDC serial interface is reported once its tty is there. If
the tty has not appeared within ``settle`` seconds the device is reported
without one, so that the kiosk can refuse it rather than ignore it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pyudev

from hw.errors import BackendUnavailable, DeviceDataError
from hw.records import (
    CLASS_CDC_COMM,
    CLASS_CDC_DATA,
    DeviceIdentity,
    DockedDevice,
    HotplugEvent,
    UsbId,
    UsbInterface,
)

log = logging.getLogger(__name__)

MAX_SERIAL_CHARS = 126  # a USB string descriptor holds at most 126 UTF-16 units

EventCallback = Callable[[HotplugEvent], None]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _number_attr(dev: Any, name: str, identity: DeviceIdentity, base: int) -> int:
    raw = dev.attributes.get(name)
    try:
        return int(raw.decode("ascii").strip(), base)
    except (AttributeError, UnicodeDecodeError, ValueError) as e:
        raise DeviceDataError(f"sysfs attribute {name} is {raw!r}", device=identity) from e


def _hex_attr(dev: Any, name: str, identity: DeviceIdentity) -> int:
    return _number_attr(dev, name, identity, 16)


def _int_attr(dev: Any, name: str, identity: DeviceIdentity) -> int:
    return _number_attr(dev, name, identity, 10)


def _serial_attr(dev: Any) -> str | None:
    raw = dev.attributes.get("serial")
    if raw is None:
        return None
    text: str = raw.decode("utf-8", errors="replace").strip()
    return text[:MAX_SERIAL_CHARS] or None


def expects_tty(interfaces: Iterable[UsbInterface]) -> bool:
    """Whether a device with these interfaces should grow a serial tty."""
    return any(i.cls in (CLASS_CDC_COMM, CLASS_CDC_DATA) for i in interfaces)


def device_from_udev(
    dev: Any, matches: Sequence[UsbId], excluded: Iterable[str] = ()
) -> DockedDevice | None:
    """Build the record for a udev ``usb_device``; None if it is not a tablet.

    Children under any path in ``excluded`` (devices whose removal was
    announced but whose sysfs entries may linger) are ignored.
    Raises DeviceDataError if sysfs describes the device in a malformed way.
    """
    read = _read_device(dev, matches, excluded)
    return None if read is None else read[0]


def _read_device(
    dev: Any, matches: Sequence[UsbId], excluded: Iterable[str]
) -> tuple[DockedDevice, bool] | None:
    """The record, and whether the device has settled: the kernel has added
    every interface its configuration announces, and the tty if it has a
    serial interface. Udev announces a device before its interfaces."""
    identity = DeviceIdentity(sys_path=dev.sys_path)
    if dev.device_type != "usb_device":
        return None
    try:
        usb_id = UsbId(_hex_attr(dev, "idVendor", identity), _hex_attr(dev, "idProduct", identity))
    except DeviceDataError:
        return None  # not something we could ever match
    if usb_id not in matches:
        return None
    serial = _serial_attr(dev)
    identity = DeviceIdentity(serial=serial, sys_path=dev.sys_path)
    excluded = tuple(excluded)
    interfaces: list[UsbInterface] = []
    tty: str | None = None
    for child in dev.children:
        if any(_under(child.sys_path, root) for root in excluded):
            continue
        if child.device_type == "usb_interface":
            interfaces.append(
                UsbInterface(
                    number=_hex_attr(child, "bInterfaceNumber", identity),
                    cls=_hex_attr(child, "bInterfaceClass", identity),
                    subclass=_hex_attr(child, "bInterfaceSubClass", identity),
                    protocol=_hex_attr(child, "bInterfaceProtocol", identity),
                )
            )
        elif child.subsystem == "tty" and child.device_node and tty is None:
            tty = str(child.device_node)
    announced = dev.attributes.get("bNumInterfaces")
    try:
        expected = int(announced.decode("ascii").strip()) if announced is not None else 0
    except (UnicodeDecodeError, ValueError) as e:
        raise DeviceDataError(f"sysfs attribute bNumInterfaces is {announced!r}",
                              device=identity) from e
    record = DockedDevice(
        serial=serial,
        sys_path=str(dev.sys_path),
        usb_id=usb_id,
        bus=_int_attr(dev, "busnum", identity),
        address=_int_attr(dev, "devnum", identity),
        interfaces=tuple(sorted(interfaces, key=lambda i: i.number)),
        tty=tty,
    )
    settled = len(interfaces) >= expected and (tty is not None or not expects_tty(interfaces))
    return record, settled


def diff_devices(
    old: Mapping[str, DockedDevice], new: Mapping[str, DockedDevice],
    bounced: Iterable[str] = (),
) -> list[HotplugEvent]:
    """The events that turn ``old`` into ``new`` (both keyed by sysfs path).

    A device whose record changed (say, its tty went away during a port
    reset), or that is in ``bounced`` (a part of it was removed and added
    again since the last look, even if it came back the same), leaves and
    arrives again. Departures come first.
    """
    again = set(bounced)
    changed = {p for p in old if new.get(p) != old[p] or p in again}
    left = [HotplugEvent("left", old[p]) for p in sorted(changed)]
    arrived = [HotplugEvent("arrived", new[p]) for p in sorted(new)
               if p in changed or p not in old]
    return left + arrived


class UdevHotplug:
    """Reports tablets (USB devices matching ``matches``) arriving and leaving.

    The constructor does no I/O. :meth:`scan` enumerates once; :meth:`start`
    runs a thread named ``hotplug`` that calls ``on_event`` for each arrival
    and departure until :meth:`stop`. Callbacks run on that thread.
    """

    def __init__(
        self,
        matches: Sequence[UsbId],
        *,
        context_factory: Callable[[], Any] = pyudev.Context,
        poll_interval: float = 2.0,
        settle: float = 1.0,
        events: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not matches:
            raise ValueError("at least one vendor:product id to match is needed")
        if poll_interval <= 0 or settle < 0:
            raise ValueError("poll_interval must be positive and settle not negative")
        self._matches = tuple(matches)
        self._context_factory = context_factory
        self._poll_interval = poll_interval
        self._settle = settle
        self._clock = clock
        self._events = events
        self._lock = threading.Lock()
        self._present: dict[str, DockedDevice] = {}
        self._removed: set[str] = set()
        self._bounced: set[str] = set()  # removed since the last look, back or not
        self._first_seen: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self.using_events = False

    # -- one look -----------------------------------------------------------

    def scan(self) -> list[DockedDevice]:
        """Enumerate the matching devices now, tty or not, ordered by path.

        Raises BackendUnavailable if udev cannot be reached.
        """
        found = self._enumerate(self._open_context(), excluded=())
        return [found[p][0] for p in sorted(found)]

    def present(self) -> list[DockedDevice]:
        """The devices reported as arrived and not yet as left."""
        with self._lock:
            return [self._present[p] for p in sorted(self._present)]

    def _open_context(self) -> Any:
        try:
            return self._context_factory()
        except (OSError, ImportError) as e:
            raise BackendUnavailable(f"cannot reach udev: {e}") from e

    def _enumerate(
        self, context: Any, excluded: Iterable[str]
    ) -> dict[str, tuple[DockedDevice, bool]]:
        excluded = tuple(excluded)
        found: dict[str, tuple[DockedDevice, bool]] = {}
        for dev in context.list_devices(subsystem="usb", DEVTYPE="usb_device"):
            if any(_under(dev.sys_path, root) for root in excluded):
                continue
            try:
                read = _read_device(dev, self._matches, excluded)
            except DeviceDataError as e:
                log.warning("ignoring a device sysfs describes badly: %s", e)
                continue
            except (OSError, pyudev.DeviceNotFoundError) as e:
                log.debug("device vanished while being read: %s", e)
                continue
            if read is not None:
                found[read[0].sys_path] = read
        return found

    # -- watching -----------------------------------------------------------

    def start(self, on_event: EventCallback) -> None:
        """Start watching on background threads; raises RuntimeError if running.

        One thread (``hotplug-uevents``) only drains udev's event socket, so a
        burst of uevents never overflows it; the other (``hotplug``) looks at
        sysfs and calls ``on_event``.
        """
        if self._thread is not None:
            raise RuntimeError("hot-plug source already started")
        self._stop.clear()
        self._dirty.clear()
        context = self._open_context()
        monitor = self._open_monitor(context)
        self._thread = threading.Thread(
            target=self._run, args=(context, on_event), name="hotplug", daemon=True
        )
        if monitor is not None:
            self._reader = threading.Thread(
                target=self._read_events, args=(monitor,), name="hotplug-uevents", daemon=True
            )
            self._reader.start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and wait for the threads to end."""
        thread, self._thread = self._thread, None
        reader, self._reader = self._reader, None
        if thread is None:
            return
        self._stop.set()
        self._dirty.set()
        thread.join(timeout)
        if reader is not None:
            reader.join(timeout)

    def _open_monitor(self, context: Any) -> Any:
        if not self._events:
            self.using_events = False
            return None
        try:
            monitor = pyudev.Monitor.from_netlink(context)
            monitor.filter_by("usb")
            monitor.filter_by("tty")
            monitor.start()
        except (OSError, ValueError) as e:
            log.warning("no udev events (%s); polling every %.1f s", e, self._poll_interval)
            self.using_events = False
            return None
        self.using_events = True
        return monitor

    def _read_events(self, monitor: Any) -> None:
        while not self._stop.is_set():
            try:
                dev = monitor.poll(timeout=0.2)
            except (OSError, ValueError) as e:
                log.warning("bad uevent ignored: %s", e)
                continue
            if dev is None:
                continue
            log.debug("uevent %s %s", dev.action, dev.sys_path)
            with self._lock:
                if dev.action == "remove":
                    self._removed.add(dev.sys_path)
                    self._bounced.add(dev.sys_path)
                elif dev.action == "add":
                    self._removed = {r for r in self._removed if not _under(r, dev.sys_path)}
            self._dirty.set()

    def _run(self, context: Any, on_event: EventCallback) -> None:
        self._reconcile(context, on_event)
        while not self._stop.is_set():
            self._dirty.wait(self._next_wait())
            if self._stop.is_set():
                break
            self._dirty.clear()
            self._reconcile(context, on_event)

    def _next_wait(self) -> float:
        wait = self._poll_interval
        now = self._clock()
        for first in self._first_seen.values():
            if first + self._settle > now:
                wait = min(wait, first + self._settle - now)
        return max(wait, 0.01)

    def _reconcile(self, context: Any, on_event: EventCallback) -> None:
        with self._lock:
            removed = set(self._removed)
            bounced, self._bounced = self._bounced, set()
        found = self._enumerate(context, removed)
        # A removal is forgotten once sysfs agrees the device is gone.
        gone = {r for r in removed if not os.path.exists(r)}
        with self._lock:
            self._removed -= gone
        now = self._clock()
        ready: dict[str, DockedDevice] = {}
        for path, (dev, settled) in found.items():
            if settled:
                self._first_seen.pop(path, None)
            else:
                first = self._first_seen.setdefault(path, now)
                if now - first < self._settle:
                    continue
            ready[path] = dev
        self._first_seen = {p: t for p, t in self._first_seen.items() if p in found}
        with self._lock:
            # A device a part of which was removed since the last look has been
            # reset (or replugged), even if it came back looking the same.
            reset = {p for p in self._present if any(_under(b, p) for b in bounced)}
            events = diff_devices(self._present, ready, reset)
            self._present = ready
        for event in events:
            log.info("%s: %s", event.kind, event.device.identity)
            try:
                on_event(event)
            except Exception:
                log.exception("hot-plug consumer failed on %s", event)
