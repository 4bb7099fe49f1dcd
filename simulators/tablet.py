"""A simulated JP5-class tablet: serial number, battery, storage, secure element."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from device_security.secure_element import KeyFileSecureElement
from simulators.descriptors import CDC_ACM, HID_KEYBOARD, MASS_STORAGE, InterfaceSpec, UsbDeviceSpec
from simulators.errors import SimError

GADGET_VENDOR_ID = 0x1D6B  # Linux Foundation: what a Linux USB gadget presents
GADGET_PRODUCT_ID = 0x0104  # Multifunction Composite Gadget
SERIAL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")

# Extra USB functions a tampered tablet may present besides its serial port.
EXTRA_FUNCTIONS = {"keyboard": HID_KEYBOARD, "storage": MASS_STORAGE}


@dataclass(frozen=True)
class TabletSpec:
    """What a simulated tablet is. ``usb_serial`` and ``extras`` model tampering:
    a descriptor serial that differs from the real one, or extra USB functions."""

    name: str
    serial: str
    model: str = "JP5S"
    usb_serial: str | None = None
    extras: tuple[str, ...] = ()
    battery_pct: int = 87
    storage_bytes: int = 16 * 1024**3

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise SimError(f"tablet name {self.name!r}: use letters, digits, - and _")
        if not SERIAL_PATTERN.match(self.serial):
            raise SimError(f"serial {self.serial!r}: use 3-32 capital letters, digits and -")
        unknown = set(self.extras) - set(EXTRA_FUNCTIONS)
        if unknown:
            raise SimError(f"unknown extra USB functions {sorted(unknown)}; "
                           f"known: {sorted(EXTRA_FUNCTIONS)}")
        if not 0 <= self.battery_pct <= 100:
            raise SimError(f"battery must be 0-100 %, got {self.battery_pct}")

    def usb_device(self) -> UsbDeviceSpec:
        interfaces: tuple[InterfaceSpec, ...] = CDC_ACM + tuple(
            EXTRA_FUNCTIONS[e] for e in self.extras
        )
        return UsbDeviceSpec(
            vendor_id=GADGET_VENDOR_ID,
            product_id=GADGET_PRODUCT_ID,
            serial=self.usb_serial if self.usb_serial is not None else self.serial,
            product=f"{self.model} tablet (simulated)",
            interfaces=interfaces,
        )


@dataclass
class SimTablet:
    """A tablet of the simulated world, with its own directory.

    ``storage/`` is the tablet's flash; ``secure-element.pem`` its device key.
    """

    spec: TabletSpec
    directory: Path
    secure_element: KeyFileSecureElement = field(init=False)

    def __post_init__(self) -> None:
        self.secure_element = KeyFileSecureElement(self.directory / "secure-element.pem")

    @property
    def storage_dir(self) -> Path:
        return self.directory / "storage"

    @classmethod
    def create(cls, directory: Path, spec: TabletSpec) -> SimTablet:
        """Make the tablet's directory, storage and device key."""
        directory.mkdir(parents=True, exist_ok=False)
        tablet = cls(spec, directory)
        tablet.storage_dir.mkdir()
        tablet.secure_element.generate()
        tablet.save()
        return tablet

    @classmethod
    def load(cls, directory: Path) -> SimTablet:
        try:
            data = json.loads((directory / "tablet.json").read_text())
            data["extras"] = tuple(data.get("extras", ()))
            return cls(TabletSpec(**data), directory)
        except (OSError, ValueError, TypeError) as e:
            raise SimError(f"cannot load the tablet in {directory}: {e}") from e

    def save(self) -> None:
        tmp = self.directory / "tablet.json.tmp"
        tmp.write_text(json.dumps(asdict(self.spec), indent=2, sort_keys=True))
        os.replace(tmp, self.directory / "tablet.json")
        # What the tablet's own software reads, as it reads the battery's
        # power_supply/capacity in sysfs on real hardware.
        power = self.directory / "power_supply"
        power.mkdir(exist_ok=True)
        (power / "capacity.tmp").write_text(f"{self.spec.battery_pct}\n")
        os.replace(power / "capacity.tmp", power / "capacity")
