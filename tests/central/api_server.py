"""A real central server for API tests: uvicorn on loopback with TLS from a
facility CA, kiosks with client certificates, and requests sessions for
each kind of caller."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from base.files import write_atomic
from central.config import CentralConfig
from central.server import CentralServer
from central.services import accounts
from device_security.ca_store import CertificateAuthority, IdentityFiles
from device_security.pki import Role, fingerprint, private_key_pem
from tests.central.facility import STAFF_PASSWORD, SYSTEM, Facility


@dataclass
class Identity:
    certificate: Path
    key: Path


def _identity(ca: CertificateAuthority, directory: Path, role: Role, name: str,
              hosts: tuple[str, ...] = ()) -> tuple[Identity, str]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.generate()
    # Valid from an hour ago: the server's test clock started a moment before this.
    issued = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    cert = ca.issue(key.public_key(), role=role, name=name, now=issued, hosts=hosts)
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / "key.pem", private_key_pem(key), mode=0o600)
    IdentityFiles(directory).install(cert, ca.certificate)
    return Identity(directory / "certificate.pem", directory / "key.pem"), fingerprint(cert)


class ApiServer:
    """The facility's server on https://127.0.0.1:<free port>."""

    def __init__(self, facility: Facility, state: Path) -> None:
        self.facility = facility
        self.ca = CertificateAuthority.create(
            state / "ca", "Cedar Creek",
            now=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2))
        server_id, _ = _identity(self.ca, state / "server", Role.CENTRAL_SERVER, "central",
                                 ("127.0.0.1",))
        self.kiosks: dict[str, Identity] = {}
        for kiosk_id, location, unit in (("K-A2", "CC-A-HALL", "U-A"),
                                         ("K-B2", "CC-B-HALL", "U-B")):
            ident, print_ = _identity(self.ca, state / kiosk_id, Role.KIOSK, location)
            accounts.register_kiosk(facility.central, kiosk_id, location, unit, print_,
                                    scope=SYSTEM)
            self.kiosks[kiosk_id] = ident
        # A certificate from the facility CA for a kiosk nobody registered.
        self.stray, _ = _identity(self.ca, state / "stray", Role.KIOSK, "CC-STRAY")
        self.ca_file = state / "ca" / "ca-cert.pem"
        config = CentralConfig(state_dir=state / "central", host="127.0.0.1", port=0,
                               tls_certificate=str(server_id.certificate),
                               tls_key=str(server_id.key), ca_certificate=str(self.ca_file),
                               crl=str(state / "ca" / "crl.pem"))
        from central.server import kiosk_trust
        self.server = CentralServer(facility.central, config, trust=kiosk_trust(config))

    def __enter__(self) -> ApiServer:
        self.server.start()
        self.url = self.server.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def session(self, kiosk: str | None = None, token: str | None = None) -> Client:
        s = requests.Session()
        s.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
        s.verify = str(self.ca_file)
        if kiosk is not None:
            ident = self.kiosks[kiosk] if kiosk != "stray" else self.stray
            s.cert = (str(ident.certificate), str(ident.key))
        if token is not None:
            s.headers["Authorization"] = f"Bearer {token}"
        return Client(self.url, s)

    def staff(self, role: str) -> Client:
        answer = self.session().post("/v1/staff/sessions",
                                     json={"username": role, "password": STAFF_PASSWORD})
        assert answer.status_code == 200, answer.text
        return self.session(token=answer.json()["token"])

    def family(self, email: str, password: str = "family password 1") -> Client:
        answer = self.session().post("/v1/family/sessions",
                                     json={"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        return self.session(token=answer.json()["token"])

    def resident(self, kiosk: str, agency_id: str, pin: str) -> Client:
        answer = self.session(kiosk).post("/v1/resident/sessions",
                                          json={"agency_id": agency_id, "pin": pin})
        assert answer.status_code == 200, answer.text
        return self.session(kiosk, token=answer.json()["token"])


@dataclass
class Client:
    """requests with the server's base URL."""

    base: str
    http: requests.Session

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=30, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(self.base + path, timeout=30, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.http.put(self.base + path, timeout=30, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.http.delete(self.base + path, timeout=30, **kw)
