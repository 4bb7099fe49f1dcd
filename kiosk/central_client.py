"""The kiosk's client of the central server: HTTPS with the kiosk's
certificate, one typed method per endpoint the kiosk uses (for the kiosk
itself, for a resident logged in here with their session token, and for a
technician signed in at the maintenance menu). Every answer is checked into a
record (kiosk/records.py) before anything reads it.

Retry policy: a request that fails because the server could not be reached,
timed out, or answered 502/503/504 is retried up to ``attempts`` times, waiting
``backoff * 2**n`` seconds (at most ``max_backoff``) plus up to 25 % random
jitter. Every request the kiosk retries is idempotent: reads, or writes keyed
by an id made on the tablet or the kiosk. Any other answer is final: 4xx
raises :class:`CentralRefused` with the server's code and message. When the
retries run out, :class:`CentralUnavailable` says so, and the kiosk keeps its
queues until the server returns.

Errors::

    CentralClientError
    +-- CentralUnavailable   no answer after every retry
    +-- CentralRefused       a refusal (4xx), or an answer not as promised (``bad_answer``)
    +-- BlobMismatch         a blob's bytes do not hash to its name
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import requests

from device_security.revocation import MAX_CRL_BYTES
from kiosk.records import (
    AgencyPolicy,
    BadAnswer,
    CatalogItem,
    Contact,
    Entitlement,
    EssentialRequest,
    Home,
    Offer,
    Sent,
    SessionGrant,
    StampPurchase,
    Ticket,
    Transfer,
    parse,
    parse_list,
)

log = logging.getLogger(__name__)
R = TypeVar("R")
MAX_JSON = 8 << 20  # the largest JSON answer read (a 500-record feed page is far smaller)
BLOCK = 256 * 1024
MAX_FIRMWARE_METADATA = 48 * 1024  # one role's metadata (firmware_images.trust.MAX_METADATA)
MAX_COUNTER = 2**63 - 1  # a tablet's sync counter (its hello) is below 2**63


class CentralClientError(Exception):
    """Base of this module's errors."""


class CentralUnavailable(CentralClientError):
    """The server could not be reached (or kept failing) after every retry."""


RETRY_CODES = ("retry", "conflict")  # 409s for a race with a request still under way


class CentralRefused(CentralClientError):
    """The server answered with a refusal (4xx, or a 5xx after the retries):
    not retried by the client itself."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def final(self) -> bool:
        """Whether this is the server's last word on the request: not a race
        with a request still under way (409 ``retry``/``conflict``), nor the
        server's own failure (5xx). Other 409s (a counter not increasing,
        say) are final."""
        return not ((self.status == 409 and self.code in RETRY_CODES) or self.status >= 500)


class BlobMismatch(CentralClientError):
    """A downloaded blob's bytes do not hash to its name, or exceed its size."""


class BlobSink(Protocol):
    """Where a downloaded blob goes (kiosk/cache_blobs.py: the cache, sealed)."""

    @property
    def position(self) -> int:
        """Bytes of the blob held (a download resumes after them)."""
        ...

    def write(self, data: bytes) -> None: ...

    def flush(self) -> None: ...

    def restart(self) -> None:
        """Forget what is held: the server sends the blob from its start."""
        ...

    def hexdigest(self) -> str: ...

    def commit(self) -> None:
        """The blob is whole and checked: keep it."""
        ...

    def discard(self) -> None: ...


class ByteSink(Protocol):
    """Where a streamed download goes (a file on a USB stick, say)."""

    def write(self, data: bytes) -> int: ...


@dataclass(frozen=True)
class KioskCredentials:
    certificate: Path  # PEM
    key: Path  # PEM
    ca: Path  # the facility CA, which issued the server's certificate


