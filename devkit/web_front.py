"""The demo's HTTPS front for browsers, before the central server.

The central server's certificate is Ed25519, from the facility CA, as every
identity in the system is; browsers do not take Ed25519 server certificates
(Chromium ends the handshake with ``ERR_SSL_VERSION_OR_CIPHER_MISMATCH``).
So the demo gives browsers an address of their own: :class:`WebFront` takes
TLS there with an ECDSA P-256 certificate made for it, and carries every
connection on to the central server over TLS, checked against the facility
CA. Nothing is read or changed on the way: the pages, cookies and forms are
the server's own.

The front's certificate is self-signed: a browser trusts exactly it by its
public key's pin (:func:`spki_pin`, for Chromium's
``--ignore-certificate-errors-spki-list``), never by ignoring certificate
errors. It is for the demo only, on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import hashlib
import ipaddress
import logging
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from base.files import write_atomic

log = logging.getLogger(__name__)
CHUNK = 64 * 1024  # bytes read at a time in each direction


class WebFrontError(Exception):
    """The front could not start; ``address`` is where it tried to listen."""

    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(f"{message} (at {address})")
        self.address = address


@dataclass(frozen=True)
class FrontIdentity:
    """The front's key and certificate, as PEM."""

    key_pem: bytes
    certificate_pem: bytes


def make_identity(host: str, now: datetime.datetime, *, days: int = 7) -> FrontIdentity:
    """A P-256 key and a self-signed certificate for ``host`` (an IP address),
    valid from ``now`` for ``days``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Sallyport demo web front {host}")])
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256()))
    return FrontIdentity(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
        certificate.public_bytes(serialization.Encoding.PEM))


def spki_pin(certificate_pem: bytes) -> str:
    """The base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what
    Chromium's ``--ignore-certificate-errors-spki-list`` names."""
    spki = x509.load_pem_x509_certificate(certificate_pem).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


class WebFront:
    """Listens on ``127.0.0.1`` (a free port) and carries each connection on
    to ``upstream`` (the central server's host and port, its certificate
    checked against ``upstream_ca``). Its key and certificate are written to
    ``directory``. :meth:`start` and :meth:`stop`; it runs on a thread of its
    own, named ``web-front``."""

    def __init__(self, directory: Path, upstream: tuple[str, int], upstream_ca: Path) -> None:
        self.directory = directory
        self.upstream = upstream
        self.upstream_ca = upstream_ca
        self.host = "127.0.0.1"
        self.port = 0
        self.pin = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open: set[asyncio.StreamWriter] = set()  # both ends of each carried connection
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def certificate(self) -> Path:
        return self.directory / "certificate.pem"

    def start(self) -> None:
        """Make the identity, listen, and serve; raises WebFrontError if the
        identity cannot be written or the port cannot be had."""
        identity = make_identity(self.host, datetime.datetime.now(datetime.UTC)
                                 - datetime.timedelta(minutes=1))
        key = self.directory / "key.pem"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomic(key, identity.key_pem, mode=0o600)
            write_atomic(self.certificate, identity.certificate_pem)
            listener = socket.create_server((self.host, 0))
        except OSError as e:
            raise WebFrontError(f"cannot start: {e}", address=str(self.directory)) from e
        self.port = listener.getsockname()[1]
        self.pin = spki_pin(identity.certificate_pem)
        outward = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        outward.load_cert_chain(self.certificate, key)
        inward = ssl.create_default_context(cafile=str(self.upstream_ca))
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            server = loop.run_until_complete(asyncio.start_server(
                lambda r, w: self._carry(r, w, inward), sock=listener, ssl=outward))
            started.set()
            try:
                loop.run_forever()
            finally:
                server.close()
                for writer in list(self._open):  # connections still carried: cut at once
                    writer.transport.abort()
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                with contextlib.suppress(Exception):
                    loop.run_until_complete(asyncio.wait_for(
                        asyncio.gather(*tasks, return_exceptions=True), 5))
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="web-front", daemon=True)
        self._thread.start()
        if not started.wait(30):
            raise WebFrontError("did not start listening", address=self.url)

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     inward: ssl.SSLContext) -> None:
        host, port = self.upstream
        peer = writer.get_extra_info("peername")
        log.debug("%s: connected", peer)
        self._open.add(writer)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(host, port, ssl=inward,
                                                                     server_hostname=host)
            except (OSError, ssl.SSLError) as e:
                log.warning("%s: the central server at %s:%s refused: %s", peer, host, port,
                            e)
                writer.close()
                return
            self._open.add(up_writer)
            log.debug("%s: carried on to %s:%s", peer, host, port)
            try:
                sent, received = await asyncio.gather(_pump(reader, up_writer),
                                                      _pump(up_reader, writer))
            finally:
                self._open.discard(up_writer)
            log.debug("%s: closed, %d bytes up, %d down", peer, sent, received)
        finally:
            self._open.discard(writer)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
            self._loop = self._thread = None


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> int:
    """Copy until ``source`` ends or either side fails, then close ``sink``;
    returns the bytes copied."""
    copied = 0
    try:
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            await sink.drain()
            copied += len(chunk)
    except (OSError, ssl.SSLError):
        pass
    finally:
        sink.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await sink.wait_closed()
    return copied
