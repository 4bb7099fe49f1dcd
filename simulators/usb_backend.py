"""A pyusb backend (pyusb's own ``IBackend`` interface) for simulated devices.

It finds devices through udev and reads their descriptors from the sysfs
``descriptors`` attribute, the way libusb does on Linux; so inside a
simulated world (a process under umockdev with the world's testbed) it sees
exactly the devices the hot-plug source sees. String descriptors are served
from the ``manufacturer``, ``product`` and ``serial`` attributes, as the
kernel caches them. A port reset is passed to the harness.

``hw`` never imports this module: it is registered as the ``sim`` entry in
the ``sallyport.usb_backends`` group and chosen by name
(``SALLYPORT_HW_USB_BACKEND=sim``, which ``sallyport sim exec`` sets).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyudev
import usb.backend
import usb.core
import usb.util

from simulators.descriptors import (
    DT_CONFIG,
    DT_DEVICE,
    DT_STRING,
    ParsedConfig,
    ParsedDevice,
    langid_descriptor,
    parse_descriptors,
    string_descriptor,
)

GET_DESCRIPTOR = 0x06
GET_CONFIGURATION = 0x08
ResetHook = Callable[[int, int], None]


@dataclass(frozen=True)
class _DeviceDescriptor:
    """The device descriptor fields pyusb copies, plus where the device sits."""

    parsed: ParsedDevice
    bus: int
    address: int
    port_number: int | None
    port_numbers: tuple[int, ...]
    speed: int = usb.util.SPEED_HIGH

    def __getattr__(self, name: str) -> Any:
        return getattr(self.parsed, name)


@dataclass
class SimUsbDevice:
    sys_path: str
    descriptor: _DeviceDescriptor
    configs: tuple[ParsedConfig, ...]
    strings: dict[int, str] = field(default_factory=dict)


class SimUsbBackend(usb.backend.IBackend):
    """Serves the descriptors of the USB devices udev shows."""

    def __init__(self, *, reset: ResetHook | None = None,
                 context_factory: Callable[[], Any] = pyudev.Context) -> None:
        self._reset = reset
        self._context_factory = context_factory

    def enumerate_devices(self) -> Iterator[SimUsbDevice]:
        context = self._context_factory()
        for dev in context.list_devices(subsystem="usb", DEVTYPE="usb_device"):
            # Read the file itself: udev's attribute API stops at the first NUL.
            try:
                raw = (Path(dev.sys_path) / "descriptors").read_bytes()
            except OSError:
                continue
            try:
                parsed, configs = parse_descriptors(raw)
                bus = int(dev.attributes.asstring("busnum"))
                address = int(dev.attributes.asstring("devnum"))
            except (ValueError, KeyError):
                continue  # libusb skips devices it cannot parse, too
            strings = {}
            for index, attr in ((parsed.iManufacturer, "manufacturer"),
                                (parsed.iProduct, "product"),
                                (parsed.iSerialNumber, "serial")):
                value = dev.attributes.get(attr)
                if index and value is not None:
                    strings[index] = value.decode("utf-8", errors="replace")
            port = dev.sys_name.rsplit("-", 1)[-1].split(".")
            ports = tuple(int(p) for p in port if p.isdigit())
            yield SimUsbDevice(
                sys_path=dev.sys_path,
                descriptor=_DeviceDescriptor(parsed, bus, address,
                                             ports[-1] if ports else None, ports),
                configs=configs,
                strings=strings,
            )

    def get_device_descriptor(self, dev: SimUsbDevice) -> _DeviceDescriptor:
        return dev.descriptor

    def get_configuration_descriptor(self, dev: SimUsbDevice, config: int) -> ParsedConfig:
        return dev.configs[config]

    def get_interface_descriptor(self, dev: SimUsbDevice, intf: int, alt: int,
                                 config: int) -> Any:
        matching = [i for i in dev.configs[config].interfaces
                    if i.bInterfaceNumber == intf]
        if alt >= len(matching):
            raise IndexError(f"no alternate setting {alt} of interface {intf}")
        return matching[alt]

    def get_endpoint_descriptor(self, dev: SimUsbDevice, ep: int, intf: int, alt: int,
                                config: int) -> Any:
        return self.get_interface_descriptor(dev, intf, alt, config).endpoints[ep]

    def open_device(self, dev: SimUsbDevice) -> SimUsbDevice:
        if not Path(dev.sys_path).exists():
            raise usb.core.USBError("No such device", errno=errno.ENODEV)
        return dev

    def close_device(self, dev_handle: SimUsbDevice) -> None:
        pass

    def get_configuration(self, dev_handle: SimUsbDevice) -> int:
        return int(dev_handle.configs[0].bConfigurationValue)

    def set_configuration(self, dev_handle: SimUsbDevice, config_value: int) -> None:
        pass

    def claim_interface(self, dev_handle: SimUsbDevice, intf: int) -> None:
        pass

    def release_interface(self, dev_handle: SimUsbDevice, intf: int) -> None:
        pass

    def is_kernel_driver_active(self, dev_handle: SimUsbDevice, intf: int) -> bool:
        return True

    def ctrl_transfer(self, dev_handle: SimUsbDevice, bmRequestType: int, bRequest: int,
                      wValue: int, wIndex: int, data: Any, timeout: int) -> int:
        if not Path(dev_handle.sys_path).exists():
            raise usb.core.USBError("No such device", errno=errno.ENODEV)
        if bmRequestType & 0x80 and bRequest == GET_DESCRIPTOR:
            kind, index = wValue >> 8, wValue & 0xFF
            if kind == DT_DEVICE:
                reply = dev_handle.descriptor.parsed.raw
            elif kind == DT_CONFIG and index < len(dev_handle.configs):
                reply = dev_handle.configs[index].raw
            elif kind == DT_STRING and index == 0:
                reply = langid_descriptor()
            elif kind == DT_STRING and index in dev_handle.strings:
                reply = string_descriptor(dev_handle.strings[index])
            else:
                raise usb.core.USBError("Pipe error", errno=errno.EPIPE)
        elif bmRequestType & 0x80 and bRequest == GET_CONFIGURATION:
            reply = bytes([dev_handle.configs[0].bConfigurationValue])
        else:
            raise usb.core.USBError("Pipe error", errno=errno.EPIPE)
        n = min(len(reply), len(data))
        for i in range(n):
            data[i] = reply[i]
        return n

    def reset_device(self, dev_handle: SimUsbDevice) -> None:
        if self._reset is None:
            raise usb.core.USBError("this simulated world cannot reset ports",
                                    errno=errno.ENOSYS)
        self._reset(dev_handle.descriptor.bus, dev_handle.descriptor.address)


def backend_from_environment() -> SimUsbBackend:
    """The backend for a process inside a simulated world (``sallyport sim exec``).

    A port reset is asked of the harness named by ``SALLYPORT_SIM_WORLD``.
    """
    world = os.environ.get("SALLYPORT_SIM_WORLD")
    if not world:
        return SimUsbBackend()

    def reset(bus: int, address: int) -> None:
        from simulators.control import ControlClient

        ControlClient.for_world(Path(world)).call("reset", bus=bus, address=address)

    return SimUsbBackend(reset=reset)
