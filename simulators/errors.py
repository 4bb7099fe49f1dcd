"""The simulator's errors."""

from __future__ import annotations


class SimError(Exception):
    """Base of the simulator's errors; the message is meant for the developer."""


class UnknownTablet(SimError, KeyError):
    """No tablet by that name or serial in this world."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown tablet"


class PortBusy(SimError):
    """The dock port already has a tablet plugged in."""


class NotPlugged(SimError):
    """The tablet is not plugged in."""


class HarnessNotRunning(SimError):
    """No harness answers for this world."""


class ControlProtocolError(SimError):
    """A control request or reply that does not fit the protocol."""
