"""Terms acceptance on the server, on both databases: the SHA-256 of the
exact text accepted is recorded once per text, with the kiosk it was
accepted at; the text reaches the resident's feed (their tablet shows it);
another resident's acceptance is theirs only; bad input is refused and
nothing is recorded. The kiosk is told the deadlines its terms and request
screens state."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from central.schema import terms_acceptances
from central.services import feeds
from tests.central.api_server import ApiServer
from tests.central.test_essential_requests import _resident

TERMS = "Using this kiosk\n\n1. Refunds after 14 días.\n"


def test_an_acceptance_is_recorded_with_the_hash_of_the_text(api: ApiServer) -> None:
    me, rid = _resident(api)
    sha = hashlib.sha256(TERMS.encode()).hexdigest()
    answer = me.post("/v1/resident/terms", json={"text": TERMS, "language": "es"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["sha256"] == sha and answer.json()["kiosk_id"] == "K-A2"
    again = me.post("/v1/resident/terms", json={"text": TERMS, "language": "es"})
    assert again.json() == answer.json()  # once per text
    assert [a["sha256"] for a in me.get("/v1/resident/terms").json()] == [sha]
    changed = TERMS.replace("14", "30")
    me.post("/v1/resident/terms", json={"text": changed, "language": "es"})
    assert [a["sha256"] for a in me.get("/v1/resident/terms").json()] \
        == [sha, hashlib.sha256(changed.encode()).hexdigest()]
    with api.facility.central.db.read() as conn:
        rows = conn.execute(select(terms_acceptances)).all()
        records = [r for r in feeds.since(conn, f"resident:{rid}", 0, 100) if r.kind == "terms"]
    assert len(rows) == 2 and all(r.resident_id == rid for r in rows)
    assert [r.body["text"] for r in records] == [TERMS, changed]  # for the tablet to show
    assert records[0].body["sha256"] == sha and records[0].body["language"] == "es"


def test_bad_terms_are_refused_and_nothing_is_recorded(api: ApiServer) -> None:
    me, _ = _resident(api)
    other, _ = _resident(api, "100002")
    for body in ({"text": "", "language": "en"}, {"text": "x" * 20_001, "language": "en"},
                 {"text": TERMS, "language": "fr"}, {"text": TERMS}):
        assert me.post("/v1/resident/terms", json=body).status_code == 422
    assert me.get("/v1/resident/terms").json() == []
    other.post("/v1/resident/terms", json={"text": TERMS, "language": "en"})
    assert me.get("/v1/resident/terms").json() == []  # another resident's is theirs
    with api.facility.central.db.read() as conn:
        assert len(conn.execute(select(terms_acceptances)).all()) == 1


def test_a_kiosk_is_told_the_deadlines_its_screens_state(api: ApiServer) -> None:
    policy = api.session("K-A2").get("/v1/kiosk/policy").json()
    assert policy["ticket_resolution_days"] == 14
    assert {k: v for k, v in policy.items() if k.startswith("request_days_")} == {
        "request_days_medical": 2, "request_days_grievance": 15, "request_days_prea": 1,
        "request_days_legal": 5, "request_days_records": 10}
