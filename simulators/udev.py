"""Simulated USB devices in a umockdev testbed, seen by pyudev like real ones.

The testbed is a directory that stands for ``/sys`` and ``/dev``; a process
started under ``umockdev-wrapper`` with ``UMOCKDEV_DIR`` pointing at it sees
the simulated devices through the ordinary libudev calls, and receives their
add and remove uevents on a udev monitor. The process that owns the testbed
must itself run under ``umockdev-wrapper`` (the harness re-executes itself
that way).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.descriptors import UsbDeviceSpec, sysfs_descriptors
from simulators.errors import SimError

log = logging.getLogger(__name__)

PRELOAD = "libumockdev-preload.so.0"
ACM_MAJOR = 166
ROOT_HUB = "/sys/devices/pci0000:00/0000:00:14.0/usb1"


def in_mock_environment() -> bool:
    return "libumockdev-preload" in os.environ.get("LD_PRELOAD", "")


def mock_environment(testbed_root: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a process that should see the testbed's devices."""
    env = dict(os.environ if base is None else base)
    preload = env.get("LD_PRELOAD", "")
    if "libumockdev-preload" not in preload:
        env["LD_PRELOAD"] = f"{PRELOAD}:{preload}" if preload else PRELOAD
    env["UMOCKDEV_DIR"] = testbed_root
    return env


@dataclass(frozen=True)
class PluggedDevice:
    """Where a plugged device lives in the testbed."""

    sys_path: str
    interfaces: tuple[str, ...]
    tty_path: str | None
    tty_name: str | None
    bus: int
    devnum: int


