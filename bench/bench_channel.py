"""The secure channel over the simulated USB link: handshake time, and throughput
against the same link without TLS, measured in this one run.

As in the real system, the kiosk, the tablet and the simulated cable each run
in their own process (this one is the kiosk), so none of them competes with
another for Python's interpreter lock.
"""

from __future__ import annotations

import datetime
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.channel import Credentials, SecureChannel, make_context
from device_security.pki import Role, issue, make_ca, private_key_pem
from hw.serial_link import open_link
from simulators.link import SimLink

HANDSHAKES = 60
PAYLOAD = 32 * 1024 * 1024
CHUNK = 256 * 1024
ROUNDS = 5


def _facility(directory: Path) -> tuple[Credentials, Credentials, Path]:
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    ca_key = Ed25519PrivateKey.generate()
    ca = make_ca(ca_key, "Bench Facility", now=now)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    made = []
    for role, name, serial, number in ((Role.KIOSK, "kiosk", None, 2),
                                       (Role.TABLET, "tablet", "JP5S-000001", 3)):
        key = Ed25519PrivateKey.generate()
        cert = issue(ca, ca_key, key.public_key(), role=role, name=name, serial=serial,
                     now=now, serial_number=number)
        (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{name}.key").write_bytes(private_key_pem(key))
        made.append(Credentials(directory / f"{name}.pem", directory / f"{name}.key"))
    return made[0], made[1], directory / "ca.pem"


def _cable(conn: Connection) -> None:
    link = SimLink("bench")
    link.open()
    conn.send((link.kiosk_tty, link.gadget_tty))
    conn.recv()  # until told to stop
    link.cut()


def _load_ca(path: Path) -> object:
    from cryptography import x509

    return x509.load_pem_x509_certificate(path.read_bytes())


def _tablet(conn: Connection, tty: str, credentials: Credentials, ca_path: Path) -> None:
    context = make_context("accept", credentials, _load_ca(path=ca_path))  # type: ignore[arg-type]
    link = open_link(f"serial://{tty}")  # opening flushes the port: do it before any bytes
    conn.send("open")
    channel: SecureChannel | None = None
    while True:
        command, size = conn.recv()
        if command == "stop":
            return
        if command == "handshake":
            channel = SecureChannel.accept(link, context)
            conn.send("ok")
        elif command == "close":
            assert channel is not None
            channel.close(timeout=5)
            conn.send("closed")
        elif command == "raw":
            conn.send("ready")
            got = 0
            while got < size:
                got += len(link.read(65536, 30))
            conn.send("done")
        elif command == "tls":
            assert channel is not None
            conn.send("ready")
            got = 0
            while got < size:
                got += len(channel.recv(65536, 30))
            conn.send("done")


def run() -> dict[str, tuple[float, str, str]]:
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        kiosk_cred, tablet_cred, ca_path = _facility(Path(tmp))
        cable_conn, cable_end = ctx.Pipe()
        cable = ctx.Process(target=_cable, args=(cable_end,))
        cable.start()
        kiosk_tty, gadget_tty = cable_conn.recv()
        tablet_conn, tablet_end = ctx.Pipe()
        tablet = ctx.Process(target=_tablet, args=(tablet_end, gadget_tty, tablet_cred, ca_path))
        tablet.start()
        tablet_conn.recv()
        context = make_context("connect", kiosk_cred, _load_ca(ca_path))  # type: ignore[arg-type]
        kiosk = open_link(f"serial://{kiosk_tty}")
        block = b"\x5a" * CHUNK
        try:
            times = []
            client: SecureChannel | None = None
            for _ in range(HANDSHAKES):
                if client is not None:  # both ends close, so the link is clean
                    tablet_conn.send(("close", 0))
                    client.close(timeout=5)
                    tablet_conn.recv()
                started = time.perf_counter()
                tablet_conn.send(("handshake", 0))
                client = SecureChannel.connect(kiosk, context)
                tablet_conn.recv()
                times.append((time.perf_counter() - started) * 1000)
            assert client is not None

            def copy(kind: str) -> float:
                tablet_conn.send((kind, PAYLOAD))
                tablet_conn.recv()
                started = time.perf_counter()
                for start in range(0, PAYLOAD, CHUNK):
                    piece = block[: min(CHUNK, PAYLOAD - start)]
                    if kind == "raw":
                        kiosk.write(piece, 30)
                    else:
                        client.send(piece, 30)
                tablet_conn.recv()
                return time.perf_counter() - started

            raw_s = tls_s = float("inf")
            for _ in range(ROUNDS):  # interleaved, best of each
                raw_s = min(raw_s, copy("raw"))
                tls_s = min(tls_s, copy("tls"))
        finally:
            tablet_conn.send(("stop", 0))
            tablet.join(10)
            kiosk.close()
            cable_conn.send("stop")
            cable.join(10)
    times.sort()
    raw = PAYLOAD / raw_s / 1e6
    tls = PAYLOAD / tls_s / 1e6
    return {
        "channel.handshake_ms_median": (statistics.median(times), "ms",
                                        f"mutual TLS 1.3 handshake over the simulated link, "
                                        f"kiosk and tablet in their own processes "
                                        f"({HANDSHAKES} runs)"),
        "channel.handshake_ms_p95": (times[int(len(times) * 0.95) - 1], "ms",
                                     "95th percentile of the same runs"),
        "channel.raw_link_mbps": (raw, "MB/s", "the simulated link through hw.serial_link, "
                                  "no TLS"),
        "channel.secure_mbps": (tls, "MB/s", "the same link through the secure channel"),
        "channel.throughput_ratio": (tls / raw, "ratio",
                                     "channel.secure_mbps / channel.raw_link_mbps"),
    }
