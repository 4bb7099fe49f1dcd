"""The trust-account boundary: one contract for the HTTP adapter (against the
simulator on loopback) and the in-memory implementation, then what only HTTP
can get wrong: restarts, faults, odd requests and odd answers."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from central.errors import (
    CentralError,
    Conflict,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    UpstreamRefused,
    UpstreamUnavailable,
)
from central.trust_account import (
    MAX_RESPONSE,
    HttpTrustAccounts,
    InMemoryTrustAccounts,
    TrustAccounts,
    TrustBalance,
    parse_balance,
    parse_movement,
)
from simulators.trust_account import MAX_BODY, TrustAccountSimulator
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[2]
RESIDENT = "A1001"
OTHER = "A1002"
START_CENTS = 10_000


@pytest.fixture
def http_trust(trust_simulator: TrustAccountSimulator) -> Iterator[HttpTrustAccounts]:
    trust_simulator.set_balance(RESIDENT, START_CENTS)
    trust_simulator.set_balance(OTHER, 500)
    client = HttpTrustAccounts(trust_simulator.url, timeout=2.0)
    yield client
    client.close()


@pytest.fixture(params=["http", "memory"])
def trust(request: pytest.FixtureRequest) -> TrustAccounts:
    """Each implementation, holding RESIDENT's START_CENTS and OTHER's 500."""
    if request.param == "http":
        client: HttpTrustAccounts = request.getfixturevalue("http_trust")
        return client
    return InMemoryTrustAccounts({RESIDENT: START_CENTS, OTHER: 500})


# -- the contract ----------------------------------------------------------------


def test_balance(trust: TrustAccounts) -> None:
    assert trust.balance(RESIDENT) == TrustBalance(RESIDENT, START_CENTS, "USD")


def test_a_debit_takes_the_money_once(trust: TrustAccounts) -> None:
    debit = trust.debit(RESIDENT, 2_500, "transfer-1", "to prepaid")
    assert debit.debit_id
    assert (debit.agency_id, debit.amount_cents, debit.balance_cents) == (RESIDENT, 2_500, 7_500)
    assert trust.balance(RESIDENT).balance_cents == 7_500


def test_replaying_a_key_returns_the_first_debit_and_moves_no_money(
        trust: TrustAccounts) -> None:
    first = trust.debit(RESIDENT, 2_500, "transfer-1", "to prepaid")
    trust.debit(RESIDENT, 1_000, "transfer-2", "to prepaid")
    again = trust.debit(RESIDENT, 2_500, "transfer-1", "to prepaid")
    assert again == first
    assert trust.balance(RESIDENT).balance_cents == 6_500


@pytest.mark.parametrize("reuse", ["other amount", "other account", "as a credit"])
def test_a_key_reused_for_another_movement_is_a_conflict(trust: TrustAccounts,
                                                        reuse: str) -> None:
    trust.debit(RESIDENT, 2_500, "transfer-1", "to prepaid")
    with pytest.raises(Conflict):
        if reuse == "other amount":
            trust.debit(RESIDENT, 2_600, "transfer-1", "to prepaid")
        elif reuse == "other account":
            trust.debit(OTHER, 2_500, "transfer-1", "to prepaid")
        else:
            trust.credit(RESIDENT, 2_500, "transfer-1", "to prepaid")
    assert trust.balance(RESIDENT).balance_cents == 7_500
    assert trust.balance(OTHER).balance_cents == 500


def test_a_debit_beyond_the_balance_is_refused(trust: TrustAccounts) -> None:
    with pytest.raises(InsufficientFunds):
        trust.debit(RESIDENT, START_CENTS + 1, "too-much", "to prepaid")
    assert trust.balance(RESIDENT).balance_cents == START_CENTS
    # The refused key was not spent: the same key may carry a smaller amount.
    assert trust.debit(RESIDENT, START_CENTS, "too-much", "to prepaid").balance_cents == 0
    with pytest.raises(InsufficientFunds):
        trust.debit(RESIDENT, 1, "one-more", "to prepaid")


def test_a_credit_puts_money_back_once(trust: TrustAccounts) -> None:
    trust.debit(RESIDENT, 3_000, "transfer-1", "to prepaid")
    credit = trust.credit(RESIDENT, 1_000, "refund-1", "refund: undelivered song")
    assert credit.debit_id
    assert (credit.amount_cents, credit.balance_cents) == (1_000, 8_000)
    assert trust.credit(RESIDENT, 1_000, "refund-1", "refund: undelivered song") == credit
    assert trust.balance(RESIDENT).balance_cents == 8_000


def test_an_unknown_account_is_not_found(trust: TrustAccounts) -> None:
    with pytest.raises(NotFound):
        trust.balance("Z9999")
    with pytest.raises(NotFound):
        trust.debit("Z9999", 100, "k1", "")
    with pytest.raises(NotFound):
        trust.credit("Z9999", 100, "k2", "")


@pytest.mark.parametrize(("agency_id", "amount", "key", "memo"), [
    (RESIDENT, 0, "k", ""),
    (RESIDENT, -5, "k", ""),
    (RESIDENT, True, "k", ""),
    (RESIDENT, 1.5, "k", ""),
    (RESIDENT, 100, "", ""),
    (RESIDENT, 100, "k" * 101, ""),
    (RESIDENT, 100, "k", "m" * 201),
    ("", 100, "k", ""),
    ("A" * 65, 100, "k", ""),
    ("A1\n", 100, "k", ""),
    ("../A1", 100, "k", ""),
    ("A 1", 100, "k", ""),
], ids=["zero", "negative", "bool", "float", "empty key", "long key", "long memo",
        "empty account", "long account", "control character", "path", "space"])
def test_arguments_that_cannot_be_sent_are_invalid_input(
        trust: TrustAccounts, agency_id: str, amount: Any, key: str, memo: str) -> None:
    with pytest.raises(InvalidInput):
        trust.debit(agency_id, amount, key, memo)
    with pytest.raises(InvalidInput):
        trust.credit(agency_id, amount, key, memo)
    if agency_id != RESIDENT:
        with pytest.raises(InvalidInput):
            trust.balance(agency_id)
    assert trust.balance(RESIDENT).balance_cents == START_CENTS


def test_concurrent_debits_never_overdraw_or_double_charge(trust: TrustAccounts) -> None:
    def attempt(i: int) -> str | None:
        key = f"transfer-{i % 20}"  # 20 debits of 1000 on 10000, each sent twice
        try:
            trust.debit(RESIDENT, 1_000, key, "to prepaid")
        except InsufficientFunds:
            return None
        return key

    with ThreadPoolExecutor(max_workers=8) as pool:
        charged = {key for key in pool.map(attempt, range(40)) if key}
    # Ten keys were charged, each once: a double charge would leave fewer keys for the 10000.
    assert len(charged) == 10
    assert trust.balance(RESIDENT).balance_cents == 0


# -- HTTP only: state, faults, odd requests ---------------------------------------


def test_state_survives_a_restart(trust_simulator: TrustAccountSimulator,
                                  http_trust: HttpTrustAccounts, tmp_path: Path) -> None:
    debit = http_trust.debit(RESIDENT, 1_250, "transfer-1", "to prepaid")
    url = trust_simulator.url
    trust_simulator.stop()
    with pytest.raises(UpstreamUnavailable):
        HttpTrustAccounts(url, timeout=1.0, retries=0).balance(RESIDENT)
    trust_simulator.start()
    assert trust_simulator.url == url
    assert http_trust.balance(RESIDENT).balance_cents == 8_750
    assert http_trust.debit(RESIDENT, 1_250, "transfer-1", "to prepaid") == debit
    # Another simulator on the same file knows the same accounts.
    trust_simulator.stop()
    with TrustAccountSimulator(tmp_path / "trust.sqlite3") as other:
        client = HttpTrustAccounts(other.url)
        assert client.balance(RESIDENT).balance_cents == 8_750
        assert client.debit(RESIDENT, 1_250, "transfer-1", "to prepaid") == debit
        client.close()


def test_an_unavailable_system_is_retried_then_reported(
        trust_simulator: TrustAccountSimulator, http_trust: HttpTrustAccounts) -> None:
    trust_simulator.set_fault("unavailable")
    before = trust_simulator.request_count
    with pytest.raises(UpstreamUnavailable):
        http_trust.debit(RESIDENT, 500, "transfer-1", "to prepaid")
    assert trust_simulator.request_count - before == 1 + http_trust.retries
    trust_simulator.set_fault("none")
    assert http_trust.balance(RESIDENT).balance_cents == START_CENTS


def test_a_stopped_system_is_unavailable(trust_simulator: TrustAccountSimulator,
                                         http_trust: HttpTrustAccounts) -> None:
    trust_simulator.stop()
    with pytest.raises(UpstreamUnavailable, match="cannot be reached"):
        http_trust.balance(RESIDENT)


def test_a_slow_system_times_out_without_a_retry(trust_simulator: TrustAccountSimulator) -> None:
    trust_simulator.set_balance(RESIDENT, START_CENTS)
    client = HttpTrustAccounts(trust_simulator.url, timeout=0.3)
    trust_simulator.set_fault("slow")
    before = trust_simulator.request_count
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable, match="did not answer within"):
        client.debit(RESIDENT, 500, "transfer-1", "to prepaid")
    assert time.monotonic() - started < 2.0
    assert trust_simulator.request_count - before == 1
    client.close()


def test_garbage_from_the_system_is_refused_without_a_retry(
        trust_simulator: TrustAccountSimulator, http_trust: HttpTrustAccounts) -> None:
    before = trust_simulator.request_count
    response = requests.post(f"{trust_simulator.url}/v1/_faults", json={"mode": "garbage"},
                             timeout=2)
    assert (response.status_code, response.json()) == (200, {"mode": "garbage"})
    with pytest.raises(UpstreamRefused, match="not JSON"):
        http_trust.balance(RESIDENT)
    with pytest.raises(UpstreamRefused):
        http_trust.debit(RESIDENT, 500, "transfer-1", "to prepaid")
    assert trust_simulator.request_count - before == 3
    trust_simulator.set_fault("none")
    assert http_trust.balance(RESIDENT).balance_cents == START_CENTS


def raw_request(url: str, data: bytes) -> tuple[int, bytes]:
    """Send bytes as they are; return the status line's code and the rest."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


