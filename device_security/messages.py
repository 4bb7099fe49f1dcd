"""The messages a tablet exchanges inside the mutual-TLS channel before (or
instead of) a sync session: the pairing hello and the kiosk's answer, a staff
workstation's inspection, a release. Declared for the strict codec
(base/codec.py); the tablet, the kiosk and the workstation all use this
module. docs/security.md shows each exchange.

A malformed message ends the connection with a :class:`MessageError` (a
ChannelError) naming the message, the field and the bad value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeAlias, TypeVar, overload

from base.codec import (
    PREFIX_SIZE,
    Array,
    Bytes,
    ErrorKinds,
    FieldedError,
    FrameCodec,
    Maybe,
    Text,
    UInt,
    check_failed,
    wire,
)
from device_security.errors import ChannelError
from device_security.release import MAX_TOKEN_BYTES
from device_security.revocation import MAX_CRL_BYTES

LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the last time datetime can hold
MAX_EXPORT = 1 << 20  # bytes of one exported item
MAX_MESSAGE = MAX_EXPORT + 4096


class MessageError(ChannelError, FieldedError):
    """A message from the peer that is not one of these, or breaks its bounds."""

    code = "malformed_message"


class MessageTooLarge(MessageError):
    code = "message_too_large"


class UnknownMessage(MessageError):
    code = "unknown_message"


class UnexpectedMessage(MessageError):
    """A valid message, but not one the exchange expects now."""

    code = "unexpected_message"


_SERIAL = Text(1, 64)
_REASON = Text(1, 64, "a-z0-9_")
_LABEL = Text(1, 256)
_SINCE = Maybe(UInt(0, LAST_SECOND))
_UNIT = Text(1, 64)
_SIGNATURE = Maybe(Bytes(64, 64))


@dataclass(frozen=True, slots=True)
class TabletHello:
    """1, tablet → kiosk: who the tablet is and its sync counter (one more at every dock)."""

    TYPE: ClassVar[int] = 1
    serial: str = field(metadata=wire(_SERIAL))
    counter: int = field(metadata=wire(UInt()))


@dataclass(frozen=True, slots=True)
class Paired:
    """2, kiosk → tablet: the tablet may sync now, for ``owner`` (an agency
    ID) of ``unit`` (the owner's unit: this kiosk's), under the agency's lock
    policy and stamp price (None: not known to the kiosk yet); the kiosk's
    service state goes along, with ``signature``, the kiosk's over its
    service statement (device_security.service_statement)."""

    TYPE: ClassVar[int] = 2
    owner: str = field(metadata=wire(Text(1, 32)))
    unit: str | None = field(metadata=wire(Maybe(_UNIT)))
    lock_after_days: int | None = field(metadata=wire(Maybe(UInt(1, 365))))
    stamps_per_message: int | None = field(metadata=wire(Maybe(UInt(0, 100))))
    out_of_service_since: int | None = field(metadata=wire(_SINCE))
    signature: bytes | None = field(metadata=wire(_SIGNATURE))


@dataclass(frozen=True, slots=True)
class Refused:
    """3, either way: no, for ``reason`` (device_security.reasons). A kiosk
    tells a genuine tablet its unit and its service state, signed, even when
    it refuses it; a tablet sends the three as None."""

    TYPE: ClassVar[int] = 3
    reason: str = field(metadata=wire(_REASON))
    unit: str | None = field(metadata=wire(Maybe(_UNIT)))
    out_of_service_since: int | None = field(metadata=wire(_SINCE))
    signature: bytes | None = field(metadata=wire(_SIGNATURE))

    @classmethod
    def plain(cls, reason: str) -> Refused:
        """A refusal that says nothing else (a tablet's, or a kiosk's before any hello)."""
        return cls(reason, None, None, None)


@dataclass(frozen=True, slots=True)
class InspectHello:
    """4, tablet → staff workstation: the tablet is open for inspection."""

    TYPE: ClassVar[int] = 4
    serial: str = field(metadata=wire(_SERIAL))


@dataclass(frozen=True, slots=True)
class InventoryAsk:
    """5, workstation → tablet: list what you hold."""

    TYPE: ClassVar[int] = 5


@dataclass(frozen=True, slots=True)
class Items:
    """6, tablet → workstation: the labels of what it holds."""

    TYPE: ClassVar[int] = 6
    labels: tuple[str, ...] = field(metadata=wire(Array(_LABEL, 0, 4096)))


@dataclass(frozen=True, slots=True)
class ExportAsk:
    """7, workstation → tablet: send the item ``label``."""

    TYPE: ClassVar[int] = 7
    label: str = field(metadata=wire(_LABEL))


@dataclass(frozen=True, slots=True)
class Exported:
    """8, tablet → workstation: an item's bytes (None: the tablet holds no such item)."""

    TYPE: ClassVar[int] = 8
    label: str = field(metadata=wire(_LABEL))
    data: bytes | None = field(metadata=wire(Maybe(Bytes(0, MAX_EXPORT))))


