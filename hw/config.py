"""The hardware layer's settings (the ``[hw]`` table of a process's config)."""

from __future__ import annotations

from dataclasses import dataclass

from hw.records import UsbId


@dataclass(frozen=True)
class HwConfig:
    """Which USB devices are tablets, and how to watch for them.

    ``tablet_ids`` are ``VENDOR:PRODUCT`` pairs in hex; the default is the
    Linux USB gadget id that a tablet's serial gadget presents.
    """

    tablet_ids: tuple[str, ...] = ("1d6b:0104",)
    poll_interval: float = 2.0
    settle: float = 1.0
    usb_backend: str = "libusb1"

    def __post_init__(self) -> None:
        if not self.tablet_ids:
            raise ValueError("tablet_ids must name at least one VENDOR:PRODUCT pair")
        self.matches()  # raises ValueError on a malformed id
        if self.poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {self.poll_interval}")
        if self.settle < 0:
            raise ValueError(f"settle must not be negative, got {self.settle}")

    def matches(self) -> tuple[UsbId, ...]:
        return tuple(UsbId.parse(text) for text in self.tablet_ids)
