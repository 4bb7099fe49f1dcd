"""The errors of device security, in one place.

::

    SecurityError
    +-- CertificateError      a certificate (or revocation list) is not acceptable; .reason
    +-- ChannelError          the secure channel failed
    |   +-- HandshakeFailed   the peer's handshake bytes were wrong, or it refused ours; .reason
    |   +-- HandshakeTimeout  no complete handshake within the time allowed
    |   +-- ChannelClosed     the peer closed the channel
    +-- TokenError            a release token is not acceptable; .reason
    +-- StatementRefused      a kiosk's signed service statement does not verify
    +-- IntegrityError        sealed data was altered, or sealed under another key
    +-- SecureElementError    the secure element cannot do what was asked
    +-- RegistryError         the device registry cannot be read or written
    +-- AlertDeliveryError    an alert could not be sent (it stays queued)

A ``reason`` is one of the codes in :mod:`device_security.reasons`, the same
code that a refusal and its alert carry.
"""

from __future__ import annotations


class SecurityError(Exception):
    """Base of every error raised by :mod:`device_security`."""


class _WithReason(SecurityError):
    """An error that carries the reason code its refusal and alert will name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{message} ({reason})")
        self.reason = reason


class CertificateError(_WithReason):
    """A certificate (or revocation list) is not acceptable."""


class ChannelError(SecurityError):
    """The secure channel failed."""


class HandshakeFailed(_WithReason, ChannelError):
    """The peer's handshake bytes were wrong, or it refused ours."""


class HandshakeTimeout(ChannelError):
    reason = "handshake_failed"


class ChannelClosed(ChannelError):
    """The peer closed the channel (cleanly or not)."""


class TokenError(_WithReason):
    """A release token is not acceptable."""


class StatementRefused(SecurityError):
    """A kiosk's service statement is unsigned, malformed, or signed by another key."""


class IntegrityError(SecurityError):
    """Sealed data does not open: altered, truncated, or another key's."""


class SecureElementError(SecurityError):
    """The secure element cannot do what was asked."""


class RegistryError(SecurityError):
    """The device registry cannot be read or written."""


class AlertDeliveryError(SecurityError):
    """An alert could not be delivered; it stays queued for the next try."""
