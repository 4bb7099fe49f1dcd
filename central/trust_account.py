"""The agency's trust-account system, through an adapter.

Residents' money lives in the agency's trust-account system, outside
Sallyport. The central server reads a resident's balance there and debits it
when the resident moves money to their prepaid account (and credits it back
for a refund). :class:`TrustAccounts` is that boundary; the server is given
one:

- :class:`HttpTrustAccounts` speaks the agency system's JSON API over HTTP
  (``GET /v1/accounts/{id}``, ``POST /v1/accounts/{id}/debits`` and
  ``/credits``). It checks every field of every answer and bounds its size.
- :class:`InMemoryTrustAccounts` keeps the accounts in this process, with the
  same rules, for the demo and for tests of the domain code.

Every debit and credit carries an idempotency key: sending the same key again
returns the first result and moves no money, which is what makes a retry
after a lost answer safe. A key reused with another account, direction or
amount is a :class:`~central.errors.Conflict`.

Errors (all from :mod:`central.errors`): ``InvalidInput`` for arguments
that cannot be sent, ``NotFound`` for an unknown account,
``InsufficientFunds`` for a debit beyond the balance, ``Conflict`` for a
reused key, ``UpstreamUnavailable`` when the system does not answer (connection
failure, timeout, 5xx) and ``UpstreamRefused`` when it answers with
something that is not a valid answer.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote

import requests

from central.errors import (
    Conflict,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    UpstreamRefused,
    UpstreamUnavailable,
)

log = logging.getLogger(__name__)

MAX_RESPONSE = 64 * 1024
MAX_KEY = 100
MAX_MEMO = 200
MAX_ID = 100
RETRY_BACKOFF_S = 0.1
_CURRENCY = re.compile(r"[A-Z]{3}")
# An agency's id for a resident's trust account, as this adapter accepts it.
_AGENCY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

Direction = Literal["debit", "credit"]


@dataclass(frozen=True)
class TrustBalance:
    agency_id: str
    balance_cents: int
    currency: str


@dataclass(frozen=True)
class TrustDebit:
    """A debit or credit that the trust-account system recorded.

    ``debit_id`` is the system's id for the movement (a credit's id too);
    ``balance_cents`` is the account's balance right after it.
    """

    debit_id: str
    agency_id: str
    amount_cents: int
    balance_cents: int


class TrustAccounts(Protocol):
    """The agency's trust-account system, as the central server sees it."""

    def balance(self, agency_id: str) -> TrustBalance:
        """The account's balance. Raises NotFound, UpstreamUnavailable, UpstreamRefused."""
        ...

    def debit(self, agency_id: str, amount_cents: int, idempotency_key: str,
              memo: str) -> TrustDebit:
        """Take money from the account, once per key. Raises InvalidInput, NotFound,
        InsufficientFunds, Conflict, UpstreamUnavailable, UpstreamRefused."""
        ...

    def credit(self, agency_id: str, amount_cents: int, idempotency_key: str,
               memo: str) -> TrustDebit:
        """Put money back into the account, once per key. Raises InvalidInput, NotFound,
        Conflict, UpstreamUnavailable, UpstreamRefused."""
        ...


def check_movement(agency_id: str, amount_cents: int, idempotency_key: str, memo: str) -> None:
    """Raise InvalidInput unless a debit or credit with these arguments can be sent."""
    check_agency_id(agency_id)
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidInput(f"the amount must be a positive number of cents, got {amount_cents!r}")
    if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= MAX_KEY:
        raise InvalidInput(f"the idempotency key must be 1 to {MAX_KEY} characters")
    if not isinstance(memo, str) or len(memo) > MAX_MEMO:
        raise InvalidInput(f"the memo must be text of at most {MAX_MEMO} characters")


def check_agency_id(agency_id: str) -> None:
    """Raise InvalidInput unless ``agency_id`` can name a trust account: letters,
    digits and ``_.-``, starting with a letter or digit, at most 64 characters."""
    if not isinstance(agency_id, str) or not _AGENCY_ID.fullmatch(agency_id):
        raise InvalidInput(f"not a trust-account id: {agency_id[:80]!r}"
                           if isinstance(agency_id, str) else "a trust-account id is text")


