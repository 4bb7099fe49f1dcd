"""The hardware layer's errors, in one place, split by who is at fault.

::

    HwError
    +-- DeviceDataError      the device sent or described something malformed
    |   +-- ReadBackMismatch a file read back from a device is not what was written
    +-- TransportError       an I/O operation failed
    |   +-- DeviceGone       the device was unplugged (or reset) mid-operation
    |   +-- LinkTimeout      the device did not answer in time
    +-- DeviceNotFound       no device at the given address, bus or serial
    +-- AddressError         an address we cannot open (also a ValueError)
    +-- BackendUnavailable   the library or OS service behind a part is missing

Every error carries the identity of the device it concerns (when known), so
a technician reading a log can tell which tablet failed.
"""

from __future__ import annotations

from hw.records import DeviceIdentity


class HwError(Exception):
    """Base of every error raised by :mod:`hw`."""

    def __init__(self, message: str, *, device: DeviceIdentity | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.device = device

    def __str__(self) -> str:
        if self.device is None:
            return self.message
        return f"{self.message} [{self.device}]"


class DeviceDataError(HwError):
    """The device presented data that does not fit its format."""


class ReadBackMismatch(DeviceDataError):
    """What a device gives back differs from what was written to it: the
    SHA-256 ``expected`` (written) and ``observed`` (read back)."""

    def __init__(self, message: str, *, expected: str, observed: str,
                 device: DeviceIdentity | None = None) -> None:
        super().__init__(f"{message}: wrote SHA-256 {expected}, read back {observed}",
                         device=device)
        self.expected = expected
        self.observed = observed


class TransportError(HwError):
    """Talking to the device failed."""


class DeviceGone(TransportError):
    """The device went away (unplugged, reset, or its link was cut)."""


class LinkTimeout(TransportError, TimeoutError):
    """The device did not send or accept bytes within the time allowed."""


class DeviceNotFound(HwError):
    """No device matched."""


class AddressError(HwError, ValueError):
    """An address that names no link we can open."""


class BackendUnavailable(HwError):
    """The library or OS service needed for this operation is not available."""
