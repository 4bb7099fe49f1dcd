"""The central server publishes the facility CA's revocation list to kiosks,
the newest the `crl` file holds, and refuses a kiosk that list revokes, without
a restart (a real server over TLS, on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime
import shutil

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.pki import make_ca, make_crl
from device_security.revocation import crl_number
from tests.central.api_server import ApiServer


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def test_kiosks_get_the_newest_list_the_ca_signed(api: ApiServer) -> None:
    kiosk = api.session("K-A2")
    answer = kiosk.get("/v1/kiosk/crl")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pkix-crl"
    first = x509.load_der_x509_crl(answer.content)
    assert first.is_signature_valid(api.ca.certificate.public_key())  # type: ignore[arg-type]
    assert int(answer.headers["x-crl-number"]) == crl_number(first)
    # Staff revoke a certificate on the CA's machine; the new file is served at once.
    stray = next(i for i in api.ca.issued() if i["name"] == "CC-STRAY")["certificate_serial"]
    api.ca.revoke(stray, now=now())
    newer = x509.load_der_x509_crl(kiosk.get("/v1/kiosk/crl").content)
    assert crl_number(newer) == crl_number(first) + 1
    # Only kiosks ask for it.
    assert api.session().get("/v1/kiosk/crl").status_code == 401
    assert api.session("stray").get("/v1/kiosk/crl").status_code == 401


def test_a_kiosk_revoked_after_the_start_is_refused_at_once(api: ApiServer) -> None:
    kiosk = api.session("K-B2")
    assert kiosk.get("/v1/kiosk/tablets").status_code == 200
    (issued,) = [i for i in api.ca.issued() if i["name"] == "CC-B-HALL"]
    api.ca.revoke(issued["certificate_serial"], now=now())
    # A fresh connection: the server checks the kiosk against the newest list.
    api.server.app.state.kiosks._cache.clear()  # the short per-certificate cache ends
    refused = api.session("K-B2").get("/v1/kiosk/tablets")
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
    assert api.session("K-A2").get("/v1/kiosk/tablets").status_code == 200


def test_a_list_the_ca_did_not_sign_is_not_published(api: ApiServer) -> None:
    kiosk = api.session("K-A2")
    good = kiosk.get("/v1/kiosk/crl").content
    path = api.server.config.crl
    shutil.copy(path, f"{path}.bak")
    key = Ed25519PrivateKey.generate()
    forged_ca = make_ca(key, "Cedar Creek", now=now())  # the same name, another key
    forged = make_crl(forged_ca, key, [], now=now(), number=999)
    with open(path, "wb") as f:
        f.write(forged.public_bytes(serialization.Encoding.PEM))
    answer = kiosk.get("/v1/kiosk/crl")
    assert answer.status_code == 500
    assert answer.json()["error"] == "revocation_list_unusable"
    # Kiosks are still checked against the list from before.
    assert kiosk.get("/v1/kiosk/tablets").status_code == 200
    shutil.copy(f"{path}.bak", path)
    assert kiosk.get("/v1/kiosk/crl").content == good
