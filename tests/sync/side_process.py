"""One side of a sync session in its own process, to be killed with SIGKILL:
``python -m tests.sync.side_process tablet|kiosk TTY STORE CERT KEY CA PEER_CERT``.
Prints "started" once the link is open."""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from device_security.at_rest import Sealer
from device_security.channel import Credentials, SecureChannel, make_context
from device_security.secure_element import derive_key
from hw.serial_link import open_link
from kiosk.cache import KioskCache
from sync.session import DockedResident, run_kiosk, serve_tablet
from sync.stream import FrameStream
from tablet.store import TabletStore
from tests.sync.rig import AGENCY_ID, RESIDENT


def main(role: str, tty: str, store: str, cert: str, key: str, ca: str, peer: str,
         serial: str) -> None:
    credentials = Credentials(Path(cert), Path(key))
    authority = x509.load_pem_x509_certificate(Path(ca).read_bytes())
    with open_link(f"serial://{tty}") as stream:
        print("started", flush=True)
        if role == "tablet":
            private = load_pem_private_key(Path(key).read_bytes(), None)
            assert isinstance(private, Ed25519PrivateKey)
            content = TabletStore(Path(store), serial=serial, sign=private.sign,
                                  sealer=Sealer(derive_key(private, b"content")))
            channel = SecureChannel.accept(stream, make_context("accept", credentials, authority),
                                           timeout=10)
            serve_tablet(FrameStream(channel), content, counter=1)
        else:
            public = x509.load_pem_x509_certificate(Path(peer).read_bytes()).public_key()
            assert isinstance(public, Ed25519PublicKey)
            kiosk_key = load_pem_private_key(Path(key).read_bytes(), None)
            assert isinstance(kiosk_key, Ed25519PrivateKey)
            cache = KioskCache(Path(store), Sealer(derive_key(kiosk_key, b"kiosk cache")))
            channel = SecureChannel.connect(stream, make_context("connect", credentials,
                                                                 authority), timeout=10)
            run_kiosk(FrameStream(channel), cache,
                      DockedResident(serial, RESIDENT, AGENCY_ID, public), kiosk="K-A1")
        channel.close()
    print("finished", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