@dataclass(frozen=True, slots=True)
class InspectDone:
    """9, workstation → tablet: the inspection is over."""

    TYPE: ClassVar[int] = 9


@dataclass(frozen=True, slots=True)
class ReleaseAsk:
    """10, a peer without a certificate → tablet: a release token."""

    TYPE: ClassVar[int] = 10
    token: bytes = field(metadata=wire(Bytes(1, MAX_TOKEN_BYTES)))


@dataclass(frozen=True, slots=True)
class Released:
    """11, tablet → peer: the token was good; the tablet is released for good."""

    TYPE: ClassVar[int] = 11
    serial: str = field(metadata=wire(_SERIAL))


@dataclass(frozen=True, slots=True)
class RevocationList:
    """12, kiosk → tablet, after the hello and before the kiosk's answer: the
    newest revocation list the kiosk holds (DER, signed by the facility CA),
    for the tablet to check and keep if it is newer than its own."""

    TYPE: ClassVar[int] = 12
    crl: bytes = field(metadata=wire(Bytes(1, MAX_CRL_BYTES)))


Message: TypeAlias = (TabletHello | Paired | Refused | InspectHello | InventoryAsk | Items
                      | ExportAsk | Exported | InspectDone | ReleaseAsk | Released
                      | RevocationList)
MESSAGE_TYPES: tuple[type[Message], ...] = (
    TabletHello, Paired, Refused, InspectHello, InventoryAsk, Items, ExportAsk, Exported,
    InspectDone, ReleaseAsk, Released, RevocationList)


def _printable(name: str, value: str | None, what: str) -> None:
    if value is not None and (not value.isprintable() or value.strip() != value):
        raise check_failed(f"is not {what}", name, value)


def _paired(message: Paired) -> None:
    _printable("owner", message.owner, "an agency ID")
    _printable("unit", message.unit, "a unit")


def _refused(message: Refused) -> None:
    _printable("unit", message.unit, "a unit")


CODEC = FrameCodec("the tablet's channel messages, version 1", MESSAGE_TYPES,
                   max_frame=MAX_MESSAGE, max_items=8192,
                   checks={Paired: _paired, Refused: _refused},
                   errors=ErrorKinds(too_large=MessageTooLarge, malformed=MessageError,
                                     unknown=UnknownMessage))

M = TypeVar("M")
N = TypeVar("N")
P = TypeVar("P")


class MessageChannel(Protocol):
    """What messages travel over (:class:`device_security.channel.SecureChannel`)."""

    def send(self, data: bytes, timeout: float) -> None: ...

    def recv_exactly(self, size: int, timeout: float) -> bytes: ...


def send(channel: MessageChannel, message: Message, timeout: float = 10.0) -> None:
    """Send one message. Raises MessageError for one out of its bounds (nothing is sent)."""
    channel.send(CODEC.encode(message), timeout)


@overload
def receive(channel: MessageChannel, timeout: float, first: type[M], /, *,
            max_size: int = ...) -> M: ...


@overload
def receive(channel: MessageChannel, timeout: float, first: type[M], second: type[N], /, *,
            max_size: int = ...) -> M | N: ...


@overload
def receive(channel: MessageChannel, timeout: float, first: type[M], second: type[N],
            third: type[P], /, *, max_size: int = ...) -> M | N | P: ...


def receive(channel: MessageChannel, timeout: float, *expected: type[Any],
            max_size: int = MAX_MESSAGE) -> Any:
    """The next message, which must be one of ``expected``, within ``timeout``
    seconds. Raises MessageTooLarge before reading a body over ``max_size``,
    MessageError, UnknownMessage or UnexpectedMessage for what the peer should
    not have sent, and the channel's own errors (TimeoutError, ChannelClosed)."""
    deadline = time.monotonic() + timeout
    size = int.from_bytes(channel.recv_exactly(PREFIX_SIZE, timeout), "big")
    if size > max_size:
        raise MessageTooLarge(f"the peer announces a {size}-byte message; the limit is "
                              f"{max_size}")
    message = CODEC.decode_body(channel.recv_exactly(size, max(0.001, deadline -
                                                                time.monotonic())))
    if not isinstance(message, expected):
        raise UnexpectedMessage("not expected now", frame=type(message).__name__,
                                value=", ".join(t.__name__ for t in expected) + " expected")
    return message
