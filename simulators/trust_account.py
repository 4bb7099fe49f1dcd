"""A simulated agency trust-account system, over HTTP on loopback.

Residents' money lives in the agency's trust-account system; Sallyport reads
the balance and debits it when a resident moves money to their prepaid
account. This simulator answers the same small JSON API the central server's
adapter (``central.trust_account.HttpTrustAccounts``) speaks:

    GET  /v1/accounts/{agency_id}            200 {"agency_id", "balance_cents", "currency"}
    PUT  /v1/accounts/{agency_id}            {"balance_cents"}: create or set (admin)
    POST /v1/accounts/{agency_id}/debits     {"idempotency_key", "amount_cents", "memo"}
                                             201 {"debit_id", "balance_cents"}
    POST /v1/accounts/{agency_id}/credits    the same, 201 {"credit_id", "balance_cents"}
    POST /v1/_faults                         {"mode": "none"|"unavailable"|"slow"|"garbage"}

A repeated idempotency key gets the first answer again (200) and moves no
money; a key reused for another account, direction or amount gets 409
``idempotency_conflict``; a debit beyond the balance gets 409
``insufficient_funds``. Errors are ``{"error": CODE, "message": TEXT}``.

State lives in a SQLite file, one transaction per request, so it survives a
restart. Request bodies are bounded; a bad request gets a 4xx answer and
never takes the server down.

Run it on its own for the demo::

    python -m simulators.trust_account --db trust.sqlite3 --port 8470 --account A1001=25000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import signal
import socket
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, cast

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
MAX_KEY = 100
MAX_MEMO = 200
# Bounds that keep every sum well inside SQLite's 64-bit integers.
MAX_AMOUNT = 10**11
MAX_BALANCE = 10**13
SLOW_DELAY_S = 5.0
SOCKET_TIMEOUT_S = 10.0
CURRENCY = "USD"
AGENCY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
ACCOUNT_PATH = re.compile(r"/v1/accounts/([^/]+)")
MOVEMENT_PATH = re.compile(r"/v1/accounts/([^/]+)/(debits|credits)")
FAULT_MODES = ("none", "unavailable", "slow", "garbage")
FaultMode = Literal["none", "unavailable", "slow", "garbage"]
Kind = Literal["debit", "credit"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    agency_id     TEXT PRIMARY KEY,
    balance_cents INTEGER NOT NULL CHECK (balance_cents >= 0),
    currency      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS movements (
    movement_id     TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    agency_id       TEXT NOT NULL REFERENCES accounts (agency_id),
    kind            TEXT NOT NULL CHECK (kind IN ('debit', 'credit')),
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    memo            TEXT NOT NULL,
    balance_after   INTEGER NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
"""


class RequestRefused(Exception):
    """A request the simulator answers with an error status."""

    def __init__(self, status: HTTPStatus, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.fields}


# -- checking requests (pure) ---------------------------------------------------


def _agency_id(raw: str) -> str:
    if not AGENCY_ID.fullmatch(raw):
        raise RequestRefused(HTTPStatus.BAD_REQUEST, "bad_request",
                             f"not an agency id: {raw[:80]!r}")
    return raw


def _object(body: bytes, allowed: set[str]) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise RequestRefused(HTTPStatus.BAD_REQUEST, "bad_request", f"body is not JSON: {e}") \
            from e
    if not isinstance(value, dict):
        raise RequestRefused(HTTPStatus.BAD_REQUEST, "bad_request", "body must be a JSON object")
    unknown = set(value) - allowed
    if unknown:
        raise RequestRefused(HTTPStatus.BAD_REQUEST, "bad_request",
                             f"unknown fields: {sorted(unknown)}")
    return value