@pytest.mark.parametrize(("body", "status"), [
    (b"not json", 400),
    (b"[1, 2]", 400),
    (b'{"idempotency_key": "k", "amount_cents": "500", "memo": ""}', 400),
    (b'{"idempotency_key": "k", "amount_cents": true, "memo": ""}', 400),
    (b'{"idempotency_key": "k", "amount_cents": -1, "memo": ""}', 400),
    (b'{"idempotency_key": "k", "amount_cents": 1e3, "memo": ""}', 400),
    (b'{"idempotency_key": "", "amount_cents": 5, "memo": ""}', 400),
    (b'{"idempotency_key": "k", "amount_cents": 5, "memo": "", "extra": 1}', 400),
    (b'{"idempotency_key": "k", "amount_cents": 5, "memo": "' + b"m" * 201 + b'"}', 400),
    (b"\xff\xfe", 400),
    (b'{"idempotency_key": "k", "amount_cents": 5, "memo": "' + b"m" * MAX_BODY + b'"}', 413),
], ids=["not json", "not an object", "amount as text", "amount as bool", "negative",
        "float", "empty key", "unknown field", "long memo", "not utf-8", "too large"])
def test_a_bad_debit_request_is_answered_and_the_server_keeps_serving(
        trust_simulator: TrustAccountSimulator, http_trust: HttpTrustAccounts,
        body: bytes, status: int) -> None:
    response = requests.post(f"{trust_simulator.url}/v1/accounts/{RESIDENT}/debits", data=body,
                             headers={"Content-Type": "application/json"}, timeout=5)
    assert response.status_code == status
    assert response.json()["error"]
    assert http_trust.balance(RESIDENT).balance_cents == START_CENTS


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"POST /v1/accounts/A1001/debits HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"POST /v1/accounts/A1001/debits HTTP/1.1\r\nHost: x\r\nContent-Length: -4\r\n\r\n", 400),
    (b"POST /v1/accounts/A1001/debits HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     b"\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    (b"POST /v1/accounts/A1001/debits HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", 400),
    (b"POST /v1/accounts/A1001/debits HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n",
     413),
    (b"GET /v1/accounts/..%2F..%2Fetc HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /v1/nothing-here HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"DELETE /v1/accounts/A1001 HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"GET /v1/accounts/A1001/debits HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(64), 400),
], ids=["no length", "negative length", "chunked", "cut short", "huge length",
        "path traversal", "unknown path", "method", "method on debits", "tls hello"])
