"""Running the server: parts built from the configuration, TLS that asks kiosks
for their certificate, and uvicorn.

Uvicorn does not pass the client's certificate to the application, so the
HTTP protocol is subclassed to put it in the ASGI TLS extension
(``scope["extensions"]["tls"]["client_cert_chain"]``), where
:mod:`central.api.auth` reads it. The handshake has finished before a
protocol's ``connection_made`` runs, so the certificate is known then.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from central import migrate
from central.blobs import BlobStore
from central.config import CentralConfig
from central.database import Database
from central.passwords import Passwords
from central.payments import NoCardPayments, SandboxCardPayments
from central.revocation import PublishedRevocationList
from central.services import (
    essential_requests,
    legal_mail,
    media,
    money,
    prices,
    tickets,
    uploads,
)
from central.services.core import Central, Settings
from central.trust_account import HttpTrustAccounts, InMemoryTrustAccounts, TrustAccounts
from device_security.pki import TrustAnchors

log = logging.getLogger(__name__)


def build_central(config: CentralConfig, *, translator: Any = None) -> Central:
    """The server's parts from its configuration (no network I/O yet)."""
    config.state_path.mkdir(parents=True, exist_ok=True)
    trust: TrustAccounts = (HttpTrustAccounts(config.trust_account_url)
                            if config.trust_account_url else InMemoryTrustAccounts())
    if translator is None:
        from central.translation import ReviewTranslator
        translator = ReviewTranslator(working_language=config.working_language)
    return Central(
        db=Database(config.url),
        blobs=BlobStore(config.state_path / "blobs"),
        trust=trust,
        payments=SandboxCardPayments() if config.card_processor == "sandbox"
        else NoCardPayments(),
        passwords=Passwords(config.password_cost),
        translator=translator,
        legal_seal=legal_mail.load_key(config.state_path),
        settings=Settings(retention_days=config.retention_days,
                          ticket_resolution_days=config.ticket_resolution_days,
                          ticket_escalate_days_before=config.ticket_escalate_days_before),
    )


def kiosk_trust(config: CentralConfig) -> TrustAnchors | None:
    if not config.ca_certificate:
        return None
    ca = x509.load_pem_x509_certificate(Path(config.ca_certificate).read_bytes())
    crl = x509.load_pem_x509_crl(Path(config.crl).read_bytes()) if config.crl else None
    return TrustAnchors(ca, crl)


def tls_context(config: CentralConfig) -> ssl.SSLContext | None:
    """TLS 1.3 with the server's certificate, asking (not requiring) a client
    certificate from the facility CA: kiosks present one, family members don't."""
    if not config.tls_certificate:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(config.tls_certificate, config.tls_key)
    if config.ca_certificate:
        context.load_verify_locations(config.ca_certificate)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def _with_client_certificate(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    class WithClientCertificate(base):  # type: ignore[valid-type,misc]
        app: Any

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if der:
                pem = ssl.DER_cert_to_PEM_cert(der)
                app = self.app

                async def with_tls(scope: dict[str, Any], receive: Callable[..., Any],
                                   send: Callable[..., Any]) -> None:
                    scope.setdefault("extensions", {})["tls"] = {"client_cert_chain": [pem]}
                    await app(scope, receive, send)
                self.app = with_tls
    WithClientCertificate.__name__ = f"{base.__name__}WithClientCertificate"
    return WithClientCertificate


HttpToolsWithCertificate = _with_client_certificate(HttpToolsProtocol)
H11WithCertificate = _with_client_certificate(H11Protocol)


class CentralServer:
    """The API served by uvicorn, in this thread (:meth:`run`) or a background
    one (:meth:`start`/:meth:`stop`), with the periodic sweeps."""

    def __init__(self, central: Central, config: CentralConfig, *,
                 trust: TrustAnchors | None) -> None:
        from central.api.app import create_app
        self.central = central
        self.config = config
        published = PublishedRevocationList(Path(config.crl), trust.ca) \
            if trust is not None and config.crl else None
        self.app = create_app(central, kiosk_trust=trust, revocation_list=published)
        context = tls_context(config)
        self._uvicorn = uvicorn.Config(
            self.app, host=config.host, port=config.port, log_level="warning",
            http=HttpToolsWithCertificate, lifespan="off", access_log=False,
            ssl_context_factory=(lambda _c, _d: context) if context else None,
            timeout_keep_alive=30, limit_concurrency=512)
        self.server = uvicorn.Server(self._uvicorn)
        self._thread: threading.Thread | None = None
        self._sweeper = threading.Event()

    @property
    def url(self) -> str:
        scheme = "https" if self.config.tls_certificate else "http"
        servers = getattr(self.server, "servers", [])
        port = self.config.port
        if servers and servers[0].sockets:
            port = servers[0].sockets[0].getsockname()[1]
        return f"{scheme}://{self.config.host}:{port}"

    def run(self) -> None:
        migrate.require_current(self.central.db)
        self._start_sweeps()
        try:
            self.server.run()
        finally:
            self._sweeper.set()

    def start(self, timeout: float = 15.0) -> None:
        migrate.require_current(self.central.db)
        self._thread = threading.Thread(target=self.server.run, name="central-http",
                                        daemon=True)
        self._thread.start()
        ready = threading.Event()

        def wait() -> None:
            while not self.server.started and self._thread is not None and \
                    self._thread.is_alive():
                ready.wait(0.02)
        wait()
        if not self.server.started:
            raise RuntimeError(f"the central server did not start on "
                               f"{self.config.host}:{self.config.port}")
        self._start_sweeps()

    def stop(self) -> None:
        self._sweeper.set()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.central.db.dispose()

    def sweep(self) -> None:
        """Escalate tickets near their deadline (and credit those past it, as the
        agency's policy says), refund undelivered purchases,
        expire plan stamps, forget unsent uploads past their time."""
        escalated = tickets.escalate_due(self.central)
        credited = tickets.credit_overdue(self.central)
        refunded = media.refund_undelivered(self.central)
        expired = money.expire_stamps(self.central)
        finished = money.finish_stalled_transfers(self.central)
        forgotten = uploads.forget_unsent(self.central)
        late = essential_requests.escalate_due(self.central)
        applied = prices.apply_due(self.central)
        if credited:
            log.info("sweep: %d tickets past their deadline credited", len(credited))
        if late or applied:
            log.info("sweep: %d essential requests escalated past their deadline, %d price "
                     "changes took effect", len(late), len(applied))
        if escalated or refunded or expired or finished or forgotten:
            log.info("sweep: %d tickets escalated, %d entitlements refunded, %d stamp lots "
                     "expired, %d stalled transfers finished, %d unsent uploads forgotten",
                     len(escalated), len(refunded), expired, finished, forgotten)

    def _start_sweeps(self) -> None:
        def loop() -> None:
            while not self._sweeper.wait(self.config.sweep_interval_s):
                try:
                    self.sweep()
                except Exception:  # a failed sweep is retried next time; the server goes on
                    log.exception("sweep failed")
        threading.Thread(target=loop, name="central-sweeps", daemon=True).start()
