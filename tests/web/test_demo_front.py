"""The demo's HTTPS front for browsers (devkit/web_front.py), before a real
central server over TLS with its Ed25519 certificate: Chromium reaches the
pages through it trusting exactly the front's certificate by its key's pin,
and nothing else is trusted on the way."""

from __future__ import annotations

import base64
import datetime
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as BrowserError

from device_security.ca_store import CertificateAuthority
from devkit.web_front import WebFront, make_identity, spki_pin
from devkit.web_walk import launch
from tests.central.api_server import ApiServer


def _upstream(site: ApiServer) -> tuple[str, int]:
    parts = urlsplit(site.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


@pytest.fixture
def chromium(browser: Any) -> Iterator[Callable[[str], Any]]:
    """Debian's Chromium trusting the certificate a pin names, launched by the
    web tests' own Playwright (one Playwright a thread)."""
    launched: list[Any] = []

    def pinned(pin: str) -> Any:
        launched.append(launch(browser.browser_type, pin))
        return launched[-1]
    yield pinned
    for one in launched:
        one.close()


@pytest.fixture
def front(tmp_path: Path, https_site: ApiServer) -> Any:
    started = WebFront(tmp_path / "front", _upstream(https_site), https_site.ca_file)
    started.start()
    try:
        yield started
    finally:
        started.stop()


def test_chromium_takes_no_ed25519_server_certificate(
        https_site: ApiServer, chromium: Callable[[str], Any]) -> None:
    """Why the front is there: even pinned, the server's own certificate ends
    the handshake. When this fails, browsers may reach the server directly."""
    pin = spki_pin(Path(https_site.ca_file).parent.parent.joinpath(
        "server", "certificate.pem").read_bytes())
    assert https_site.session().get("/v1/health").status_code == 200  # it is up, to OpenSSL
    page = chromium(pin).new_page()
    with pytest.raises(BrowserError,
                       match=r"ERR_SSL_VERSION_OR_CIPHER_MISMATCH|ERR_CONNECTION_CLOSED"):
        page.goto(https_site.url + "/family/login")


def test_through_the_front_chromium_trusts_exactly_its_certificate(
        front: WebFront, chromium: Callable[[str], Any]) -> None:
    page = chromium(front.pin).new_page()
    answer = page.goto(front.url + "/family/login")
    assert answer is not None and answer.status == 200
    assert page.get_by_role("heading", name="Log in").is_visible()
    # Over HTTPS the server's session cookies are Secure and __Host- ones.
    assert any(c["name"].startswith("__Host-") and c["secure"]
               for c in page.context.cookies())


def test_a_browser_without_the_pin_or_with_another_is_refused(
        front: WebFront, browser: Any, chromium: Callable[[str], Any]) -> None:
    page = browser.new_page()  # the web tests' browser: trusts no extra certificate
    with pytest.raises(BrowserError, match="ERR_CERT_AUTHORITY_INVALID"):
        page.goto(front.url + "/family/login")
    page.close()
    other = spki_pin(make_identity("127.0.0.1", front_now()).certificate_pem)
    assert other != front.pin
    page = chromium(other).new_page()
    with pytest.raises(BrowserError, match="ERR_CERT_AUTHORITY_INVALID"):
        page.goto(front.url + "/family/login")


def test_the_front_carries_nothing_to_a_server_its_ca_did_not_certify(
        tmp_path: Path, https_site: ApiServer, chromium: Callable[[str], Any]) -> None:
    CertificateAuthority.create(tmp_path / "other-ca", "Elsewhere", now=front_now())
    wrong = WebFront(tmp_path / "front", _upstream(https_site),
                     tmp_path / "other-ca" / "ca-cert.pem")
    wrong.start()
    try:
        page = chromium(wrong.pin).new_page()
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


def front_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
