"""The central server's errors, in one place, split by who is at fault.

The HTTP layer maps each class to one status code (``status``); a route
never builds an error response by hand. Every error carries a short
machine-readable ``code`` and a sentence a person can act on.
"""

from __future__ import annotations


class CentralError(Exception):
    """Base of every error the central server raises on purpose."""

    status = 500
    code = "central_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


# -- the caller's fault -------------------------------------------------------


class InvalidInput(CentralError):
    """The request is well-formed but its values are not acceptable."""

    status = 422
    code = "invalid_input"


class InvalidFields(InvalidInput):
    """Values of named fields are not acceptable: ``fields`` maps each field to
    what is wrong with it, so a form can say it beside the field."""

    code = "invalid_fields"

    def __init__(self, fields: dict[str, str], *, code: str | None = None) -> None:
        super().__init__("; ".join(f"{name}: {text}" for name, text in fields.items()),
                         code=code)
        self.fields = dict(fields)


class NotFound(CentralError):
    status = 404
    code = "not_found"


class Unauthenticated(CentralError):
    status = 401
    code = "unauthenticated"


class Forbidden(CentralError):
    """Authenticated, but this caller may not do this."""

    status = 403
    code = "forbidden"


class Conflict(CentralError):
    """The request conflicts with the current state (a duplicate, a stale version)."""

    status = 409
    code = "conflict"


class LockedOut(CentralError):
    """Too many failed logins; the account is locked until ``until``."""

    status = 423
    code = "locked_out"


class TooLarge(CentralError):
    """An upload past its size limit (``limit`` bytes), refused the moment
    its bytes passed it."""

    status = 413
    code = "too_large"

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class OverQuota(CentralError):
    """An upload that would take a family account past its storage quota:
    ``quota`` bytes, ``used`` of them held already, ``size`` more asked for."""

    status = 413
    code = "over_quota"

    def __init__(self, message: str, *, quota: int, used: int, size: int) -> None:
        super().__init__(message)
        self.quota = quota
        self.used = used
        self.size = size


class InsufficientFunds(CentralError):
    """A posting would take an account below what the policy allows."""

    status = 402
    code = "insufficient_funds"


class PolicyRefused(CentralError):
    """The agency's policy does not allow this (limits, approvals, status)."""

    status = 403
    code = "policy_refused"


class TooManyAttempts(CentralError):
    """Too many logins from this kiosk, address or account in a short while:
    try again after ``retry_after`` seconds."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(CentralError):
    """The server is checking as many passwords as it will at once: try again shortly."""

    status = 503
    code = "busy"
    retry_after = 2


# -- another system's fault -----------------------------------------------------


class UpstreamUnavailable(CentralError):
    """A system we depend on (the trust-account system) did not answer."""

    status = 503
    code = "upstream_unavailable"


class UpstreamRefused(CentralError):
    """A system we depend on answered with a refusal or nonsense."""

    status = 502
    code = "upstream_refused"
