"""Who is calling: a kiosk (by its TLS client certificate), a resident at that
kiosk, a family member or a staff member (by bearer token)."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from cryptography import x509
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from central.errors import Forbidden, Unauthenticated
from central.services import accounts
from central.services.core import Central
from central.services.scope import Scope
from device_security.errors import CertificateError
from device_security.pki import Role, TrustAnchors, check_certificate
from device_security.revocation import crl_number

if TYPE_CHECKING:
    from central.revocation import PublishedRevocationList

log = logging.getLogger(__name__)
bearer = HTTPBearer(auto_error=False, description="a session token from a login endpoint")
KIOSK_CACHE_SECONDS = 30.0


async def get_central(request: Request) -> Central:
    # async: FastAPI runs a plain dependency on a worker thread, which costs more
    # than this whole function.
    central: Central = request.app.state.central
    return central


CentralDep = Annotated[Central, Depends(get_central)]


@dataclass(frozen=True)
class KioskIdentity:
    kiosk_id: str
    unit_id: str
    location_code: str


class KioskVerifier:
    """Checks a kiosk's certificate (chain, expiry, CRL, role) and finds the
    kiosk registered with it. Results are cached briefly per certificate. With
    ``published`` (the list the server publishes), a newer list published
    since the start is used at once."""

    def __init__(self, trust: TrustAnchors | None,
                 published: PublishedRevocationList | None = None) -> None:
        self.trust = trust
        self.published = published
        self._cache: dict[str, tuple[float, int, KioskIdentity]] = {}
        self._lock = threading.Lock()

    def cached(self, pem: str, generation: int) -> KioskIdentity | None:
        """The identity verified for this certificate in the last few seconds,
        unless a kiosk was retired since (``generation``: Central.kiosks_changed)."""
        with self._lock:
            hit = self._cache.get(pem)
        if hit is None or hit[0] <= time.monotonic() or hit[1] != generation:
            return None
        return hit[2]

    def verify(self, central: Central, pem: str) -> KioskIdentity:
        now = time.monotonic()
        generation = central.kiosks_changed
        hit = self.cached(pem, generation)
        if hit is not None:
            return hit
        if self.trust is None:
            raise Unauthenticated("this server does not accept kiosk certificates")
        trust = self.trust
        newest = self.published.newest() if self.published is not None else None
        if newest is not None and (trust.crl is None
                                   or crl_number(newest) >= crl_number(trust.crl)):
            trust = TrustAnchors(trust.ca, newest)
        try:
            cert = x509.load_pem_x509_certificate(pem.encode())
            peer = check_certificate(cert, trust, now=central_now(central),
                                     expected_roles=[Role.KIOSK])
        except (ValueError, CertificateError) as e:
            raise Unauthenticated(f"kiosk certificate refused: {e}") from e
        row = accounts.kiosk_by_fingerprint(central, peer.fingerprint)
        identity = KioskIdentity(str(row.id), str(row.unit_id), str(row.location_code))
        with self._lock:
            if len(self._cache) > 1024:
                self._cache.clear()
            self._cache[pem] = (now + KIOSK_CACHE_SECONDS, generation, identity)
        return identity


def central_now(central: Central) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(central.clock(), tz=datetime.UTC)


def client_address(request: Request) -> str | None:
    """The caller's network address, for per-address login limits."""
    return request.client.host if request.client is not None else None


def _client_pem(request: Request) -> str | None:
    tls = request.scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    return chain[0] if chain else None


async def kiosk(request: Request, central: CentralDep) -> KioskIdentity:
    pem = _client_pem(request)
    if pem is None:
        raise Unauthenticated("kiosk endpoints need the kiosk's TLS client certificate")
    verifier: KioskVerifier = request.app.state.kiosks
    known = verifier.cached(pem, central.kiosks_changed)  # the common case, on the event loop
    if known is not None:
        return known
    return await run_in_threadpool(verifier.verify, central, pem)


KioskDep = Annotated[KioskIdentity, Depends(kiosk)]


def session(central: CentralDep,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
            ) -> accounts.Session:
    if credentials is None:
        raise Unauthenticated("log in first: this needs a bearer token")
    return accounts.authenticate(central, credentials.credentials)


SessionDep = Annotated[accounts.Session, Depends(session)]


def raw_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
              ) -> str:
    if credentials is None:
        raise Unauthenticated("log in first: this needs a bearer token")
    return credentials.credentials


TokenDep = Annotated[str, Depends(raw_token)]


def contact(s: SessionDep) -> int:
    if s.subject != "contact":
        raise Forbidden("this is for family accounts")
    return s.subject_id


ContactDep = Annotated[int, Depends(contact)]


# What a resident may do before changing the first PIN.
PIN_CHANGE_PATHS = ("/v1/resident/pin", "/v1/resident/sessions")


def resident(request: Request, s: SessionDep, k: KioskDep) -> int:
    """A resident's session, used from the kiosk where it was opened. Until the
    first PIN is changed, only the PIN change and logout are open."""
    if s.subject != "resident":
        raise Forbidden("this is for residents at a kiosk")
    if s.kiosk_id != k.kiosk_id:
        raise Forbidden("this session belongs to another kiosk")
    if s.must_change_pin and request.url.path not in PIN_CHANGE_PATHS:
        raise Forbidden("choose a new PIN first", code="pin_change_required")
    return s.subject_id


ResidentDep = Annotated[int, Depends(resident)]


@dataclass(frozen=True)
class StaffMember:
    id: int
    role: str
    scope: Scope  # their facility, or (an agency administrator) their agency


def staff(*roles: str) -> Callable[[accounts.Session], StaffMember]:
    """A dependency admitting staff with one of ``roles`` (administrators always)."""
    allowed = {*roles, "administrator"}

    def check(s: SessionDep) -> StaffMember:
        if s.subject != "staff" or s.role is None or s.scope is None:
            raise Forbidden("this is for facility staff")
        if s.role not in allowed:
            raise Forbidden(f"a {s.role} may not do this; it needs: {', '.join(sorted(allowed))}")
        return StaffMember(s.subject_id, s.role, s.scope)
    return check