def _whole(value: Any, name: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RequestRefused(HTTPStatus.BAD_REQUEST, "bad_request",
                             f"{name} must be a whole number from {low} to {high}, "
                             f"got {value!r}")
    return value


def _text(value: Any, name: str, *, low: int, high: int) -> str:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise RequestRefused(HTTPStatus.BAD_REQUEST, "bad_request",
                             f"{name} must be text of {low} to {high} characters")
    return value


def parse_movement(body: bytes) -> tuple[str, int, str]:
    """The idempotency key, amount and memo of a debit or credit request.

    Raises RequestRefused (400) for anything else.
    """
    request = _object(body, {"idempotency_key", "amount_cents", "memo"})
    key = _text(request.get("idempotency_key"), "idempotency_key", low=1, high=MAX_KEY)
    amount = _whole(request.get("amount_cents"), "amount_cents", low=1, high=MAX_AMOUNT)
    memo = _text(request.get("memo", ""), "memo", low=0, high=MAX_MEMO)
    return key, amount, memo


# -- the ledger in SQLite --------------------------------------------------------


class TrustStore:
    """The simulated trust accounts in a SQLite file; each call is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            # With WAL, NORMAL loses nothing when the process dies, only on power loss.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def create(self) -> None:
        """Create the tables if the file has none yet."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)

    def balance(self, agency_id: str) -> dict[str, Any]:
        """Raises RequestRefused (404) for an unknown account."""
        with self._transaction() as conn:
            row = conn.execute("SELECT balance_cents, currency FROM accounts WHERE agency_id = ?",
                               (agency_id,)).fetchone()
        if row is None:
            raise RequestRefused(HTTPStatus.NOT_FOUND, "not_found",
                                 f"no trust account {agency_id}")
        return {"agency_id": agency_id, "balance_cents": row[0], "currency": row[1]}

    def set_balance(self, agency_id: str, cents: int) -> dict[str, Any]:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO accounts (agency_id, balance_cents, currency) VALUES (?, ?, ?) "
                "ON CONFLICT (agency_id) DO UPDATE SET balance_cents = excluded.balance_cents",
                (agency_id, cents, CURRENCY))
        return {"agency_id": agency_id, "balance_cents": cents, "currency": CURRENCY}

    def move(self, agency_id: str, kind: Kind, key: str, amount: int,
             memo: str) -> tuple[bool, dict[str, Any]]:
        """Debit or credit an account once per idempotency key.

        Returns (created, answer): created is False for a replay, whose answer
        is the first one. Raises RequestRefused: 404 unknown account, 409 for
        a key reused with other values, for insufficient funds, or for a
        balance beyond the simulator's limit.
        """
        id_field = f"{kind}_id"
        with self._transaction() as conn:
            previous = conn.execute(
                "SELECT movement_id, agency_id, kind, amount_cents, balance_after "
                "FROM movements WHERE idempotency_key = ?", (key,)).fetchone()
            if previous is not None:
                movement_id, first_agency, first_kind, first_amount, balance_after = previous
                if (first_agency, first_kind, first_amount) != (agency_id, kind, amount):
                    raise RequestRefused(
                        HTTPStatus.CONFLICT, "idempotency_conflict",
                        f"idempotency key {key!r} was used for a {first_kind} of "
                        f"{first_amount} cents on {first_agency}")
                return False, {id_field: movement_id, "balance_cents": balance_after}
            row = conn.execute("SELECT balance_cents FROM accounts WHERE agency_id = ?",
                               (agency_id,)).fetchone()
            if row is None:
                raise RequestRefused(HTTPStatus.NOT_FOUND, "not_found",
                                     f"no trust account {agency_id}")
            balance = int(row[0])
            if kind == "debit" and amount > balance:
                raise RequestRefused(HTTPStatus.CONFLICT, "insufficient_funds",
                                     f"the balance is {balance} cents, the debit {amount}",
                                     balance_cents=balance, amount_cents=amount)
            new_balance = balance - amount if kind == "debit" else balance + amount
            if new_balance > MAX_BALANCE:
                raise RequestRefused(HTTPStatus.CONFLICT, "balance_limit",
                                     f"the balance would exceed {MAX_BALANCE} cents")
            movement_id = f"{kind[0]}_{uuid.uuid4().hex}"
            conn.execute("UPDATE accounts SET balance_cents = ? WHERE agency_id = ?",
                         (new_balance, agency_id))
            conn.execute(
                "INSERT INTO movements (movement_id, idempotency_key, agency_id, kind, "
                "amount_cents, memo, balance_after) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (movement_id, key, agency_id, kind, amount, memo, new_balance))
        log.info("%s of %d cents on %s (key %s): balance %d", kind, amount, agency_id, key,
                 new_balance)
        return True, {id_field: movement_id, "balance_cents": new_balance}

    def movement_count(self, agency_id: str) -> int:
        with self._transaction() as conn:
            row = conn.execute("SELECT count(*) FROM movements WHERE agency_id = ?",
                               (agency_id,)).fetchone()
        return int(row[0])


# -- HTTP --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Answer even an unreadable request line with a status line (not HTTP/0.9).
    default_request_version = "HTTP/1.0"
    server_version = "SallyportTrustSimulator/1"
    timeout = SOCKET_TIMEOUT_S
    # Headers and body are two writes; without this, Nagle's algorithm and the
    # client's delayed ACK hold every answer back by some 40 ms.
    disable_nagle_algorithm = True
    server: _HttpServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The standard library's own refusals (bad request line, unknown method), as JSON."""
        status = HTTPStatus(code)
        self.close_connection = True
        self._answer(status, {"error": "bad_request" if code == 400 else "http_error",
                              "message": message or status.phrase})

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self, method: str) -> None:
        simulator = self.server.simulator
        simulator.count_request()
        try:
            body = self._read_body() if method in ("POST", "PUT") else b""
            if self.path == "/v1/_faults" and method == "POST":
                request = _object(body, {"mode"})
                mode = request.get("mode")
                if mode not in FAULT_MODES:
                    raise RequestRefused(HTTPStatus.BAD_REQUEST, "bad_request",
                                         f"mode must be one of {FAULT_MODES}")
                simulator.set_fault(cast(FaultMode, mode))
                self._answer(HTTPStatus.OK, {"mode": mode})
                return
            fault = simulator.fault
            if fault == "unavailable":
                self._answer(HTTPStatus.SERVICE_UNAVAILABLE,
                             {"error": "unavailable", "message": "fault: unavailable"})
                return
            if fault == "slow" and simulator.wait_slow():
                return  # stopping
            if fault == "garbage":
                self._send(HTTPStatus.OK, b"<html>\x00not json at all", "text/html")
                return
            status, answer = self._route(method, body)
            self._answer(status, answer)
        except RequestRefused as e:
            self._answer(e.status, e.body())
        except sqlite3.Error as e:  # say, the file locked for too long
            log.warning("trust-account store failed: %s", e)
            self.close_connection = True
            self._answer(HTTPStatus.INTERNAL_SERVER_ERROR,
                         {"error": "store_failed", "message": str(e)})

    def _route(self, method: str, body: bytes) -> tuple[HTTPStatus, dict[str, Any]]:
        store = self.server.simulator.store
        path = self.path.split("?", 1)[0]
        match = MOVEMENT_PATH.fullmatch(path)
        if match:
            if method != "POST":
                raise RequestRefused(HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
                                     f"{method} is not allowed here")
            agency_id = _agency_id(match[1])
            key, amount, memo = parse_movement(body)
            kind: Kind = "debit" if match[2] == "debits" else "credit"
            created, answer = store.move(agency_id, kind, key, amount, memo)
            return (HTTPStatus.CREATED if created else HTTPStatus.OK), answer
        match = ACCOUNT_PATH.fullmatch(path)
        if match:
            agency_id = _agency_id(match[1])
            if method == "GET":
                return HTTPStatus.OK, store.balance(agency_id)
            if method == "PUT":
                request = _object(body, {"balance_cents"})
                cents = _whole(request.get("balance_cents"), "balance_cents", low=0,
                               high=MAX_BALANCE)
                return HTTPStatus.OK, store.set_balance(agency_id, cents)
            raise RequestRefused(HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
                                 f"{method} is not allowed here")
        raise RequestRefused(HTTPStatus.NOT_FOUND, "not_found", "no such resource")

    def _read_body(self) -> bytes:
        """The request body, at most MAX_BODY bytes.

        Raises RequestRefused: 400 without a usable Content-Length, 413 for a
        longer body (the connection is then closed unread).
        """
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise RequestRefused(HTTPStatus.BAD_REQUEST, "bad_request",
                                 "send the body with a Content-Length")
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.isdigit():
            self.close_connection = True
            raise RequestRefused(HTTPStatus.BAD_REQUEST, "bad_request",
                                 "a Content-Length header is required")
        length = int(raw)
        if length > MAX_BODY:
            self.close_connection = True
            raise RequestRefused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large",
                                 f"the body may be at most {MAX_BODY} bytes")
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise RequestRefused(HTTPStatus.BAD_REQUEST, "bad_request", "the body was cut short")
        return body

    def _answer(self, status: HTTPStatus, answer: dict[str, Any]) -> None:
        self._send(status, json.dumps(answer).encode(), "application/json")

    def _send(self, status: HTTPStatus, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)