def test_an_odd_request_is_answered_and_the_server_keeps_serving(
        trust_simulator: TrustAccountSimulator, http_trust: HttpTrustAccounts,
        request_bytes: bytes, status: int) -> None:
    assert raw_request(trust_simulator.url, request_bytes)[0] == status
    assert http_trust.balance(RESIDENT).balance_cents == START_CENTS


def test_the_fault_switch_refuses_an_unknown_mode(trust_simulator: TrustAccountSimulator) -> None:
    response = requests.post(f"{trust_simulator.url}/v1/_faults", json={"mode": "fire"},
                             timeout=2)
    assert response.status_code == 400
    assert trust_simulator.fault == "none"
    with pytest.raises(ValueError):
        trust_simulator.set_fault("fire")  # type: ignore[arg-type]


def test_the_admin_put_creates_and_sets_an_account(trust_simulator: TrustAccountSimulator) -> None:
    url = f"{trust_simulator.url}/v1/accounts/B2002"
    assert requests.put(url, json={"balance_cents": 700}, timeout=2).status_code == 200
    assert requests.get(url, timeout=2).json() == {"agency_id": "B2002", "balance_cents": 700,
                                                   "currency": "USD"}
    assert requests.put(url, json={"balance_cents": -1}, timeout=2).status_code == 400
    assert requests.put(url, json={"balance": 1}, timeout=2).status_code == 400


