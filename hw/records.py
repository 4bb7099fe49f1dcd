"""Frozen records that the hardware layer hands to its callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# USB interface classes the rest of the system reasons about.
CLASS_CDC_COMM = 0x02
CLASS_HID = 0x03
CLASS_MASS_STORAGE = 0x08
CLASS_CDC_DATA = 0x0A
CLASS_VENDOR = 0xFF


@dataclass(frozen=True)
class UsbId:
    """A vendor and product id pair, as configured for tablets."""

    vendor_id: int
    product_id: int

    def __post_init__(self) -> None:
        for name in ("vendor_id", "product_id"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFFFF:
                raise ValueError(f"{name} must be a 16-bit number, got {value!r}")

    @classmethod
    def parse(cls, text: str) -> UsbId:
        """Parse ``"1d6b:0104"``; raises ValueError on anything else."""
        vendor, sep, product = text.partition(":")
        if not sep:
            raise ValueError(f"expected VENDOR:PRODUCT in hex, got {text!r}")
        try:
            return cls(int(vendor, 16), int(product, 16))
        except ValueError as e:
            raise ValueError(f"expected VENDOR:PRODUCT in hex, got {text!r}") from e

    def __str__(self) -> str:
        return f"{self.vendor_id:04x}:{self.product_id:04x}"


@dataclass(frozen=True)
class DeviceIdentity:
    """What we know to name a device in errors and logs."""

    serial: str | None = None
    sys_path: str | None = None
    address: str | None = None

    def __str__(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in (
                ("serial", self.serial),
                ("sys_path", self.sys_path),
                ("address", self.address),
            )
            if value is not None
        ]
        return " ".join(parts) or "unknown device"


@dataclass(frozen=True)
class UsbInterface:
    """One interface of a USB device's active configuration."""

    number: int
    cls: int
    subclass: int
    protocol: int


@dataclass(frozen=True)
class DockedDevice:
    """A tablet-class USB device as the hot-plug source sees it."""

    serial: str | None
    sys_path: str
    usb_id: UsbId
    bus: int
    address: int
    interfaces: tuple[UsbInterface, ...]
    tty: str | None

    @property
    def interface_classes(self) -> tuple[int, ...]:
        """The class of each interface, in interface order."""
        return tuple(i.cls for i in self.interfaces)

    @property
    def identity(self) -> DeviceIdentity:
        return DeviceIdentity(serial=self.serial, sys_path=self.sys_path,
                              address=self.link_address)

    @property
    def link_address(self) -> str | None:
        """The address :func:`hw.serial_link.open_link` takes for this device."""
        return f"serial://{self.tty}" if self.tty else None


@dataclass(frozen=True)
class HotplugEvent:
    """A device arrived or left."""

    kind: Literal["arrived", "left"]
    device: DockedDevice


@dataclass(frozen=True)
class UsbDescriptors:
    """What a device's descriptors say about it, read over pyusb."""

    usb_id: UsbId
    bus: int
    address: int
    serial: str | None
    manufacturer: str | None
    product: str | None
    interfaces: tuple[UsbInterface, ...] = field(default=())

    @property
    def interface_classes(self) -> tuple[int, ...]:
        return tuple(i.cls for i in self.interfaces)
