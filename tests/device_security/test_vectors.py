"""The committed vectors are what the code makes today, and they verify."""

from pathlib import Path

import pytest
from cryptography import x509

from device_security.pki import Role, TrustAnchors, check_certificate
from device_security.release import verify_release_token
from tests.vectors.make_vectors import WHEN, fixed_key, vectors

HERE = Path(__file__).resolve().parents[1] / "vectors"


@pytest.mark.parametrize("name", sorted(vectors()))
def test_regenerating_gives_the_committed_bytes(name: str) -> None:
    assert vectors()[name] == (HERE / name).read_bytes()


def test_the_vectors_verify() -> None:
    def load(name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((HERE / name).read_bytes())

    trust = TrustAnchors(load("ca.pem"), x509.load_pem_x509_crl((HERE / "crl.pem").read_bytes()))
    peer = check_certificate(load("tablet-JP5S-000001.pem"), trust, now=WHEN,
                             expected_roles=[Role.TABLET], usb_serial="JP5S-000001")
    assert peer.serial == "JP5S-000001"
    assert check_certificate(load("kiosk-K-B2-01.pem"), trust, now=WHEN,
                             expected_roles=[Role.KIOSK]).name == "K-B2-01"
    with pytest.raises(Exception, match="revoked"):
        check_certificate(load("workstation.pem"), trust, now=WHEN,
                          expected_roles=[Role.STAFF_WORKSTATION])
    token = verify_release_token((HERE / "release-token.cbor").read_bytes(),
                                 fixed_key("agency release").public_key(), serial="JP5S-000001",
                                 now=WHEN, used=set())
    assert token.token_id == "test-token-0001"