# -- HTTP only: answers the adapter must refuse ----------------------------------------


GOOD_BALANCE = {"agency_id": RESIDENT, "balance_cents": 100, "currency": "USD"}
GOOD_DEBIT = {"debit_id": "d_1", "balance_cents": 100}


@pytest.mark.parametrize("answer", [
    None, [], "text", {},
    {**GOOD_BALANCE, "agency_id": "A1002"},
    {**GOOD_BALANCE, "balance_cents": -1},
    {**GOOD_BALANCE, "balance_cents": "100"},
    {**GOOD_BALANCE, "balance_cents": 100.0},
    {**GOOD_BALANCE, "balance_cents": True},
    {**GOOD_BALANCE, "currency": "usd"},
    {**GOOD_BALANCE, "currency": None},
    {"agency_id": RESIDENT, "currency": "USD"},
])
def test_a_bad_balance_answer_is_refused(answer: Any) -> None:
    with pytest.raises(UpstreamRefused):
        parse_balance(RESIDENT, answer)


@pytest.mark.parametrize("answer", [
    None, [], {},
    {**GOOD_DEBIT, "debit_id": ""},
    {**GOOD_DEBIT, "debit_id": 7},
    {**GOOD_DEBIT, "debit_id": "d" * 101},
    {**GOOD_DEBIT, "debit_id": "d\n1"},
    {**GOOD_DEBIT, "balance_cents": -5},
    {**GOOD_DEBIT, "balance_cents": None},
    {"credit_id": "c_1", "balance_cents": 100},
])
def test_a_bad_debit_answer_is_refused(answer: Any) -> None:
    with pytest.raises(UpstreamRefused):
        parse_movement("debit", RESIDENT, 100, answer)


