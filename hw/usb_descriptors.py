"""USB descriptors read over pyusb: serial string, interface classes, port reset.

The pyusb backend is passed in. The default is libusb 1.0, as on a real
kiosk; any backend registered in the ``sallyport.usb_backends`` entry-point
group can be chosen by name (the simulator registers ``sim``).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

import usb.backend.libusb1
import usb.core
import usb.util

from hw.errors import (
    BackendUnavailable,
    DeviceDataError,
    DeviceGone,
    DeviceNotFound,
    HwError,
    TransportError,
)
from hw.records import DeviceIdentity, UsbDescriptors, UsbId, UsbInterface

log = logging.getLogger(__name__)

BACKEND_GROUP = "sallyport.usb_backends"
_GONE_ERRNOS = {errno.ENODEV, errno.ENOENT, errno.EIO, errno.EPIPE}


def load_backend(name: str) -> Any:
    """Return the pyusb backend called ``name`` ("libusb1" or a registered one).

    Raises BackendUnavailable if there is no such backend or it cannot load.
    """
    if name == "libusb1":
        backend = usb.backend.libusb1.get_backend()
    else:
        found = entry_points(group=BACKEND_GROUP, name=name)
        if not found:
            raise BackendUnavailable(f"no USB backend called {name!r}")
        backend = next(iter(found)).load()()
    if backend is None:
        raise BackendUnavailable(f"the {name} USB backend is not available on this machine")
    return backend


@contextmanager
def _translated(identity: DeviceIdentity, action: str) -> Iterator[None]:
    try:
        yield
    except HwError:
        raise
    except usb.core.NoBackendError as e:
        raise BackendUnavailable(f"no USB backend for {action}: {e}", device=identity) from e
    except usb.core.USBTimeoutError as e:
        raise TransportError(f"{action} timed out: {e}", device=identity) from e
    except usb.core.USBError as e:
        if e.errno in _GONE_ERRNOS:
            raise DeviceGone(f"device went away during {action}: {e}", device=identity) from e
        raise TransportError(f"{action} failed: {e}", device=identity) from e
    except (ValueError, UnicodeDecodeError, IndexError) as e:
        raise DeviceDataError(f"malformed descriptor during {action}: {e}", device=identity) from e


class DescriptorReader:
    """Reads descriptors of the device at a given bus and address.

    The constructor does no I/O; ``backend=None`` means libusb 1.0, loaded on
    first use.
    """

    def __init__(self, backend: Any = None, *, timeout_ms: int = 1000) -> None:
        self._backend = backend
        self._timeout_ms = timeout_ms

    def _find(self, bus: int, address: int, identity: DeviceIdentity) -> Any:
        if self._backend is None:
            self._backend = load_backend("libusb1")
        with _translated(identity, "enumeration"):
            dev = usb.core.find(
                backend=self._backend,
                custom_match=lambda d: d.bus == bus and d.address == address,
            )
        if dev is None:
            raise DeviceNotFound(f"no USB device at bus {bus} address {address}", device=identity)
        dev.default_timeout = self._timeout_ms
        return dev

    def read(
        self, bus: int, address: int, *, identity: DeviceIdentity | None = None
    ) -> UsbDescriptors:
        """Read the device's ids, strings and interfaces.

        Raises DeviceNotFound, DeviceGone, TransportError, or DeviceDataError
        when a descriptor is malformed.
        """
        identity = identity or DeviceIdentity()
        dev = self._find(bus, address, identity)
        try:
            with _translated(identity, "reading descriptors"):
                config = dev.get_active_configuration() if _is_configured(dev) else dev[0]
                interfaces = tuple(
                    UsbInterface(
                        number=int(i.bInterfaceNumber),
                        cls=int(i.bInterfaceClass),
                        subclass=int(i.bInterfaceSubClass),
                        protocol=int(i.bInterfaceProtocol),
                    )
                    for i in config
                    if int(i.bAlternateSetting) == 0
                )
                return UsbDescriptors(
                    usb_id=UsbId(int(dev.idVendor), int(dev.idProduct)),
                    bus=bus,
                    address=address,
                    serial=_string(dev, dev.iSerialNumber),
                    manufacturer=_string(dev, dev.iManufacturer),
                    product=_string(dev, dev.iProduct),
                    interfaces=interfaces,
                )
        finally:
            usb.util.dispose_resources(dev)

    def reset_port(self, bus: int, address: int, *, identity: DeviceIdentity | None = None) -> None:
        """Reset the device's port; it re-enumerates, and its link drops.

        Raises DeviceNotFound, DeviceGone or TransportError.
        """
        identity = identity or DeviceIdentity()
        dev = self._find(bus, address, identity)
        try:
            with _translated(identity, "port reset"):
                dev.reset()
        finally:
            usb.util.dispose_resources(dev)
        log.info("reset the port of %s", identity)


def _is_configured(dev: Any) -> bool:
    try:
        dev.get_active_configuration()
    except usb.core.USBError:
        return False
    return True


def _string(dev: Any, index: int) -> str | None:
    if not index:
        return None
    text: str | None = usb.util.get_string(dev, index)
    return text