class CentralClient:
    """One kiosk's connection to the central server. No I/O in the constructor."""

    def __init__(self, base_url: str, credentials: KioskCredentials, *, timeout: float = 15.0,
                 attempts: int = 4, backoff: float = 0.5, max_backoff: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._session = session or requests.Session()
        self._session.trust_env = False  # REQUESTS_CA_BUNDLE must not replace the facility CA
        self._session.verify = str(credentials.ca)
        self._session.cert = (str(credentials.certificate), str(credentials.key))

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> CentralClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------

    def heads(self) -> dict[int, int]:
        """The feed head of every resident on this kiosk's unit."""
        answer = self._json("GET", "/v1/kiosk/heads")
        heads = answer.get("heads") if isinstance(answer, dict) else None
        if not isinstance(heads, dict):
            raise CentralRefused(200, "bad_answer", "heads: not a map")
        out: dict[int, int] = {}
        for key, value in heads.items():
            if not (isinstance(key, str) and key.isdigit() and isinstance(value, int)):
                raise CentralRefused(200, "bad_answer", f"heads: bad entry {key!r}")
            out[int(key)] = value
        return out

    def feed(self, resident_id: int, since: int, limit: int = 500) -> tuple[int, list[Any]]:
        """A resident's head and records after ``since``."""
        answer = self._json("GET", f"/v1/kiosk/feeds/{int(resident_id)}",
                            params={"since": since, "limit": limit})
        if not (isinstance(answer, dict) and isinstance(answer.get("head"), int)
                and isinstance(answer.get("records"), list)):
            raise CentralRefused(200, "bad_answer", "feed: not a head and records")
        return int(answer["head"]), list(answer["records"])

    def tablets(self) -> list[dict[str, Any]]:
        """This unit's tablets: serial, whose (resident_id, resident_agency_id),
        status and sync counter."""
        answer = self._json("GET", "/v1/kiosk/tablets")
        if not isinstance(answer, list):
            raise CentralRefused(200, "bad_answer", "tablets: not a list")
        out = []
        for t in answer:
            if not (isinstance(t, dict) and isinstance(t.get("serial"), str)
                    and isinstance(t.get("status"), str)
                    and isinstance(t.get("resident_id"), int | None)
                    and type(t.get("sync_counter")) is int
                    and 0 <= t["sync_counter"] <= MAX_COUNTER):
                raise CentralRefused(200, "bad_answer", f"tablets: bad entry {str(t)[:80]}")
            out.append(t)
        return out

    def policy(self) -> AgencyPolicy:
        """The agency's prices and tablet rules for this kiosk's unit: every
        field a non-negative integer below a million, but ``agency_id``."""
        answer = self._json("GET", "/v1/kiosk/policy")
        if not isinstance(answer, dict) or not isinstance(answer.get("agency_id"), str):
            raise CentralRefused(200, "bad_answer", "policy: not a policy")
        for name, value in answer.items():
            if name != "agency_id" and not (type(value) is int and 0 <= value < 1_000_000):
                raise CentralRefused(200, "bad_answer", f"policy: bad {name} {str(value)[:40]}")
        if not 1 <= answer.get("tablet_lock_days", 0) <= 365:
            raise CentralRefused(200, "bad_answer", "policy: no tablet_lock_days in 1..365")
        return parse(AgencyPolicy, answer)

    def revocation_list(self) -> bytes:
        """The facility CA's newest revocation list as the server publishes it
        (DER), at most MAX_CRL_BYTES; the caller checks it against the CA."""
        _, body = self._body("GET", "/v1/kiosk/crl", limit=MAX_CRL_BYTES)
        return body

    def fetch_blob(self, sha256: str, size: int, sink: BlobSink, *,
                   route: str = "/v1/kiosk/blobs/") -> None:
        """Download a blob (or, with ``route``, a firmware image) into ``sink``
        (the cache's: sealed, durable a megabyte at a time), resuming with HTTP
        Range from what the sink holds, and commit it once its bytes hash to its
        name. Raises BlobMismatch (the sink's bytes are discarded),
        CentralRefused, CentralUnavailable."""
        if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
            raise BlobMismatch(f"not a blob name: {sha256[:80]!r}")
        for attempt in range(self.attempts):
            if sink.position >= size:
                break
            try:
                self._download(sha256, size, sink, route)
                break
            except (requests.ConnectionError, requests.Timeout) as e:
                self._wait(attempt, f"blob {sha256[:12]}: {e}")
            except BlobMismatch:
                sink.discard()
                raise
        else:
            raise CentralUnavailable(f"blob {sha256}: the server did not answer")
        if sink.position != size or sink.hexdigest() != sha256:
            held = sink.hexdigest()
            sink.discard()
            raise BlobMismatch(f"blob {sha256}: the bytes hash to {held}")
        sink.commit()

    def _download(self, sha256: str, size: int, sink: BlobSink, route: str) -> None:
        refusal = self._download_into(sha256, size, sink, route)
        if refusal is not None:  # raised here, where no frame holds the answer
            raise refusal

    def _download_into(self, sha256: str, size: int, sink: BlobSink,
                       route: str) -> CentralRefused | None:
        have = sink.position
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self._session.get(f"{self.base_url}{route}{sha256}", headers=headers,
                               timeout=self.timeout, stream=True) as response:
            if response.status_code not in (200, 206):
                return _refusal(response)
            if have and response.status_code == 200:
                sink.restart()  # the server sent the whole file: start again
            try:
                for block in response.iter_content(BLOCK):
                    if sink.position + len(block) > size:
                        raise BlobMismatch(f"blob {sha256} is longer than {size} bytes")
                    sink.write(block)
            finally:
                sink.flush()  # what arrived is kept, for the next try to resume after
        return None

    # -- firmware (docs/firmware.md) -------------------------------------------------

    def firmware_metadata(self, name: str) -> bytes | None:
        """One file of the agency's firmware repository, the bytes exactly as
        signed; None when the server has none by that name."""
        try:
            return self._body("GET", f"/v1/kiosk/firmware/metadata/{name}",
                              limit=MAX_FIRMWARE_METADATA)[1]
        except CentralRefused as e:
            if e.status == 404:
                return None
            raise

    def firmware_rollouts(self) -> list[dict[str, Any]]:
        """The active rollouts that reach this kiosk's unit."""
        answer = self._json("GET", "/v1/kiosk/firmware/rollouts")
        if not isinstance(answer, list) or not all(
                isinstance(r, dict) and isinstance(r.get("image"), str)
                and isinstance(r.get("sha256"), str) and type(r.get("length")) is int
                and type(r.get("percent")) is int for r in answer):
            raise CentralRefused(200, "bad_answer", "rollouts: not a list of rollouts")
        return answer

    def firmware_features(self) -> tuple[int, dict[str, bool]]:
        """The agency's feature switches and their version."""
        answer = self._json("GET", "/v1/kiosk/firmware/features")
        if not (isinstance(answer, dict) and type(answer.get("version")) is int
                and isinstance(answer.get("features"), dict)
                and all(isinstance(k, str) and type(v) is bool
                        for k, v in answer["features"].items())):
            raise CentralRefused(200, "bad_answer", "features: not a set of switches")
        return int(answer["version"]), dict(answer["features"])

    def kiosk_id(self) -> str:
        """This kiosk's ID as the server knows its certificate (the serial of
        its own firmware report)."""
        answer = self._json("GET", "/v1/kiosk/firmware/identity")
        if not (isinstance(answer, dict) and isinstance(answer.get("kiosk_id"), str)
                and answer["kiosk_id"]):
            raise CentralRefused(200, "bad_answer", "identity: no kiosk_id")
        return str(answer["kiosk_id"])

    def firmware_reports(self, reports: list[dict[str, Any]]) -> int:
        """What the tablets docked here (and this kiosk) run."""
        answer = self._json("POST", "/v1/kiosk/firmware/reports", json={"reports": reports})
        return int(answer["count"]) if isinstance(answer, dict) else 0

    # -- writes (each idempotent by its key) -------------------------------------------

    def send_draft(self, draft: Mapping[str, Any]) -> dict[str, Any]:
        answer = self._json("POST", "/v1/kiosk/outbox", json=dict(draft))
        return answer if isinstance(answer, dict) else {}

    def send_tablet_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Forward an essential request a tablet signed; the answer carries its
        receipt number (``receipt``)."""
        answer = self._json("POST", "/v1/kiosk/requests", json=dict(request))
        return answer if isinstance(answer, dict) else {}

    def blob_receipt(self, serial: str, sha256: str, signature_b64: str) -> list[int]:
        answer = self._json("POST", "/v1/kiosk/receipts/blob", json={
            "serial": serial, "sha256": sha256, "signature": signature_b64})
        ids = answer.get("entitlements") if isinstance(answer, dict) else None
        return [int(i) for i in ids] if isinstance(ids, list) else []

    def delivery_receipt(self, serial: str, owner: str, sha256: str, entitlements: list[int],
                         signature_b64: str) -> list[int]:
        """Forward a tablet's signed statement that it holds ``sha256`` as the
        file of ``owner``'s ``entitlements``; the answer names those verified now."""
        answer = self._json("POST", "/v1/kiosk/receipts/delivery", json={
            "serial": serial, "owner": owner, "sha256": sha256, "entitlements": entitlements,
            "signature": signature_b64})
        ids = answer.get("entitlements") if isinstance(answer, dict) else None
        return [int(i) for i in ids] if isinstance(ids, list) else []

    def records_receipt(self, serial: str, session: bytes, through: int, batch_digest: bytes,
                        signature: bytes) -> dict[str, Any]:
        """Forward a tablet's signed statement that it committed its resident's
        feed through ``through``; the answer has the tablet's ``through`` as
        the server now holds it (never lower than before) and ``last_dock_at``."""
        answer = self._json("POST", "/v1/kiosk/receipts/records", json={
            "serial": serial, "session": base64.b64encode(session).decode(),
            "through": through, "batch_digest": base64.b64encode(batch_digest).decode(),
            "signature": base64.b64encode(signature).decode()})
        return answer if isinstance(answer, dict) else {}

    def tablet_counter(self, serial: str, counter: int, uid: str) -> dict[str, Any]:
        """Report the sync counter this kiosk accepted when it paired ``serial``,
        under ``uid`` (made here: the same uid again is the same report). The
        answer has the tablet's ``counter`` as the server now holds it. A
        counter not above the server's is refused (409
        ``counter_not_increasing``)."""
        answer = self._json("POST", f"/v1/kiosk/tablets/{quote(serial, safe='')}/counter",
                            json={"uid": uid, "counter": counter})
        return answer if isinstance(answer, dict) else {}

    def alert(self, report: Mapping[str, Any]) -> int:
        """Report a refused tablet (AlertIn: keyed by the ``uid`` made here, so
        a resend is stored once); the answer is the server's alert id."""
        answer = self._json("POST", "/v1/kiosk/alerts", json=dict(report))
        return int(answer["id"]) if isinstance(answer, dict) and "id" in answer else 0

    # -- a resident's calls, with their session token -------------------------------------

    def resident_login(self, agency_id: str, pin: str) -> SessionGrant:
        return self._record(SessionGrant, "POST", "/v1/resident/sessions",
                            json={"agency_id": agency_id, "pin": pin})

    def change_pin(self, token: str, old_pin: str, new_pin: str) -> None:
        self._json("POST", "/v1/resident/pin", token=token,
                   json={"old_pin": old_pin, "new_pin": new_pin})

    def resident_logout(self, token: str) -> None:
        self._json("DELETE", "/v1/resident/sessions", token=token)

    def home(self, token: str) -> Home:
        """Balances and tablets of the resident whose session it is."""
        return self._record(Home, "GET", "/v1/resident/home", token=token)

    def contacts(self, token: str) -> tuple[Contact, ...]:
        """The family members and friends approved to write with them."""
        return self._records(Contact, "GET", "/v1/resident/contacts", token=token)

    def catalog(self, token: str, query: str = "", kind: str | None = None,
                limit: int = 50) -> tuple[CatalogItem, ...]:
        """The media catalog, searched by title or artist."""
        params: dict[str, Any] = {"q": query[:100], "limit": limit}
        if kind:
            params["kind"] = kind
        return self._records(CatalogItem, "GET", "/v1/resident/catalog", token=token,
                             params=params)

    def entitlements(self, token: str) -> tuple[Entitlement, ...]:
        """What they bought, each with its delivery state."""
        return self._records(Entitlement, "GET", "/v1/resident/entitlements", token=token)

    def buy(self, token: str, item_id: str, key: str,
            expected_price_cents: int | None = None) -> tuple[Entitlement, ...]:
        """Buy a catalog item with prepaid funds; ``key`` makes a retry harmless,
        ``expected_price_cents`` (the price shown) refuses a price changed since."""
        body: dict[str, Any] = {"item_id": item_id, "idempotency_key": key}
        if expected_price_cents is not None:
            body["expected_price_cents"] = expected_price_cents
        return self._records(Entitlement, "POST", "/v1/resident/purchases", token=token,
                             json=body)

    def offers(self, token: str) -> tuple[Offer, ...]:
        """The stamp bundles their agency sells."""
        return self._records(Offer, "GET", "/v1/resident/offers", token=token)

    def buy_stamps(self, token: str, offer_id: str, key: str) -> StampPurchase:
        return self._record(StampPurchase, "POST", "/v1/resident/stamps", token=token,
                            json={"offer_id": offer_id, "idempotency_key": key})

    def transfer(self, token: str, amount_cents: int, key: str) -> Transfer:
        """Move money from their trust account to prepaid, within the agency's limits."""
        return self._record(Transfer, "POST", "/v1/resident/transfers", token=token,
                            json={"amount_cents": amount_cents, "idempotency_key": key})

    def send_message(self, token: str, *, uid: str, contact_id: int, body: str) -> Sent:
        """A message from the resident; the same ``uid`` again never sends or charges twice."""
        return self._record(Sent, "POST", "/v1/resident/messages", token=token, json={
            "uid": uid, "contact_id": contact_id, "body": body, "attachments": []})

    def tickets(self, token: str) -> tuple[Ticket, ...]:
        return self._records(Ticket, "GET", "/v1/resident/tickets", token=token)

    def file_ticket(self, token: str, *, uid: str, category: str, description: str,
                    diagnostics: Mapping[str, Any]) -> Ticket:
        """A trouble ticket with the kiosk's diagnostics; ``uid`` makes a retry harmless."""
        return self._record(Ticket, "POST", "/v1/resident/tickets", token=token, json={
            "uid": uid, "category": category, "description": description,
            "diagnostics": dict(diagnostics)})

    def file_request(self, token: str, *, uid: str, type_: str, body: str,
                     kiosk_reference: str | None = None,
                     written_at: int | None = None) -> EssentialRequest:
        """An essential request; ``uid`` makes a retry harmless. A request the
        kiosk kept while the server was away carries the reference it printed
        (``kiosk_reference``) and when it was written."""
        data: dict[str, Any] = {"uid": uid, "type": type_, "body": body}
        if kiosk_reference is not None:
            data["kiosk_reference"] = kiosk_reference
        if written_at is not None:
            data["written_at"] = written_at
        return self._record(EssentialRequest, "POST", "/v1/resident/requests", token=token,
                            json=data)

    def requests(self, token: str) -> tuple[EssentialRequest, ...]:
        """The resident's essential requests, newest first."""
        return self._records(EssentialRequest, "GET", "/v1/resident/requests", token=token)

    def accept_terms(self, token: str, *, text: str, language: str) -> str:
        """Record on the server that the resident accepted ``text`` (the exact
        words shown); the answer is its SHA-256, as the server computed it."""
        answer = self._json("POST", "/v1/resident/terms", token=token,
                            json={"text": text, "language": language})
        sha = answer.get("sha256") if isinstance(answer, dict) else None
        if not isinstance(sha, str):
            raise CentralRefused(200, "bad_answer", "terms: no sha256")
        return sha

    def accepted_terms(self, token: str) -> tuple[str, ...]:
        """The SHA-256 of every terms text the resident has accepted."""
        answer = self._json("GET", "/v1/resident/terms", token=token)
        if not (isinstance(answer, list) and all(isinstance(a, dict) and isinstance(
                a.get("sha256"), str) for a in answer)):
            raise CentralRefused(200, "bad_answer", "terms: not a list of acceptances")
        return tuple(str(a["sha256"]) for a in answer)

    def released_archive(self, token: str, resident_agency_id: str, sink: ByteSink,
                         limit: int) -> int:
        """A released resident's archive (a zip), streamed into ``sink`` for a
        technician signed in as staff, at most ``limit`` bytes; how many bytes
        came. Raises CentralRefused (an answer over ``limit`` too),
        CentralUnavailable."""
        path = f"/v1/kiosk/released/{quote(resident_agency_id, safe='')}/archive"
        try:
            response = self._session.get(self.base_url + path, timeout=self.timeout,
                                         stream=True,
                                         headers={"Authorization": f"Bearer {token}"})
        except (requests.ConnectionError, requests.Timeout) as e:
            raise CentralUnavailable(f"GET {path}: {e}") from e
        with response:
            if response.status_code != 200:
                refusal = _refusal(response)
            else:
                refusal = None
                size = 0
                try:
                    for block in response.iter_content(BLOCK):
                        size += len(block)
                        if size > limit:
                            raise CentralRefused(200, "too_large",
                                                 f"the archive is over {limit} bytes")
                        sink.write(block)
                except (requests.ConnectionError, requests.Timeout) as e:
                    raise CentralUnavailable(f"GET {path}: {e}") from e
        del response
        if refusal is not None:
            raise refusal
        return size

    # -- a technician's calls, signed in at the maintenance menu --------------------------

    def staff_sign_in(self, username: str, password: str) -> SessionGrant:
        return self._record(SessionGrant, "POST", "/v1/staff/sessions",
                            json={"username": username, "password": password})

    def staff_sign_out(self, token: str) -> None:
        self._json("DELETE", "/v1/staff/sessions", token=token)

    def assign_tablet(self, token: str, serial: str, resident_agency_id: str) -> None:
        self._json("POST", f"/v1/staff/tablets/{quote(serial, safe='')}/assignment",
                   token=token, json={"resident_agency_id": resident_agency_id})

    def set_tablet_status(self, token: str, serial: str, status: str) -> None:
        """Mark a tablet ``lost``, ``retired`` (or ``active`` again)."""
        self._json("POST", f"/v1/staff/tablets/{quote(serial, safe='')}/status",
                   token=token, json={"status": status})

    # -- plumbing --------------------------------------------------------------

    def _record(self, cls: type[R], method: str, path: str, **kw: Any) -> R:
        answer = self._json(method, path, **kw)
        try:
            return parse(cls, answer)
        except BadAnswer as e:
            raise CentralRefused(200, "bad_answer", f"{method} {path}: {e}") from e

    def _records(self, cls: type[R], method: str, path: str, **kw: Any) -> tuple[R, ...]:
        answer = self._json(method, path, **kw)
        try:
            return parse_list(cls, answer)
        except BadAnswer as e:
            raise CentralRefused(200, "bad_answer", f"{method} {path}: {e}") from e

    def _json(self, method: str, path: str, *, token: str | None = None, **kw: Any) -> Any:
        """A JSON endpoint, with this kiosk's certificate and, for a resident or
        a technician, their session token. Raises CentralRefused (4xx) or
        CentralUnavailable (after the retries)."""
        status, body = self._body(method, path, token=token, **kw)
        try:
            return json.loads(body) if body else None
        except ValueError as e:
            raise CentralRefused(status, "bad_answer", f"{method} {path}: not JSON") from e

    def _body(self, method: str, path: str, *, token: str | None = None,
              limit: int = MAX_JSON, **kw: Any) -> tuple[int, bytes]:
        """An answer's status and body (at most ``limit`` bytes), retried as
        the module says. Raises CentralRefused or CentralUnavailable."""
        if token is not None:
            kw["headers"] = {**kw.get("headers", {}), "Authorization": f"Bearer {token}"}
        for attempt in range(self.attempts):
            try:
                response = self._session.request(method, self.base_url + path,
                                                 timeout=self.timeout, stream=True, **kw)
            except (requests.ConnectionError, requests.Timeout) as e:
                self._wait(attempt, f"{method} {path}: {e}")
                continue
            status = response.status_code
            refusal = None
            with response:
                if status in (502, 503, 504):
                    self._wait(attempt, f"{method} {path}: {status}")
                    continue
                if status >= 400:
                    refusal = _refusal(response)
                else:
                    body = _read(response, limit)
            # The error raised must not hold the answer (and with it the
            # connection) alive in its traceback.
            del response
            if refusal is not None:
                raise refusal
            return status, body
        raise CentralUnavailable(f"{method} {path}: no answer after {self.attempts} attempts")

    def _wait(self, attempt: int, why: str) -> None:
        if attempt + 1 >= self.attempts:
            return
        pause = min(self.max_backoff, self.backoff * 2 ** attempt)
        pause += random.uniform(0, pause / 4)  # noqa: S311 - jitter, not secrecy
        log.warning("central server: %s; retrying in %.1f s", why, pause)
        self._sleep(pause)


def _read(response: requests.Response, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    for block in response.iter_content(BLOCK):
        size += len(block)
        if size > limit:
            raise CentralRefused(response.status_code, "bad_answer",
                                 f"an answer over {limit} bytes")
        parts.append(block)
    return b"".join(parts)


def _refusal(response: requests.Response) -> CentralRefused:
    try:
        body = _read(response, 64 * 1024)
        data = json.loads(body)
        code, message = str(data.get("error", "refused")), str(data.get("message", ""))
    except (ValueError, AttributeError, CentralRefused):
        code, message = "refused", response.reason or ""
    return CentralRefused(response.status_code, code[:64], message[:500])
