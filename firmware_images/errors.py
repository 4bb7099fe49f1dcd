"""The errors of firmware images, their signed metadata, time, transfer and
slots, in one tree. Verification raises one of these; it never returns False.

::

    FirmwareError                 base; .code (short, machine-readable), .fields
    +-- VerificationError         an image or its metadata is refused (raise an alert)
    |   +-- MalformedMetadata     not TUF metadata of the expected role, or out of bounds
    |   +-- ThresholdError        fewer valid signatures than the role's threshold
    |   +-- RollbackError         a version lower than one already trusted or installed
    |   +-- ExpiredError          metadata expired at the trusted time
    |   +-- MixAndMatchError      metadata from two snapshots (versions or hashes disagree)
    |   +-- LengthError           more (or fewer) bytes than the signed length
    |   +-- HashError             the bytes do not hash to the signed hashes
    |   +-- NotForDevice          a target for another model or slot kind, or unknown
    +-- TimeError                 a signed time token is refused
    |   +-- TokenError            malformed, wrong nonce, unknown key or bad signature
    |   +-- StaleTime             not later than the time last accepted
    |   +-- TimeTooFarAhead       beyond what the newest signed metadata allows
    |   +-- NoTrustedTime         no fresh time this dock: nothing can be checked for expiry
    +-- TransferError             a transfer step out of order (wrong offset, no offer)
    +-- SlotError                 the A/B slot state is unreadable or a step is out of order
    +-- ImageFormatError          an image file or a directory to build one from is unusable
    +-- RepositoryError           the repository side cannot do what was asked (keys, files)

Who is at fault: a VerificationError or TimeError is the data's (a kiosk, a
mirror, an attacker): the device refuses it and reports it. TransferError is
the caller's order of steps; SlotError and RepositoryError are local state.
"""

from __future__ import annotations

from typing import Any


class FirmwareError(Exception):
    """Base of every error of this package. ``fields`` name what was wrong
    (``role``, ``expected``, ``observed``, ``target``, ...)."""

    code = "firmware_error"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        if not self.fields:
            return self.message
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(self.fields.items()))
        return f"{self.message} ({shown})"


# -- the image or its metadata is refused ----------------------------------------------


class VerificationError(FirmwareError):
    code = "firmware_refused"


class MalformedMetadata(VerificationError):
    code = "malformed_metadata"


class ThresholdError(VerificationError):
    code = "threshold_not_met"


class RollbackError(VerificationError):
    code = "rollback"


class ExpiredError(VerificationError):
    code = "expired"


class MixAndMatchError(VerificationError):
    code = "mix_and_match"


class LengthError(VerificationError):
    code = "wrong_length"


class HashError(VerificationError):
    code = "wrong_hash"


class NotForDevice(VerificationError):
    code = "not_for_device"


# -- time ---------------------------------------------------------------------------------


class TimeError(FirmwareError):
    code = "time_refused"


class TokenError(TimeError):
    code = "bad_time_token"


class StaleTime(TimeError):
    code = "stale_time"


class TimeTooFarAhead(TimeError):
    code = "time_too_far_ahead"


class NoTrustedTime(TimeError):
    code = "no_trusted_time"


# -- local state and the caller's order of steps -----------------------------------------


class TransferError(FirmwareError):
    code = "transfer_error"


class SlotError(FirmwareError):
    code = "slot_error"


class ImageFormatError(FirmwareError):
    code = "image_format"


class RepositoryError(FirmwareError):
    code = "repository_error"