class _HttpServer(ThreadingHTTPServer):
    """Keeps its open connections, so that stopping can close idle keep-alive ones."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: TrustAccountSimulator) -> None:
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer is no news; anything else is a
        # simulator bug, worth a traceback in the log.
        log.debug("request from %s failed", client_address, exc_info=True)


class TrustAccountSimulator:
    """The agency's trust-account system on loopback, state in a SQLite file.

    The constructor does no I/O. ``start()`` serves on a daemon thread;
    ``stop()`` closes the socket and every open connection. Started again,
    it serves the same file on the same port.
    """

    def __init__(self, db_path: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = TrustStore(db_path)
        self.host = host
        self.port = port
        self._fault: FaultMode = "none"
        self._stopping = threading.Event()
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._requests = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8470``.

        Raises RuntimeError before the first start() with port 0.
        """
        if self.port == 0:
            raise RuntimeError("the trust-account simulator has not been started")
        return f"http://{self.host}:{self.port}"

    @property
    def fault(self) -> FaultMode:
        return self._fault

    @property
    def request_count(self) -> int:
        """How many requests the simulator has received, faults included."""
        return self._requests

    def count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def start(self) -> None:
        """Create the database if needed and serve on a daemon thread.

        Raises OSError if the address cannot be bound, RuntimeError if running.
        """
        if self._server is not None:
            raise RuntimeError("the trust-account simulator is already running")
        self.store.create()
        self._stopping.clear()
        self._server = _HttpServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"trust-simulator:{self.port}", daemon=True)
        self._thread.start()
        log.info("trust-account simulator on %s (%s)", self.url, self.store.path)

    def stop(self) -> None:
        """Stop serving and close every connection; does nothing if not running."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()  # joins the request threads
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> TrustAccountSimulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_balance(self, agency_id: str, cents: int) -> None:
        """Create an account or set its balance (works while stopped too).

        Raises ValueError for a bad agency id or balance.
        """
        try:
            _agency_id(agency_id)
            _whole(cents, "balance_cents", low=0, high=MAX_BALANCE)
        except RequestRefused as e:
            raise ValueError(e.message) from None
        self.store.create()
        self.store.set_balance(agency_id, cents)

    def set_fault(self, mode: FaultMode) -> None:
        """Answer every later request with a fault: 503, a 5 s delay, or non-JSON.

        Raises ValueError for an unknown mode.
        """
        if mode not in FAULT_MODES:
            raise ValueError(f"fault mode must be one of {FAULT_MODES}, got {mode!r}")
        self._fault = mode
        log.info("trust-account simulator fault: %s", mode)

    def wait_slow(self) -> bool:
        """Sleep for the slow fault; True if the simulator is stopping meanwhile."""
        return self._stopping.wait(SLOW_DELAY_S)


def _account(text: str) -> tuple[str, int]:
    agency_id, sep, cents = text.partition("=")
    if not sep or not AGENCY_ID.fullmatch(agency_id) or not cents.isdigit():
        raise argparse.ArgumentTypeError(f"expected AGENCY_ID=CENTS, got {text!r}")
    return agency_id, int(cents)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a simulated trust-account system until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.trust_account",
        description="A simulated agency trust-account system (JSON over HTTP on loopback).")
    parser.add_argument("--db", type=Path, required=True,
                        help="the SQLite file that holds the accounts (created if missing)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on (0: any free port, logged at start)")
    parser.add_argument("--account", type=_account, action="append", default=[],
                        metavar="AGENCY_ID=CENTS",
                        help="create or set an account's balance before serving (repeatable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    simulator = TrustAccountSimulator(args.db, host=args.host, port=args.port)
    for agency_id, cents in args.account:
        simulator.set_balance(agency_id, cents)
    done = threading.Event()

    def finish(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    simulator.start()
    try:
        done.wait()
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
