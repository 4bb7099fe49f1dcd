"""The family API's sign-up asks the identity fields the agency asks for, and
checks them as the web form does (the same service function decides)."""

from __future__ import annotations

import json

from sqlalchemy import select

from central.pricing import PricingPolicy
from central.schema import approvals, contacts
from central.services import accounts
from tests.central.api_server import ApiServer
from tests.central.facility import SYSTEM

PASSWORD = "family password 1"


def _ask(api: ApiServer, *fields: str) -> None:
    accounts.set_policy(api.facility.central, "WA",
                        PricingPolicy(family_identity_fields=fields), scope=SYSTEM)


def _contacts(api: ApiServer) -> list[tuple[str, str]]:
    with api.facility.central.db.read() as conn:
        return [(r.email, r.identity) for r in conn.execute(
            select(contacts.c.email, contacts.c.identity).order_by(contacts.c.id))]


def test_sign_up_refuses_missing_and_malformed_identity_naming_each_field(
        api: ApiServer) -> None:
    _ask(api, "date_of_birth", "phone", "legal_name")
    anon = api.session()
    assert anon.get("/v1/family/identity-fields").json() == {
        "required": ["legal_name", "date_of_birth", "phone"]}
    missing = anon.post("/v1/family/accounts", json={
        "email": "rosa@example.org", "name": "Rosa", "password": PASSWORD})
    assert missing.status_code == 422
    assert missing.json()["error"] == "bad_identity"
    assert missing.json()["fields"] == {"legal_name": "this is needed",
                                        "date_of_birth": "this is needed",
                                        "phone": "this is needed"}
    malformed = anon.post("/v1/family/accounts", json={
        "email": "rosa@example.org", "name": "Rosa", "password": PASSWORD,
        "identity": {"legal_name": "Rosa Maria Webb", "date_of_birth": "2999-01-01",
                     "phone": "call me"}})
    assert malformed.status_code == 422
    assert malformed.json()["fields"] == {
        "date_of_birth": "a date of birth in the past",
        "phone": "a phone number: digits, spaces, +, -, ( and )"}
    assert "date_of_birth" in malformed.json()["message"]
    assert _contacts(api) == []  # nothing half-saved

    done = anon.post("/v1/family/accounts", json={
        "email": "rosa@example.org", "name": "Rosa", "password": PASSWORD,
        "identity": {"legal_name": " Rosa  Maria Webb ", "date_of_birth": "1961-04-02",
                     "phone": "+1 (360) 555-0100", "id_document": "not asked"}})
    assert done.status_code == 201, done.text
    [(email, identity)] = _contacts(api)
    assert email == "rosa@example.org"
    # trimmed as the web form trims, and only what is asked is kept
    assert json.loads(identity) == {"legal_name": "Rosa Maria Webb",
                                    "date_of_birth": "1961-04-02",
                                    "phone": "+1 (360) 555-0100"}


def test_an_unknown_identity_field_or_an_overlong_value_is_refused(api: ApiServer) -> None:
    anon = api.session()
    unknown = anon.post("/v1/family/accounts", json={
        "email": "rosa@example.org", "name": "Rosa", "password": PASSWORD,
        "identity": {"shoe_size": "9"}})
    assert unknown.status_code == 422 and "shoe_size" in unknown.json()["message"]
    too_long = anon.post("/v1/family/accounts", json={
        "email": "rosa@example.org", "name": "Rosa", "password": PASSWORD,
        "identity": {"phone": "1" * 301}})
    assert too_long.status_code == 422 and "identity.phone" in too_long.json()["message"]
    assert _contacts(api) == []


def test_an_agency_that_asks_nothing_signs_families_up_without_identity(
        api: ApiServer) -> None:
    anon = api.session()
    assert anon.get("/v1/family/identity-fields").json() == {"required": []}
    assert anon.post("/v1/family/accounts", json={
        "email": "rosa@example.org", "name": "Rosa", "password": PASSWORD,
        "identity": {"phone": "360 555 0100"}}).status_code == 201
    assert _contacts(api) == [("rosa@example.org", "{}")]  # not asked: not kept


def test_a_contact_request_through_the_api_can_give_what_the_agency_asks_later(
        api: ApiServer) -> None:
    api.facility.admit("874512", "Marcus Webb")
    anon = api.session()
    assert anon.post("/v1/family/accounts", json={
        "email": "rosa@example.org", "name": "Rosa", "password": PASSWORD}).status_code == 201
    _ask(api, "phone")  # the agency starts asking after Rosa signed up
    fam = api.family("rosa@example.org", PASSWORD)
    refused = fam.post("/v1/family/approvals", json={"resident_agency_id": "874512",
                                                     "relationship": "mother"})
    assert refused.status_code == 422 and refused.json()["fields"] == {
        "phone": "this is needed"}
    with api.facility.central.db.read() as conn:
        assert conn.execute(select(approvals)).first() is None
    asked = fam.post("/v1/family/approvals", json={
        "resident_agency_id": "874512", "relationship": "mother",
        "identity": {"phone": "360 555 0100"}})
    assert asked.status_code == 201, asked.text
    assert json.loads(_contacts(api)[0][1]) == {"phone": "360 555 0100"}
