"""A simulated world: tablets, the kiosk's dock ports and peripherals, one udev testbed.

The world lives in a directory (its tablets' storage and keys, the printer's
spool, the USB stick the kiosk writes to, and ``world.json``, which says where
everything is for other processes: the testbed, each plugged tablet's ttys,
the control socket).
All methods are safe to call from several threads.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw.errors import HwError
from hw.serial_link import open_link
from simulators.errors import NotPlugged, PortBusy, SimError, UnknownTablet
from simulators.kiosk_hw import BadgeReader, NetworkSwitch, ReceiptPrinter, UsbStickPort
from simulators.link import Fault, SimLink
from simulators.tablet import SimTablet, TabletSpec
from simulators.udev import PluggedDevice, UdevTestbed
from tablet.device import TabletDirectory
from tablet.peer import serve_link

log = logging.getLogger(__name__)

STATE_FILE = "world.json"
MAX_TABLETS = 64
MAX_PORTS = 16


SOFTWARE_READY_S = 10.0  # for a tablet's software to open its end of the cable


class _Software:
    """A plugged tablet's own software: a thread of this process, or (with
    ``software="process"``) a ``sallyport tablet link`` process of its own,
    which a test can kill like a crashing tablet."""

    def __init__(self, thread: threading.Thread | None = None,
                 process: subprocess.Popen[str] | None = None) -> None:
        self.thread = thread
        self.process = process

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def end(self, timeout: float = 5.0) -> None:
        """Wait for it to end (its cable is cut), killing a process that does not."""
        if self.thread is not None:
            self.thread.join(timeout)
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


@dataclass
class _Plug:
    port: int
    link: SimLink
    device: PluggedDevice
    peer: _Software | None = None


def read_state(directory: Path) -> dict[str, Any]:
    """The state another process published for the world in ``directory``.

    Raises SimError if there is none or it cannot be read.
    """
    path = directory / STATE_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise SimError(f"no simulated world in {directory} (start one: sallyport sim up)") from e
    except (OSError, ValueError) as e:
        raise SimError(f"cannot read {path}: {e}") from e
    return data


class World:
    """Tablets, dock ports and kiosk peripherals. :meth:`open` does the I/O."""

    def __init__(self, directory: Path, *, ports: int = 2,
                 network_upstream: tuple[str, int] | None = None,
                 testbed: UdevTestbed | None = None, software: str = "thread") -> None:
        if not 1 <= ports <= MAX_PORTS:
            raise SimError(f"a kiosk has 1-{MAX_PORTS} dock ports, not {ports}")
        if software not in ("thread", "process"):
            raise SimError(f"tablet software runs as a thread or a process, not {software!r}")
        self.software = software
        self.directory = directory
        self.ports = ports
        self.testbed = testbed or UdevTestbed()
        self.badge_reader = BadgeReader()
        self.printer = ReceiptPrinter(directory / "printer.spool")
        # The kiosk's USB mass-storage port, with a stick in it: the directory
        # it is mounted at (the kiosk writes release archives there), which
        # the harness can pull out and put back.
        self.usb_stick = directory / "usb-stick"
        self.stick = UsbStickPort(self.usb_stick, directory / "usb-stick.out")
        self.network = NetworkSwitch(network_upstream) if network_upstream else None
        self._tablets: dict[str, SimTablet] = {}
        self._plugs: dict[str, _Plug] = {}
        self._lock = threading.RLock()
        self.control_socket: str | None = None
        self.sessions: dict[str, list[str]] = {}  # what each tablet's software did
        self._screens: dict[str, subprocess.Popen[bytes]] = {}  # tablet name -> its screen

    # -- life ----------------------------------------------------------------

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "tablets").mkdir(exist_ok=True)
        self.testbed.open()
        self.badge_reader.open()
        self.printer.open()
        self.stick.open()
        if self.network is not None:
            self.network.open()
        for child in sorted((self.directory / "tablets").iterdir()):
            if (child / "tablet.json").exists():
                tablet = SimTablet.load(child)
                self._tablets[tablet.spec.name] = tablet
        self._publish()

    def close(self) -> None:
        for name in list(self._screens):
            self.close_screen(name)
        with self._lock:
            for name in list(self._plugs):
                self.unplug(name)
            self.badge_reader.close()
            self.printer.close()
            if self.network is not None:
                self.network.close()
            self.testbed.close()
            (self.directory / STATE_FILE).unlink(missing_ok=True)

    # -- tablets ---------------------------------------------------------------

    def add_tablet(self, name: str | None = None, serial: str | None = None,
                   **options: Any) -> SimTablet:
        """Make a new tablet (named T1, T2, ... unless given), with its key."""
        with self._lock:
            if len(self._tablets) >= MAX_TABLETS:
                raise SimError(f"a world holds at most {MAX_TABLETS} tablets")
            n = len(self._tablets) + 1
            while name is None or name in self._tablets:
                name, n = f"T{n}", n + 1
            if serial is None:
                taken = {t.spec.serial for t in self._tablets.values()}
                serial = next(f"JP5S-{i:06d}" for i in range(1, MAX_TABLETS + 2)
                              if f"JP5S-{i:06d}" not in taken)
            if any(t.spec.serial == serial for t in self._tablets.values()):
                raise SimError(f"a tablet with serial {serial} exists already")
            spec = TabletSpec(name=name, serial=serial, **options)
            tablet = SimTablet.create(self.directory / "tablets" / name, spec)
            self._tablets[name] = tablet
            self._publish()
            return tablet

    def tablet(self, key: str) -> SimTablet:
        """The tablet named or serial-numbered ``key``; raises UnknownTablet."""
        with self._lock:
            if key in self._tablets:
                return self._tablets[key]
            for tablet in self._tablets.values():
                if tablet.spec.serial == key:
                    return tablet
        raise UnknownTablet(f"no tablet {key!r}; have: {', '.join(self._tablets) or 'none'}")

    def tablets(self) -> list[SimTablet]:
        with self._lock:
            return list(self._tablets.values())

    def set_battery(self, key: str, percent: int) -> None:
        with self._lock:
            tablet = self.tablet(key)
            tablet.spec = dataclasses.replace(tablet.spec, battery_pct=percent)
            tablet.save()
            self._publish()

    # -- the dock --------------------------------------------------------------

    def port_of(self, key: str) -> int | None:
        with self._lock:
            plug = self._plugs.get(self.tablet(key).spec.name)
            return plug.port if plug else None

    def plug(self, key: str, port: int | None = None, *, fault: Fault | None = None) -> SimLink:
        """Plug a tablet into a dock port (the first free one unless given),
        with ``fault`` on its cable from the first byte.

        Raises UnknownTablet, PortBusy, or SimError if it is plugged already.
        """
        with self._lock:
            tablet = self.tablet(key)
            name = tablet.spec.name
            if name in self._plugs:
                raise SimError(f"{name} is plugged into port {self._plugs[name].port} already")
            used = {p.port for p in self._plugs.values()}
            if port is None:
                free = [p for p in range(1, self.ports + 1) if p not in used]
                if not free:
                    raise PortBusy(f"all {self.ports} dock ports are in use")
                port = free[0]
            if not 1 <= port <= self.ports:
                raise SimError(f"port must be 1-{self.ports}, got {port}")
            if port in used:
                raise PortBusy(f"port {port} already has a tablet")
            link = self._new_link(name)
            link.open()
            if fault is not None:
                link.set_fault(fault)
            # The tablet's end is open before the kiosk hears of it: a port
            # opened later would flush what the kiosk sent (as pyserial does).
            software = self._start_software(tablet, link)
            try:
                device = self.testbed.plug(port, tablet.spec.usb_device(), link.kiosk_tty)
            except Exception:
                link.cut()
                if software is not None:
                    software.end()
                raise
            self._plugs[name] = _Plug(port, link, device, software)
            self._publish()
            log.info("plugged %s (%s) into port %d: %s", name, tablet.spec.serial, port,
                     link.kiosk_tty)
            return link

    def _start_software(self, tablet: SimTablet, link: SimLink) -> _Software | None:
        """Run the tablet's link peer on its end of the cable, if it is
        provisioned; returns once that end is open."""
        directory = TabletDirectory(tablet.directory)
        if not directory.is_provisioned():
            return None
        sessions = self.sessions.setdefault(tablet.spec.name, [])
        if self.software == "process":
            return self._start_process(tablet, link, sessions)
        directory.boot_firmware()  # as `sallyport tablet link` does at its start
        peer = directory.peer()
        opened = threading.Event()

        def run() -> None:
            try:
                stream = open_link(f"serial://{link.gadget_tty}")
            except HwError as e:
                log.warning("tablet %s could not open its gadget: %s", tablet.spec.name, e)
                return
            finally:
                opened.set()
            with stream:
                serve_link(peer, stream, stop=lambda: not link.is_open,
                           on_session=sessions.append)

        thread = threading.Thread(target=run, name=f"tablet-{tablet.spec.name}", daemon=True)
        thread.start()
        opened.wait(SOFTWARE_READY_S)
        return _Software(thread=thread)

    def _start_process(self, tablet: SimTablet, link: SimLink,
                       sessions: list[str]) -> _Software:
        process = subprocess.Popen(
            [sys.executable, "-m", "sallyport", "tablet", "link", "--device-dir",
             str(tablet.directory), "--tty", link.gadget_tty],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
            start_new_session=True)
        assert process.stdout is not None
        out = process.stdout
        ready = threading.Event()

        def read() -> None:
            with out:
                for line in out:
                    if line.strip() == "ready":
                        ready.set()
                    elif line.startswith("session: "):
                        sessions.append(line[len("session: "):].rstrip("\n"))
            ready.set()  # it ended before it was ready: nothing to wait for

        threading.Thread(target=read, name=f"tablet-{tablet.spec.name}-out",
                         daemon=True).start()
        if not ready.wait(SOFTWARE_READY_S):
            log.warning("tablet %s: its software did not open the cable in %.0f s",
                        tablet.spec.name, SOFTWARE_READY_S)
        return _Software(process=process)

    # -- the tablets' screens ----------------------------------------------------

    def open_screen(self, key: str, *, silent: bool = True,
                    env: dict[str, str] | None = None) -> int:
        """Start tablet ``key``'s touchscreen (``sallyport tablet ui``) on the
        display in ``env`` (default: this process's); returns its pid. A tablet
        has one screen: asking again returns the one open."""
        with self._lock:
            tablet = self.tablet(key)
            name = tablet.spec.name
            open_one = self._screens.get(name)
            if open_one is not None and open_one.poll() is None:
                return open_one.pid
            if not TabletDirectory(tablet.directory).is_provisioned():
                raise SimError(f"tablet {name} is not provisioned: it has nothing to show")
            command = [sys.executable, "-m", "sallyport", "tablet", "ui", "--device-dir",
                       str(tablet.directory)] + (["--silent"] if silent else [])
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                       env={**os.environ, **(env or {})},
                                       start_new_session=True)
            self._screens[name] = process
            return process.pid

    def close_screen(self, key: str) -> None:
        """Close tablet ``key``'s touchscreen, if it is open."""
        with self._lock:
            process = self._screens.pop(self.tablet(key).spec.name, None)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def software_pid(self, key: str) -> int | None:
        """The pid of a plugged tablet's software process (``software="process"``)."""
        with self._lock:
            plug = self._plugs.get(self.tablet(key).spec.name)
            return plug.peer.pid if plug is not None and plug.peer is not None else None

    def unplug(self, key: str) -> None:
        """Unplug a tablet: remove uevents, then the link drops. Raises NotPlugged."""
        with self._lock:
            name = self.tablet(key).spec.name
            plug = self._plugs.pop(name, None)
            if plug is None:
                raise NotPlugged(f"{name} is not plugged in")
            self.testbed.unplug(plug.device)
            plug.link.cut()
            if plug.peer is not None:
                plug.peer.end()
            self._publish()
            log.info("unplugged %s from port %d", name, plug.port)

    def _new_link(self, name: str) -> SimLink:
        link: SimLink = SimLink(name, on_drop=lambda: self._dropped(name, link))
        return link

    def _dropped(self, name: str, link: SimLink) -> None:
        # Called on a relay thread by a drop fault; unplug from another thread,
        # since unplugging joins the relay threads. Only this very cable: the
        # tablet may have been unplugged by hand and plugged in again meanwhile.
        def unplug() -> None:
            with self._lock:
                plug = self._plugs.get(name)
                if plug is not None and plug.link is link:
                    self.unplug(name)

        threading.Thread(target=unplug, name=f"drop-{name}", daemon=True).start()

    def reset_port(self, key: str) -> SimLink:
        """A USB port reset: the tablet's tty and link go away and come back."""
        with self._lock:
            name = self.tablet(key).spec.name
            plug = self._plugs.get(name)
            if plug is None:
                raise NotPlugged(f"{name} is not plugged in")
            plug.link.cut()
            if plug.peer is not None:
                plug.peer.end()
            link = self._new_link(name)
            link.open()
            plug.peer = self._start_software(self.tablet(name), link)
            plug.device = self.testbed.replug_tty(plug.device, link.kiosk_tty)
            plug.link = link
            self._publish()
            return link

    def reset_by_address(self, bus: int, devnum: int) -> None:
        """Reset whichever tablet sits at USB bus/devnum (the pyusb backend's reset)."""
        with self._lock:
            for name, plug in self._plugs.items():
                if plug.device.bus == bus and plug.device.devnum == devnum:
                    self.reset_port(name)
                    return
        raise NotPlugged(f"no tablet at USB {bus:03d}:{devnum:03d}")

    def link(self, key: str) -> SimLink:
        with self._lock:
            plug = self._plugs.get(self.tablet(key).spec.name)
            if plug is None:
                raise NotPlugged(f"{key} is not plugged in")
            return plug.link

    def set_fault(self, key: str, fault: Fault | None) -> None:
        self.link(key).set_fault(fault)

    # -- state -----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            tablets = {}
            for name, tablet in self._tablets.items():
                plug = self._plugs.get(name)
                tablets[name] = {
                    "serial": tablet.spec.serial,
                    "model": tablet.spec.model,
                    "battery_pct": tablet.spec.battery_pct,
                    "usb_serial": tablet.spec.usb_serial,
                    "extras": list(tablet.spec.extras),
                    "directory": str(tablet.directory),
                    "port": plug.port if plug else None,
                    "kiosk_tty": plug.link.kiosk_tty if plug else None,
                    "gadget_tty": plug.link.gadget_tty if plug else None,
                    "sys_path": plug.device.sys_path if plug else None,
                    "usb_address": [plug.device.bus, plug.device.devnum] if plug else None,
                    "bytes": dict(plug.link.bytes) if plug else None,
                    "fault": dataclasses.asdict(plug.link.fault) if plug else None,
                    "provisioned": TabletDirectory(tablet.directory).is_provisioned(),
                    "sessions": self.sessions.get(name, [])[-5:],
                }
            return {
                "pid": os.getpid(),
                "directory": str(self.directory),
                "testbed": self.testbed.root,
                "control": self.control_socket,
                "ports": self.ports,
                "tablets": tablets,
                "badge_reader": self.badge_reader.tty,
                "printer": self.printer.tty,
                "usb_stick": str(self.usb_stick),
                "usb_stick_in": self.stick.inserted,
                "network": None if self.network is None else {
                    "port": self.network.port, "up": self.network.is_up,
                    "upstream": list(self.network.upstream)},
            }

    def _publish(self) -> None:
        path = self.directory / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), indent=2, sort_keys=True))
        os.replace(tmp, path)

    def publish(self) -> None:
        with self._lock:
            self._publish()
