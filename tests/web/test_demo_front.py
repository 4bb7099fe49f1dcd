"""The demo's HTTPS front for browsers (devkit/web_front.py), before the
demo's own central server (devkit/stage.py: a process of its own, over TLS
with its Ed25519 certificate from the facility CA): Chromium reaches the
pages through it trusting exactly the front's certificate by its key's pin,
and nothing else is trusted on the way."""

from __future__ import annotations

import base64
import datetime
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Error as BrowserError

from device_security.ca_store import CertificateAuthority
from devkit.stage import CentralProcess, Stage, prepare
from devkit.web_front import WebFront, make_identity, spki_pin
from devkit.web_walk import browser_environment, launch


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    """The demo's facility and its central server, shared by this module's tests."""
    stage = prepare(tmp_path_factory.mktemp("facility"), [],
                    password_cost="low")
    process = CentralProcess(stage)
    process.start()
    try:
        yield stage
    finally:
        process.stop()


@pytest.fixture
def chromium(browser: Any) -> Iterator[Callable[[str], Any]]:
    """A page of Debian's Chromium trusting the certificate a pin names,
    launched by the web tests' own Playwright (one Playwright a thread)."""
    launched: list[Any] = []

    def pinned(pin: str) -> Any:
        launched.append(launch(browser.browser_type, pin))
        return _page(launched[-1])
    yield pinned
    for one in launched:
        one.close()


@pytest.fixture
def front(tmp_path: Path, central: Stage) -> Iterator[WebFront]:
    started = WebFront(tmp_path / "front", ("127.0.0.1", central.central_port),
                       central.ca_certificate)
    started.start()
    try:
        yield started
    finally:
        started.stop()


def test_chromium_takes_no_ed25519_server_certificate(
        central: Stage, chromium: Callable[[str], Any]) -> None:
    """Why the front is there: even pinned, the server's own certificate ends
    the handshake. When this fails, browsers may reach the server directly."""
    pin = spki_pin((central.root / "central-identity" / "identity" / "certificate.pem")
                   .read_bytes())
    health = requests.get(central.central_url + "/v1/health", timeout=30,
                          verify=str(central.ca_certificate))
    assert health.status_code == 200  # it is up, to OpenSSL
    page = chromium(pin)
    with pytest.raises(BrowserError,
                       match=r"ERR_SSL_VERSION_OR_CIPHER_MISMATCH|ERR_CONNECTION_CLOSED"):
        page.goto(central.central_url + "/family/login")


def test_through_the_front_chromium_trusts_exactly_its_certificate(
        front: WebFront, chromium: Callable[[str], Any]) -> None:
    page = chromium(front.pin)
    answer = page.goto(front.url + "/family/login")
    assert answer is not None and answer.status == 200
    assert page.get_by_role("heading", name="Log in").is_visible()
    # Over HTTPS the server's session cookies are Secure and __Host- ones.
    assert any(c["name"].startswith("__Host-") and c["secure"]
               for c in page.context.cookies())


def test_a_browser_without_the_pin_or_with_another_is_refused(
        front: WebFront, browser: Any, chromium: Callable[[str], Any]) -> None:
    page = _page(browser)  # the web tests' browser: trusts no extra certificate
    with pytest.raises(BrowserError, match="ERR_CERT_AUTHORITY_INVALID"):
        page.goto(front.url + "/family/login")
    page.context.close()
    other = spki_pin(make_identity("127.0.0.1", front_now()).certificate_pem)
    assert other != front.pin
    page = chromium(other)
    with pytest.raises(BrowserError, match="ERR_CERT_AUTHORITY_INVALID"):
        page.goto(front.url + "/family/login")


def test_the_front_carries_nothing_to_a_server_its_ca_did_not_certify(
        tmp_path: Path, central: Stage, chromium: Callable[[str], Any]) -> None:
    CertificateAuthority.create(tmp_path / "other-ca", "Elsewhere", now=front_now())
    wrong = WebFront(tmp_path / "front", ("127.0.0.1", central.central_port),
                     tmp_path / "other-ca" / "ca-cert.pem")
    wrong.start()
    try:
        page = chromium(wrong.pin)
        with pytest.raises(BrowserError, match=r"ERR_EMPTY_RESPONSE|ERR_CONNECTION_CLOSED"):
            page.goto(wrong.url + "/family/login")
    finally:
        wrong.stop()


def test_the_pin_is_the_sha256_of_the_certificate_public_key(tmp_path: Path) -> None:
    """Checked against openssl's own reckoning of the same certificate."""
    identity = make_identity("127.0.0.1", front_now())

    def openssl(*args: str, given: bytes) -> bytes:
        return subprocess.run(["openssl", *args], input=given, capture_output=True,
                              check=True, timeout=60).stdout

    key = openssl("x509", "-pubkey", "-noout", given=identity.certificate_pem)
    der = openssl("pkey", "-pubin", "-outform", "der", given=key)
    digest = openssl("dgst", "-sha256", "-binary", given=der)
    expected = base64.b64encode(digest).decode()
    assert spki_pin(identity.certificate_pem) == expected


def _page(browser: Any) -> Any:
    context = browser.new_context()
    context.set_default_timeout(90_000)  # as the web tests: two shared cores
    return context.new_page()


def front_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)


def test_the_browser_runs_without_umockdev_preload_and_keeps_other_preloads() -> None:
    env = {"LD_PRELOAD": "libumockdev-preload.so.0:/opt/libother.so", "UMOCKDEV_DIR": "/tmp/x",
           "HOME": "/root"}
    assert browser_environment(env) == {"LD_PRELOAD": "/opt/libother.so", "HOME": "/root"}
    assert browser_environment({"LD_PRELOAD": "libumockdev-preload.so.0"}) == {}
