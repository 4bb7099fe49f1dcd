"""Password and PIN hashing (argon2id), and the rules a new PIN must meet."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from central.errors import InvalidInput

PIN_LENGTH = 6


class Passwords:
    """Hashes secrets with argon2id. ``cost`` "low" is for tests and demos only."""

    def __init__(self, cost: str = "standard") -> None:
        if cost == "standard":
            self._hasher = PasswordHasher()
        elif cost == "low":
            self._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        else:
            raise ValueError(f"password cost must be 'standard' or 'low', not {cost!r}")

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, hashed: str, secret: str) -> bool:
        """True when ``secret`` matches; a damaged hash never matches."""
        try:
            return self._hasher.verify(hashed, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def random_pin() -> str:
    """A first PIN, random: never made from a resident's personal data."""
    while True:
        pin = f"{secrets.randbelow(10 ** PIN_LENGTH):0{PIN_LENGTH}d}"
        try:
            check_new_pin(pin, agency_id="")
        except InvalidInput:
            continue
        return pin


def check_new_pin(pin: str, *, agency_id: str, old_pin: str | None = None) -> None:
    """Raises InvalidInput unless ``pin`` is 6 digits, not trivial, not part of
    the resident's ID and not the old PIN."""
    if len(pin) != PIN_LENGTH or not pin.isascii() or not pin.isdigit():
        raise InvalidInput(f"a PIN is {PIN_LENGTH} digits", code="pin_format")
    if len(set(pin)) == 1 or pin in "0123456789012" or pin in "9876543210987":
        raise InvalidInput("that PIN is too easy to guess", code="pin_trivial")
    if agency_id and pin in "".join(ch for ch in agency_id if ch.isdigit()):
        raise InvalidInput("a PIN must not be part of your ID number", code="pin_from_id")
    if old_pin is not None and pin == old_pin:
        raise InvalidInput("choose a PIN different from the old one", code="pin_unchanged")


def check_new_password(password: str) -> None:
    if not (10 <= len(password) <= 200):
        raise InvalidInput("a password is 10 to 200 characters", code="password_length")
    if len(set(password)) < 4:
        raise InvalidInput("that password is too easy to guess", code="password_trivial")