# -- over HTTP -----------------------------------------------------------------


def _field(answer: Mapping[str, Any], name: str, kind: type, what: str) -> Any:
    value = answer.get(name)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise UpstreamRefused(f"the trust-account system's {what} has no valid {name}: "
                              f"{value!r}")
    return value


def _cents(answer: Mapping[str, Any], name: str, what: str) -> int:
    value: int = _field(answer, name, int, what)
    if value < 0:
        raise UpstreamRefused(f"the trust-account system's {what} has a negative {name}: "
                              f"{value}")
    return value


def parse_balance(agency_id: str, answer: Any) -> TrustBalance:
    """Check a balance answer. Raises UpstreamRefused for anything that is not one."""
    what = "balance answer"
    if not isinstance(answer, dict):
        raise UpstreamRefused(f"the trust-account system's {what} is not a JSON object")
    if answer.get("agency_id") != agency_id:
        raise UpstreamRefused(f"the trust-account system answered for account "
                              f"{answer.get('agency_id')!r}, not {agency_id!r}")
    balance = _cents(answer, "balance_cents", what)
    currency: str = _field(answer, "currency", str, what)
    if not _CURRENCY.fullmatch(currency):
        raise UpstreamRefused(f"the trust-account system's {what} has no valid currency: "
                              f"{currency[:20]!r}")
    return TrustBalance(agency_id, balance, currency)


def parse_movement(direction: Direction, agency_id: str, amount_cents: int,
                   answer: Any) -> TrustDebit:
    """Check a debit or credit answer. Raises UpstreamRefused for anything that is not one."""
    what = f"{direction} answer"
    if not isinstance(answer, dict):
        raise UpstreamRefused(f"the trust-account system's {what} is not a JSON object")
    movement_id: str = _field(answer, f"{direction}_id", str, what)
    if not 1 <= len(movement_id) <= MAX_ID or not movement_id.isprintable():
        raise UpstreamRefused(f"the trust-account system's {what} has no valid "
                              f"{direction}_id: {movement_id[:MAX_ID]!r}")
    balance = _cents(answer, "balance_cents", what)
    return TrustDebit(movement_id, agency_id, amount_cents, balance)