def test_good_answers_parse() -> None:
    assert parse_balance(RESIDENT, GOOD_BALANCE) == TrustBalance(RESIDENT, 100, "USD")
    assert parse_movement("debit", RESIDENT, 5, GOOD_DEBIT).debit_id == "d_1"


class QuietHTTPServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the adapter hangs up on answers it refuses; that is the point


class CannedServer:
    """A real HTTP server on loopback that answers every request with one canned answer."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        self.chunked = False
        canned = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                # One look at the canned answer: the test may change it as soon as
                # the client has read this one.
                status, body, chunked = canned.status, canned.body, canned.chunked
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for start in range(0, len(body), 4096):
                        piece = body[start:start + 4096]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)


@pytest.fixture
def canned() -> Iterator[CannedServer]:
    server = CannedServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.mark.parametrize(("status", "body", "chunked", "error"), [
    (200, json.dumps({**GOOD_BALANCE, "pad": "x" * MAX_RESPONSE}).encode(), False,
     UpstreamRefused),
    (200, json.dumps({**GOOD_BALANCE, "pad": "x" * MAX_RESPONSE}).encode(), True,
     UpstreamRefused),
    (200, json.dumps({**GOOD_BALANCE, "balance_cents": -3}).encode(), False, UpstreamRefused),
    (200, b"\x00\x01", False, UpstreamRefused),
    (302, b"", False, UpstreamRefused),
    (400, b"<html>bad request</html>", False, UpstreamRefused),
    (409, b'{"error": "something_else"}', False, UpstreamRefused),
    (404, b"", False, NotFound),
    (502, b"", False, UpstreamUnavailable),
], ids=["oversized", "oversized chunked", "negative balance", "binary", "redirect",
        "400 html", "unknown conflict", "404 empty", "502"])
def test_the_adapter_refuses_what_is_not_an_answer(
        canned: CannedServer, status: int, body: bytes, chunked: bool,
        error: type[CentralError]) -> None:
    canned.status, canned.body, canned.chunked = status, body, chunked
    client = HttpTrustAccounts(canned.url, timeout=2.0, retries=0)
    with pytest.raises(error):
        client.balance(RESIDENT)
    canned.status, canned.body, canned.chunked = 200, json.dumps(GOOD_BALANCE).encode(), False
    assert client.balance(RESIDENT).balance_cents == 100
    client.close()


# -- the command line ---------------------------------------------------------------


def run_module(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulators.trust_account", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_the_command_line_has_help() -> None:
    result = run_module("--help")
    assert result.returncode == 0
    assert "--db" in result.stdout and "--port" in result.stdout


def test_the_command_line_serves_until_terminated(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.trust_account", "--db", str(tmp_path / "t.db"),
         "--port", str(port), "--account", f"{RESIDENT}=4200"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        client = HttpTrustAccounts(f"http://127.0.0.1:{port}", timeout=1.0, retries=0)
        balance = wait_for(lambda: client.balance(RESIDENT))
        assert balance.balance_cents == 4200
        client.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        _, stderr = process.communicate(timeout=10)
    assert f"127.0.0.1:{port}" in stderr


def wait_for(call: Callable[[], TrustBalance], timeout: float = 10.0) -> TrustBalance:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except UpstreamUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_client_connection_survives_between_requests(
        trust_simulator: TrustAccountSimulator) -> None:
    """Keep-alive: two requests on one connection, the second after the first's answer."""
    trust_simulator.set_balance(RESIDENT, 1)
    host, port = trust_simulator.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    for _ in range(2):
        conn.request("GET", f"/v1/accounts/{RESIDENT}")
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["balance_cents"] == 1
    conn.close()