class UdevTestbed:
    """A umockdev testbed with a USB root hub; tablets plug into its ports."""

    def __init__(self) -> None:
        self._tb: Any = None
        self.root = ""
        self._next_devnum = 2
        self._tty_names: set[str] = set()

    def open(self) -> str:
        """Create the testbed; returns its directory.

        Raises SimError if this process does not run under umockdev-wrapper
        or umockdev's GObject bindings are missing.
        """
        if not in_mock_environment():
            raise SimError("the udev testbed needs this process to run under umockdev-wrapper")
        try:
            import gi

            gi.require_version("UMockdev", "1.0")
            from gi.repository import UMockdev
        except (ImportError, ValueError) as e:
            raise SimError(f"umockdev's Python bindings are missing ({e}); "
                           "run scripts/system-deps.sh and reinstall with [sim]") from e
        self._tb = UMockdev.Testbed.new()
        self.root = str(self._tb.get_root_dir())
        os.environ["UMOCKDEV_DIR"] = self.root  # keep Python's view in step with libc's
        # Our device nodes are real pseudo-terminals: their ioctls (termios,
        # TIOCINQ) must reach the kernel, not umockdev's default ioctl handler,
        # which answers the ones it does not know with ENOTTY.
        (Path(self.root) / "ioctl" / "_default").unlink(missing_ok=True)
        self._add("usb", ROOT_HUB.removeprefix("/sys/devices/"), None, [
            "idVendor", "1d6b", "idProduct", "0002", "busnum", "1", "devnum", "1",
            "product", "xHCI Host Controller", "speed", "480",
        ], ["DEVTYPE", "usb_device", "BUSNUM", "001", "DEVNUM", "001"])
        return self.root

    def _add(self, subsystem: str, name: str, parent: str | None, attrs: list[str],
             props: list[str]) -> str:
        path: str = self._tb.add_device(subsystem, name, parent, attrs, props)
        return path

    def close(self) -> None:
        self._tb = None
        if os.environ.get("UMOCKDEV_DIR") == self.root:
            del os.environ["UMOCKDEV_DIR"]

    def _free_tty_name(self) -> str:
        n = 0
        while f"ttyACM{n}" in self._tty_names:
            n += 1
        self._tty_names.add(f"ttyACM{n}")
        return f"ttyACM{n}"

    def plug(self, port: int, spec: UsbDeviceSpec, tty_target: str | None) -> PluggedDevice:
        """Add a USB device at root-hub port ``port``; its serial interface's tty
        node is a symlink to ``tty_target``. Sends the add uevents."""
        if self._tb is None:
            raise SimError("the testbed is not open")
        devnum = self._next_devnum
        self._next_devnum = self._next_devnum + 1 if self._next_devnum < 127 else 2
        name = f"1-{port}"
        attrs = [
            "idVendor", f"{spec.vendor_id:04x}", "idProduct", f"{spec.product_id:04x}",
            "bcdDevice", f"{spec.bcd_device:04x}", "busnum", "1", "devnum", str(devnum),
            "devpath", str(port), "bNumInterfaces", f"{len(spec.interfaces):2d}",
            "bConfigurationValue", "1", "speed", "480", "version", " 2.00",
        ]
        for key, value in (("serial", spec.serial), ("manufacturer", spec.manufacturer),
                           ("product", spec.product)):
            if value is not None:
                attrs += [key, value]
        props = [
            "DEVTYPE", "usb_device", "BUSNUM", "001", "DEVNUM", f"{devnum:03d}",
            "DEVNAME", f"/dev/bus/usb/001/{devnum:03d}",
            "PRODUCT", f"{spec.vendor_id:x}/{spec.product_id:x}/{spec.bcd_device:x}",
            "ID_VENDOR_ID", f"{spec.vendor_id:04x}", "ID_MODEL_ID", f"{spec.product_id:04x}",
        ]
        if spec.serial is not None:
            props += ["ID_SERIAL_SHORT", spec.serial]
        sys_path = self._add("usb", name, ROOT_HUB, attrs, props)
        self._tb.set_attribute_binary(sys_path, "descriptors", sysfs_descriptors(spec))
        interfaces = []
        tty_path = tty_name = None
        for number, intf in enumerate(spec.interfaces):
            intf_path = self._add("usb", f"{name}:1.{number}", sys_path, [
                "bInterfaceNumber", f"{number:02x}", "bAlternateSetting", " 0",
                "bInterfaceClass", f"{intf.cls:02x}", "bInterfaceSubClass", f"{intf.subclass:02x}",
                "bInterfaceProtocol", f"{intf.protocol:02x}",
                "bNumEndpoints", f"{len(intf.endpoints):02x}",
            ], [
                "DEVTYPE", "usb_interface",
                "INTERFACE", f"{intf.cls}/{intf.subclass}/{intf.protocol}",
                "PRODUCT", f"{spec.vendor_id:x}/{spec.product_id:x}/{spec.bcd_device:x}",
            ])
            interfaces.append(intf_path)
            if intf.cls == 0x02 and tty_target is not None and tty_path is None:
                tty_path, tty_name = self._add_tty(intf_path, tty_target)
        for path in [sys_path, *interfaces, *([tty_path] if tty_path else [])]:
            self._tb.uevent(path, "add")
        return PluggedDevice(sys_path, tuple(interfaces), tty_path, tty_name, 1, devnum)

    def _add_tty(self, parent: str, target: str) -> tuple[str, str]:
        tty_name = self._free_tty_name()
        minor = int(tty_name.removeprefix("ttyACM"))
        # The node is the pseudo-terminal itself: the kiosk opens the path udev
        # reports, exactly as it opens /dev/ttyACM0 on real hardware.
        path = self._add("tty", tty_name, parent, [], [
            "DEVNAME", target, "MAJOR", str(ACM_MAJOR), "MINOR", str(minor),
        ])
        return path, tty_name

    def replug_tty(self, device: PluggedDevice, tty_target: str) -> PluggedDevice:
        """A port reset: the tty goes away and comes back (on a new pty)."""
        if device.tty_path is not None:
            self._remove_tty(device)
        comm = next(p for p in device.interfaces if p.endswith(":1.0"))
        tty_path, tty_name = self._add_tty(comm, tty_target)
        self._tb.uevent(tty_path, "add")
        return PluggedDevice(device.sys_path, device.interfaces, tty_path, tty_name,
                             device.bus, device.devnum)

    def _remove_tty(self, device: PluggedDevice) -> None:
        assert device.tty_path is not None and device.tty_name is not None
        self._tb.uevent(device.tty_path, "remove")
        self._tb.remove_device(device.tty_path)
        self._tty_names.discard(device.tty_name)

    def unplug(self, device: PluggedDevice) -> None:
        """Send the remove uevents (children first) and remove the device."""
        if self._tb is None:
            return
        if device.tty_path is not None:
            self._remove_tty(device)
        for path in [*reversed(device.interfaces), device.sys_path]:
            self._tb.uevent(path, "remove")
        # One at a time, children first: removing a device leaves its
        # children's /sys/bus links behind, and a re-plug would trip on them.
        for path in [*reversed(device.interfaces), device.sys_path]:
            self._tb.remove_device(path)