class HttpTrustAccounts:
    """The trust-account system's JSON API over HTTP.

    ``timeout`` bounds connecting and each read; ``retries`` is how many more
    times a request is sent after a connection failure or a 5xx answer (safe:
    debits and credits carry their idempotency key). A timeout is not retried.
    Pass a ``requests.Session`` to choose TLS settings or pool sizes; the
    constructor does no I/O.
    """

    def __init__(self, base_url: str, timeout: float = 5.0,
                 session: requests.Session | None = None, retries: int = 2) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"the trust-account system's URL must be http(s): {base_url!r}")
        if timeout <= 0 or retries < 0:
            raise ValueError("timeout must be positive and retries not negative")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self._session = session if session is not None else requests.Session()

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def balance(self, agency_id: str) -> TrustBalance:
        """Raises InvalidInput, NotFound, UpstreamUnavailable, UpstreamRefused."""
        check_agency_id(agency_id)
        status, answer = self._request("GET", self._account_url(agency_id))
        if status == 200:
            return parse_balance(agency_id, answer)
        raise self._refusal(status, answer, agency_id)

    def debit(self, agency_id: str, amount_cents: int, idempotency_key: str,
              memo: str) -> TrustDebit:
        """Raises InvalidInput, NotFound, InsufficientFunds, Conflict,
        UpstreamUnavailable, UpstreamRefused."""
        return self._move("debit", agency_id, amount_cents, idempotency_key, memo)

    def credit(self, agency_id: str, amount_cents: int, idempotency_key: str,
               memo: str) -> TrustDebit:
        """Raises InvalidInput, NotFound, Conflict, UpstreamUnavailable, UpstreamRefused."""
        return self._move("credit", agency_id, amount_cents, idempotency_key, memo)

    def _move(self, direction: Direction, agency_id: str, amount_cents: int,
              idempotency_key: str, memo: str) -> TrustDebit:
        check_movement(agency_id, amount_cents, idempotency_key, memo)
        url = f"{self._account_url(agency_id)}/{direction}s"
        body = {"idempotency_key": idempotency_key, "amount_cents": amount_cents, "memo": memo}
        status, answer = self._request("POST", url, body)
        if status in (200, 201):  # 200: a replay of the same key
            movement = parse_movement(direction, agency_id, amount_cents, answer)
            log.info("trust %s of %d cents on %s (key %s): %s, balance %d", direction,
                     amount_cents, agency_id, idempotency_key, movement.debit_id,
                     movement.balance_cents)
            return movement
        raise self._refusal(status, answer, agency_id)

    def _account_url(self, agency_id: str) -> str:
        return f"{self.base_url}/v1/accounts/{quote(agency_id, safe='')}"

    @staticmethod
    def _refusal(status: int, answer: Any, agency_id: str) -> Exception:
        """The error for a 4xx answer (or any other status we do not expect)."""
        code = answer.get("error") if isinstance(answer, dict) else None
        if status == 404:
            return NotFound(f"the trust-account system has no account {agency_id}",
                            code="trust_account_not_found")
        if status == 409 and code == "insufficient_funds":
            return InsufficientFunds(f"trust account {agency_id} does not hold enough money")
        if status == 409 and code == "idempotency_conflict":
            return Conflict("this idempotency key was used for another trust-account movement",
                            code="idempotency_key_reused")
        return UpstreamRefused(f"the trust-account system answered {status} "
                               f"({str(code)[:80] if code else 'no error code'})")

    def _request(self, method: str, url: str,
                 body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """Send a request, retrying connection failures and 5xx answers.

        Returns the status and the decoded JSON answer (None for a 4xx answer
        that is not JSON). Raises UpstreamUnavailable or UpstreamRefused.
        """
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._session.request(method, url, json=body, timeout=self.timeout,
                                                 stream=True, allow_redirects=False)
            except requests.Timeout as e:
                # A connect timeout is also a connection failure: retry that one.
                if isinstance(e, requests.ConnectTimeout) and attempt < attempts:
                    self._pause(attempt, e)
                    continue
                raise UpstreamUnavailable(
                    f"the trust-account system did not answer within {self.timeout} s") from e
            except requests.ConnectionError as e:
                if attempt < attempts:
                    self._pause(attempt, e)
                    continue
                raise UpstreamUnavailable(
                    f"the trust-account system cannot be reached: {e}") from e
            except requests.RequestException as e:
                raise UpstreamUnavailable(f"talking to the trust-account system: {e}") from e
            with response:
                status = response.status_code
                if status >= 500:
                    if attempt < attempts:
                        self._pause(attempt, f"status {status}")
                        continue
                    raise UpstreamUnavailable(f"the trust-account system answered {status}")
                raw = self._read(response)
            return status, self._decode(status, raw)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _pause(self, attempt: int, why: object) -> None:
        log.warning("trust-account system: attempt %d failed (%s); retrying", attempt, why)
        time.sleep(RETRY_BACKOFF_S * attempt)

    def _read(self, response: requests.Response) -> bytes:
        """The answer's body, at most MAX_RESPONSE bytes, read within the timeout.

        Raises UpstreamRefused if longer, UpstreamUnavailable if it stalls or breaks.
        """
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_RESPONSE:
            raise UpstreamRefused(f"the trust-account system's answer is {declared} bytes; "
                                  f"at most {MAX_RESPONSE} are accepted")
        deadline = time.monotonic() + self.timeout
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=8192):
                size += len(chunk)
                if size > MAX_RESPONSE:
                    raise UpstreamRefused(f"the trust-account system's answer is longer than "
                                          f"{MAX_RESPONSE} bytes")
                if time.monotonic() > deadline:
                    raise UpstreamUnavailable("the trust-account system's answer did not "
                                              f"arrive within {self.timeout} s")
                chunks.append(chunk)
        except requests.RequestException as e:
            raise UpstreamUnavailable(f"reading the trust-account system's answer: {e}") from e
        return b"".join(chunks)

    @staticmethod
    def _decode(status: int, raw: bytes) -> Any:
        """The JSON in an answer. Raises UpstreamRefused for a 2xx answer that is not JSON."""
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            if 400 <= status < 500:
                return None  # the status alone says what went wrong
            raise UpstreamRefused(f"the trust-account system answered {status} with "
                                  f"something that is not JSON: {raw[:40]!r}") from e


