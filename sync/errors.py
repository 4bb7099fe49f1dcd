"""The errors of the kiosk-tablet sync protocol, in one tree.

::

    SyncError                 base of every error of this package
    +-- WireError             the bytes are not a valid frame; .code, .frame, .field, .value
    |   +-- FrameTooLarge     the length prefix (or an encoded frame) is over the limit
    |   +-- MalformedFrame    not a valid frame of a known type, or a field out of bounds
    |   +-- UnknownFrameType  a frame type that protocol version 1 does not define
    +-- SessionError          the session stops; .code (sent in an Error frame), .by_peer
    |   +-- BlobMismatchError a blob's bytes do not hash to its name
    +-- StatementError        a signed statement is malformed or its signature fails; .reason

Who is at fault: a WireError is the peer's bad bytes; a SessionError is a
step of the session that could not go on (the peer's refusal when
``by_peer``); a StatementError is a bad signature or statement. The link's
own failures (an unplug, a timeout) are not sync errors: they pass through
as the transport raises them (hw.errors, device_security.errors,
TimeoutError).
"""

from __future__ import annotations

from base.codec import ErrorKinds, FieldedError


class SyncError(Exception):
    """Base of every error of the sync protocol."""


class WireError(SyncError, FieldedError):
    """Bytes that break the wire format. ``code`` is what an Error frame
    carries for it; ``frame``, ``field`` and ``value`` say where and what."""

    code = "wire_error"


class FrameTooLarge(WireError):
    """A frame longer than the limit: refused before its body is read."""

    code = "frame_too_large"


class MalformedFrame(WireError):
    """Bytes that are not a valid frame, or a frame whose fields are out of bounds."""

    code = "malformed_frame"


class UnknownFrameType(WireError):
    """A frame type that protocol version 1 does not define."""

    code = "unknown_frame_type"


WIRE_ERRORS = ErrorKinds(too_large=FrameTooLarge, malformed=MalformedFrame,
                         unknown=UnknownFrameType)


class SessionError(SyncError):
    """The session stops. ``code`` is sent to the peer in an Error frame (or
    came from it, when ``by_peer``)."""

    def __init__(self, code: str, message: str, *, by_peer: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.by_peer = by_peer


class BlobMismatchError(SessionError):
    """A blob's bytes do not hash to its name (or run past its size)."""

    def __init__(self, message: str) -> None:
        super().__init__("blob_mismatch", message)


class StatementError(SyncError, ValueError):
    """A statement that is malformed or whose signature does not verify.

    ``reason`` is ``malformed`` or ``bad_signature``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
