"""Password and PIN hashing (argon2id), and the rules a new PIN must meet."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from central.errors import Busy, InvalidInput

PIN_LENGTH = 6


MAX_AT_ONCE = 4  # argon2 computations at once (each takes tens of ms and 64 MiB)
WAIT_S = 2.0  # how long a login waits for its turn before the server says it is busy


class Passwords:
    """Hashes secrets with argon2id. ``cost`` "low" is for tests and demos only.

    At most ``max_at_once`` hashes run at once: a flood of logins waits its
    turn (``wait_s`` at most, then Busy) instead of taking every worker
    thread and starving the kiosks' syncs."""

    def __init__(self, cost: str = "standard", *, max_at_once: int = MAX_AT_ONCE,
                 wait_s: float = WAIT_S) -> None:
        if cost == "standard":
            self._hasher = PasswordHasher()
        elif cost == "low":
            self._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        else:
            raise ValueError(f"password cost must be 'standard' or 'low', not {cost!r}")
        self._turns = threading.BoundedSemaphore(max_at_once)
        self._wait_s = wait_s

    @contextmanager
    def _turn(self) -> Iterator[None]:
        if not self._turns.acquire(timeout=self._wait_s):
            raise Busy("the server is busy checking logins; try again in a moment")
        try:
            yield
        finally:
            self._turns.release()

    def hash(self, secret: str) -> str:
        with self._turn():
            return self._hasher.hash(secret)

    def verify(self, hashed: str, secret: str) -> bool:
        """True when ``secret`` matches; a damaged hash never matches. Raises
        Busy when too many hashes are running for too long."""
        with self._turn():
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