# -- in this process ---------------------------------------------------------------


@dataclass(frozen=True)
class _Movement:
    direction: Direction
    result: TrustDebit


class InMemoryTrustAccounts:
    """Trust accounts held in this process, with the rules of the real system.

    For the demo without a trust-account system and for tests of the domain
    code. Thread-safe. Balances are in cents; every account is in
    ``currency``.
    """

    def __init__(self, balances: Mapping[str, int] | None = None,
                 currency: str = "USD") -> None:
        self.currency = currency
        self._balances: dict[str, int] = {}
        self._movements: dict[str, _Movement] = {}
        self._lock = threading.Lock()
        for agency_id, cents in (balances or {}).items():
            self.set_balance(agency_id, cents)

    def set_balance(self, agency_id: str, cents: int) -> None:
        """Create an account or set its balance. Raises InvalidInput for bad values."""
        check_agency_id(agency_id)
        if isinstance(cents, bool) or not isinstance(cents, int) or cents < 0:
            raise InvalidInput(f"a balance is a whole number of cents >= 0, got {cents!r}")
        with self._lock:
            self._balances[agency_id] = cents

    def balance(self, agency_id: str) -> TrustBalance:
        """Raises InvalidInput, NotFound."""
        check_agency_id(agency_id)
        with self._lock:
            cents = self._balances.get(agency_id)
        if cents is None:
            raise NotFound(f"the trust-account system has no account {agency_id}",
                           code="trust_account_not_found")
        return TrustBalance(agency_id, cents, self.currency)

    def debit(self, agency_id: str, amount_cents: int, idempotency_key: str,
              memo: str) -> TrustDebit:
        """Raises InvalidInput, NotFound, InsufficientFunds, Conflict."""
        return self._move("debit", agency_id, amount_cents, idempotency_key, memo)

    def credit(self, agency_id: str, amount_cents: int, idempotency_key: str,
               memo: str) -> TrustDebit:
        """Raises InvalidInput, NotFound, Conflict."""
        return self._move("credit", agency_id, amount_cents, idempotency_key, memo)

    def _move(self, direction: Direction, agency_id: str, amount_cents: int,
              idempotency_key: str, memo: str) -> TrustDebit:
        check_movement(agency_id, amount_cents, idempotency_key, memo)
        with self._lock:
            done = self._movements.get(idempotency_key)
            if done is not None:
                first = done.result
                if (done.direction, first.agency_id, first.amount_cents) != \
                        (direction, agency_id, amount_cents):
                    raise Conflict("this idempotency key was used for another trust-account "
                                   "movement", code="idempotency_key_reused")
                return first
            balance = self._balances.get(agency_id)
            if balance is None:
                raise NotFound(f"the trust-account system has no account {agency_id}",
                               code="trust_account_not_found")
            if direction == "debit" and amount_cents > balance:
                raise InsufficientFunds(f"trust account {agency_id} does not hold enough money")
            balance += amount_cents if direction == "credit" else -amount_cents
            result = TrustDebit(f"{direction[0]}_{uuid.uuid4().hex}", agency_id, amount_cents,
                                balance)
            self._balances[agency_id] = balance
            self._movements[idempotency_key] = _Movement(direction, result)
        log.info("in-memory trust %s of %d cents on %s (key %s): balance %d", direction,
                 amount_cents, agency_id, idempotency_key, balance)
        return result
