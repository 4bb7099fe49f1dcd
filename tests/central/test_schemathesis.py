"""Every operation in the OpenAPI document, fed generated requests (valid and
not) by schemathesis against the real server over TLS: no answer may be a
server error. Each caller's credentials are sent, so requests get past
authentication into the routes and services."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from central.api.app import create_app
from central.schema import residents
from central.services import messaging
from tests.central.api_server import ApiServer, Client

EXAMPLES = 20
OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def _callers(api: ApiServer) -> dict[str, Callable[[], Client]]:
    admin = api.staff("administrator")
    admitted = admin.post("/v1/staff/residents", json={
        "agency_id": "100001", "agency": "WA", "name": "Ann Example", "facility_id": "F1",
        "unit_id": "U-A"}).json()
    api.session().post("/v1/family/accounts", json={
        "email": "sis@example.org", "name": "Sis", "password": "family password 1"})
    family = api.family("sis@example.org")
    family.post("/v1/family/approvals", json={"resident_agency_id": "100001",
                                              "relationship": "sister"})
    # Something to find: a blob, a message, a hold, an alert, a ticket.
    stored = api.facility.central.blobs.put([b"\xff\xd8 photo"], max_size=100)
    messaging.record_upload(api.facility.central, stored.sha256, stored.size, "image/jpeg",
                            uploader="contact:1", purpose="message")
    pin = str(admitted["first_pin"])
    with api.facility.central.db.read() as conn:
        as_admitted = dict(conn.execute(select(
            residents.c.pin_hash, residents.c.pin_must_change, residents.c.unit_id)).one()
            ._mapping)

    def resident() -> Client:
        # A fuzzed request may have logged the resident out, counted wrong PINs,
        # or (as staff may) reset their PIN or released them: they are back as
        # admitted, to reach the routes.
        with api.facility.central.db.write() as conn:
            conn.execute(update(residents).values(failed_logins=0, locked_until=0,
                                                  status="active", **as_admitted))
        return api.resident("K-A2", "100001", pin)

    resident().post("/v1/resident/tickets", json={"uid": "ticket-00001", "category": "other",
                                                "description": "test"})
    api.session("K-A2").post("/v1/kiosk/alerts", json={
        "uid": "alert-00001", "reason": "wrong_owner", "raised_at": 1})
    return {"family": lambda: api.family("sis@example.org"), "resident": resident,
            "kiosk": lambda: api.session("K-A2"), "staff": lambda: api.staff("administrator"),
            "health": api.session}


def test_the_committed_openapi_document_is_current() -> None:
    """docs/openapi.json is what the server serves (regenerate with
    `sallyport central openapi > docs/openapi.json`)."""
    served = create_app(None, kiosk_trust=None).openapi()  # type: ignore[arg-type]
    committed = json.loads(OPENAPI.read_text())
    assert committed == json.loads(json.dumps(served)), \
        "docs/openapi.json is stale: run `sallyport central openapi > docs/openapi.json`"


def test_no_generated_request_gets_a_server_error(api: ApiServer) -> None:
    callers = _callers(api)
    schema = schemathesis.openapi.from_dict(create_app(None, kiosk_trust=None).openapi())  # type: ignore[arg-type]
    errors: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        tag = operation.definition.raw.get("tags", ["health"])[0]
        operations += 1
        _fuzz(operation, callers[tag], errors)
    assert operations > 40
    assert not errors, "\n".join(errors[:20])


def _fuzz(operation: object, login: Callable[[], Client], errors: list[str]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    # Mostly with the caller's credentials (to reach the routes), sometimes without.
    @given(case=operation.as_strategy(),  # type: ignore[attr-defined]
           auth=st.integers(0, 9).map(bool))
    def run(case: schemathesis.Case, auth: bool) -> None:
        client = login()
        session = client.http if auth else _anonymous(client.http)
        if auth and "Authorization" in client.http.headers:
            headers = dict(case.headers or {})
            headers["Authorization"] = str(client.http.headers["Authorization"])
            case.headers = headers  # type: ignore[assignment]
        response = case.call(base_url=client.base, session=session,
                             verify=client.http.verify, cert=session.cert, timeout=30)
        if response.status_code >= 500:
            errors.append(f"{case.method} {case.formatted_path} -> "
                          f"{response.status_code}: {response.text[:200]}")
    run()


def _anonymous(session: requests.Session) -> requests.Session:
    bare = requests.Session()
    bare.trust_env = False
    bare.verify = session.verify
    return bare


@pytest.fixture(autouse=True)
def _quiet_schemathesis(monkeypatch: pytest.MonkeyPatch) -> None:
    # schemathesis reads its settings from the environment; keep a user's out.
    monkeypatch.delenv("SCHEMATHESIS_HOOKS", raising=False)
