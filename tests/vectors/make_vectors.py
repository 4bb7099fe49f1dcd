"""Make the committed certificate and token test vectors from fixed TEST-ONLY keys.

    python tests/vectors/make_vectors.py        # rewrite the files
    (tests/device_security/test_vectors.py checks that this gives the same bytes)

The keys come from fixed seeds, the times and serial numbers are fixed, and
Ed25519 signatures are deterministic, so the output never changes unless the
code that makes certificates does. These keys protect nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from device_security.pki import Role, issue, make_ca, make_crl  # noqa: E402
from device_security.release import make_release_token  # noqa: E402

HERE = Path(__file__).resolve().parent
WHEN = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def fixed_key(name: str) -> Ed25519PrivateKey:
    """A TEST-ONLY key derived from its name."""
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(f"sallyport TEST-ONLY key: {name}".encode()).digest())


def vectors() -> dict[str, bytes]:
    pem = serialization.Encoding.PEM
    ca_key = fixed_key("facility ca")
    ca = make_ca(ca_key, "Test Facility", now=WHEN, days=3650, serial_number=1)
    tablet = issue(ca, ca_key, fixed_key("tablet JP5S-000001").public_key(), role=Role.TABLET,
                   name="tablet JP5S-000001", serial="JP5S-000001", now=WHEN, days=825,
                   serial_number=1001)
    kiosk = issue(ca, ca_key, fixed_key("kiosk K-B2-01").public_key(), role=Role.KIOSK,
                  name="K-B2-01", now=WHEN, days=825, serial_number=1002)
    workstation = issue(ca, ca_key, fixed_key("workstation").public_key(),
                        role=Role.STAFF_WORKSTATION, name="property room", now=WHEN, days=825,
                        serial_number=1003)
    crl = make_crl(ca, ca_key, [(1003, WHEN)], now=WHEN, next_update_days=7)
    token = make_release_token(fixed_key("agency release"), serial="JP5S-000001",
                               agency="Test DOC", now=WHEN, valid_days=30,
                               token_id="test-token-0001")
    return {
        "ca.pem": ca.public_bytes(pem),
        "tablet-JP5S-000001.pem": tablet.public_bytes(pem),
        "kiosk-K-B2-01.pem": kiosk.public_bytes(pem),
        "workstation.pem": workstation.public_bytes(pem),
        "crl.pem": crl.public_bytes(pem),
        "release-token.cbor": token,
    }


def main() -> int:
    for name, data in vectors().items():
        (HERE / name).write_bytes(data)
        print(f"wrote tests/vectors/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
