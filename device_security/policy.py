"""Who may do what with a tablet: the pairing decision at a kiosk, and the
tablet's own rule for who may connect to it. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from device_security import reasons
from device_security.pki import PeerIdentity, Role
from device_security.registry import RegistryEntry, TabletStatus

CDC_COMM = 0x02
CDC_DATA = 0x0A
# A tablet presents its serial port and nothing else: no keyboard, no storage.
ALLOWED_INTERFACE_CLASSES = frozenset({CDC_COMM, CDC_DATA})


@dataclass(frozen=True)
class KioskSession:
    """Who is logged in at the kiosk, and where the kiosk stands."""

    resident_id: str
    resident_name: str
    resident_units: frozenset[str]  # the units this resident may use kiosks in
    kiosk_unit: str


@dataclass(frozen=True)
class Decision:
    """Allow, or refuse with a reason code (and a sentence for people)."""

    allowed: bool
    reason: str | None = None
    detail: str = ""

    @classmethod
    def allow(cls) -> Decision:
        return cls(True)

    @classmethod
    def refuse(cls, reason: str, detail: str) -> Decision:
        if reason not in reasons.ALL:
            raise ValueError(f"unknown reason code {reason!r}")
        return cls(False, reason, detail)


def check_interfaces(interface_classes: Iterable[int]) -> Decision:
    """Before any data moves: a tablet offers its serial port and nothing else."""
    classes = tuple(interface_classes)
    extra = sorted(set(classes) - ALLOWED_INTERFACE_CLASSES)
    if extra:
        return Decision.refuse(reasons.UNEXPECTED_INTERFACES,
                               "the device also offers USB interface classes "
                               + ", ".join(f"0x{c:02x}" for c in extra))
    if CDC_COMM not in classes:
        return Decision.refuse(reasons.NO_SERIAL_INTERFACE, "the device has no serial interface")
    return Decision.allow()


@dataclass(frozen=True)
class PairingFacts:
    """Everything the pairing decision looks at."""

    usb_serial: str | None
    interface_classes: tuple[int, ...]
    peer: PeerIdentity | None  # None when the channel or certificate failed
    channel_problem: str | None  # the reason code when it did
    entry: RegistryEntry | None
    session: KioskSession | None
    counter: int | None
    extra: dict[str, str] = field(default_factory=dict)
    # Why the kiosk's own revocation list cannot be trusted now (none, or past
    # its next-update time); None while it is fresh.
    revocation_list_stale: str | None = None


def decide_pairing(facts: PairingFacts) -> Decision:
    """May this tablet sync at this kiosk now? The first rule that fails decides."""
    interfaces = check_interfaces(facts.interface_classes)
    if not interfaces.allowed:
        return interfaces
    if facts.revocation_list_stale is not None:
        # The kiosk cannot tell a revoked tablet from a good one: nobody docks.
        return Decision.refuse(reasons.REVOCATION_LIST_STALE, facts.revocation_list_stale)
    if facts.channel_problem is not None or facts.peer is None:
        reason = facts.channel_problem or reasons.HANDSHAKE_FAILED
        return Decision.refuse(reason, "the tablet did not prove a valid identity")
    peer = facts.peer
    if peer.role is not Role.TABLET:
        return Decision.refuse(reasons.WRONG_ROLE, f"a {peer.role} certificate on a dock port")
    if facts.usb_serial is None or peer.serial != facts.usb_serial:
        return Decision.refuse(reasons.USB_SERIAL_MISMATCH,
                               f"certificate serial {peer.serial}, USB serial {facts.usb_serial}")
    entry = facts.entry
    if entry is None:
        return Decision.refuse(reasons.UNKNOWN_SERIAL, f"{peer.serial} is not in the registry")
    if entry.status is not TabletStatus.ACTIVE:
        return Decision.refuse(reasons.TABLET_NOT_ACTIVE, f"{peer.serial} is {entry.status}")
    if entry.owner_id is None:
        return Decision.refuse(reasons.NOT_ASSIGNED, f"{peer.serial} is not assigned to anyone")
    session = facts.session
    if session is None:
        return Decision.refuse(reasons.NOBODY_LOGGED_IN, "nobody is logged in at the kiosk")
    if entry.owner_id != session.resident_id:
        return Decision.refuse(reasons.ASSIGNED_TO_SOMEONE_ELSE,
                               f"{peer.serial} belongs to {entry.owner_id}, "
                               f"not {session.resident_id}")
    if session.kiosk_unit not in session.resident_units:
        return Decision.refuse(reasons.UNIT_NOT_ALLOWED,
                               f"{session.resident_id} may not use kiosks in {session.kiosk_unit}")
    if facts.counter is None or facts.counter <= entry.last_counter:
        return Decision.refuse(reasons.COUNTER_NOT_INCREASING,
                               f"sync counter {facts.counter} after {entry.last_counter}: "
                               "a copy of this tablet, or replayed state")
    return Decision.allow()


@dataclass(frozen=True)
class Access:
    """What a tablet lets a connected peer do."""

    kind: str  # "sync" (a kiosk), "inspect" (a staff workstation), "release", or "refused"
    reason: str | None = None


def decide_access(peer: PeerIdentity | None, *, released: bool) -> Access:
    """The tablet's rule: kiosks sync, staff workstations inspect, and a peer with
    no certificate may only present a release token (once)."""
    if peer is None:
        return Access("refused", reasons.TOKEN_REUSED) if released else Access("release")
    if peer.role is Role.KIOSK:
        return Access("sync")
    if peer.role is Role.STAFF_WORKSTATION:
        return Access("inspect")
    return Access("refused", reasons.WRONG_ROLE)
