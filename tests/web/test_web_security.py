"""The web pages' cookies, forms and reach, over HTTPS on loopback: what a
forged form, a missing token, another site, a stolen area or bad input can
do (nothing is saved), and the pure checks beneath."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from sqlalchemy import select

from central.errors import InvalidFields
from central.pricing import PricingPolicy, check_identity
from central.schema import approvals, contacts
from central.services import accounts
from central.web import i18n, security
from central.web.security import CsrfRefused
from central.web.site import highlighted
from tests.central.api_server import ApiServer
from tests.central.facility import STAFF_PASSWORD, SYSTEM
from tests.web.rig import FAMILY_PASSWORD


def _token(page: requests.Response) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert match is not None, page.text[:500]
    return match.group(1)


def _browser(site: ApiServer) -> tuple[requests.Session, str]:
    http = site.session().http
    return http, site.url


def _cookies(response: requests.Response) -> list[str]:
    return list(response.raw.headers.getlist("Set-Cookie"))


def test_cookies_are_httponly_strict_and_secure_over_https(https_site: ApiServer) -> None:
    http, url = _browser(https_site)
    first = http.get(url + "/family/login")
    [visitor] = _cookies(first)
    assert visitor.startswith("__Host-sp-visitor=")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute in visitor
    accounts.register_contact(https_site.facility.central, "rosa@example.org", "Rosa",
                              FAMILY_PASSWORD)
    done = http.post(url + "/family/login", allow_redirects=False, data={
        "csrf": _token(first), "email": "rosa@example.org", "password": FAMILY_PASSWORD,
        "next": "/family/stamps"})
    assert done.status_code == 303 and done.headers["location"] == "/family/stamps"
    [session] = _cookies(done)
    assert session.startswith("__Host-sp-family=")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict"):
        assert attribute in session
    page = http.get(url + "/family")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_a_form_without_the_visitors_token_changes_nothing(https_site: ApiServer) -> None:
    c = https_site.facility.central
    http, url = _browser(https_site)
    good = _token(http.get(url + "/family/signup"))
    form = {"name": "Mallory", "email": "m@example.org", "password": FAMILY_PASSWORD,
            "password_again": FAMILY_PASSWORD}
    forged = [
        {**form},  # no token
        {**form, "csrf": "0" * 64},  # a made-up token
        {**form, "csrf": _token(https_site.session().http.get(
            url + "/family/signup"))},  # another visitor's token
    ]
    for data in forged:
        answer = http.post(url + "/family/signup", data=data, allow_redirects=False)
        assert answer.status_code == 403, answer.text[:300]
        assert "out of date" in answer.text
    # The right token from another site's page is refused as well.
    answer = http.post(url + "/family/signup", data={**form, "csrf": good},
                       headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert answer.status_code == 403
    # JSON or an empty body is no form: refused the same way.
    assert http.post(url + "/family/signup", json=form).status_code == 403
    with c.db.read() as conn:
        assert conn.execute(select(contacts)).first() is None
    # htmx sends the token as a header.
    answer = http.post(url + "/family/signup", data=form, headers={"X-CSRF-Token": good},
                       allow_redirects=False)
    assert answer.status_code == 303
    with c.db.read() as conn:
        assert conn.execute(select(contacts.c.email)).scalar_one() == "m@example.org"


def test_bad_sign_up_input_is_said_beside_each_field_and_nothing_is_saved(
        https_site: ApiServer) -> None:
    c = https_site.facility.central
    policy = PricingPolicy(family_identity_fields=("date_of_birth", "phone"))
    accounts.set_policy(c, "WA", policy, scope=SYSTEM)
    http, url = _browser(https_site)
    page = http.get(url + "/family/signup")
    assert 'id="date_of_birth"' in page.text and 'id="phone"' in page.text
    answer = http.post(url + "/family/signup", data={
        "csrf": _token(page), "name": "Rosa", "email": "rosa@example.org",
        "password": "password", "password_again": "password",
        "date_of_birth": "2999-01-01", "phone": "call me"})
    assert answer.status_code == 422
    for field, says in (("date_of_birth", "not a date of birth"),
                        ("phone", "Write a phone number"),
                        ("password", "10 to 200 characters")):
        match = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', answer.text)
        assert match is not None and says in match.group(1), field
    assert 'value="password"' not in answer.text  # a password is never sent back
    with c.db.read() as conn:
        assert conn.execute(select(contacts)).first() is None
    answer = http.post(url + "/family/signup", data={
        "csrf": _token(page), "name": "Rosa", "email": "rosa@example.org",
        "password": FAMILY_PASSWORD, "password_again": FAMILY_PASSWORD,
        "date_of_birth": "1961-04-02", "phone": "+1 (360) 555-0100"}, allow_redirects=False)
    assert answer.status_code == 303
    with c.db.read() as conn:
        identity = conn.execute(select(contacts.c.identity)).scalar_one()
    assert identity == '{"date_of_birth": "1961-04-02", "phone": "+1 (360) 555-0100"}'


def test_a_contact_request_needs_what_the_residents_agency_asks(https_site: ApiServer) -> None:
    f = https_site.facility
    f.admit("874512", "Marcus Webb")
    cid = accounts.register_contact(f.central, "rosa@example.org", "Rosa", FAMILY_PASSWORD)
    accounts.set_policy(f.central, "WA", PricingPolicy(family_identity_fields=("phone",)),
                        scope=SYSTEM)
    with pytest.raises(InvalidFields) as refused:
        accounts.request_approval(f.central, cid, "874512", "mother")
    assert refused.value.fields == {"phone": "this is needed"}
    with f.central.db.read() as conn:
        assert conn.execute(select(approvals)).first() is None
    accounts.request_approval(f.central, cid, "874512", "mother",
                              identity={"phone": "360 555 0100"})
    with f.central.db.read() as conn:
        assert conn.execute(select(contacts.c.identity)).scalar_one() == \
            '{"phone": "360 555 0100"}'


def test_each_area_needs_its_own_login(https_site: ApiServer) -> None:
    f = https_site.facility
    accounts.register_contact(f.central, "rosa@example.org", "Rosa", FAMILY_PASSWORD)
    http, url = _browser(https_site)
    token = _token(http.get(url + "/family/login"))
    http.post(url + "/family/login", data={"csrf": token, "email": "rosa@example.org",
                                           "password": FAMILY_PASSWORD})
    assert http.get(url + "/family").status_code == 200
    staff = http.get(url + "/staff", allow_redirects=False)
    assert staff.status_code == 303 and staff.headers["location"].startswith("/staff/login")
    http.post(url + "/staff/login", data={"csrf": token, "username": "technician",
                                          "password": STAFF_PASSWORD})
    assert http.get(url + "/staff").status_code == 200
    # A technician does not work on the review queue: it is not there for them.
    assert http.get(url + "/staff/review").status_code == 404
    # A staff session's cookie in the family area opens nothing.
    stolen = https_site.session().http
    staff_cookie = http.cookies.get("__Host-sp-staff")
    assert staff_cookie
    stolen.cookies.set("__Host-sp-family", staff_cookie)
    answer = stolen.get(url + "/family", allow_redirects=False)
    assert answer.status_code == 303 and "/family/login" in answer.headers["location"]


def test_a_login_goes_only_to_a_page_of_its_own_area() -> None:
    for target in ("https://evil.example/family", "//evil.example/family", "/staff",
                   "/family\\..", "javascript:alert(1)", None, ""):
        assert security.local_path(target, area="/family", default="/family") == "/family"
    assert security.local_path("/family/stamps?page=2", area="/family",
                               default="/family") == "/family/stamps?page=2"


def test_the_csrf_check_raises_and_never_answers_false() -> None:
    secret = security.new_visitor_secret()
    token = security.csrf_token(secret)
    security.check_csrf(method="POST", visitor_secret=secret, offered=token, origin=None,
                        host="x")
    security.check_csrf(method="GET", visitor_secret=None, offered=None, origin=None, host="x")
    bad: list[dict[str, Any]] = [
        # the last character changed (to "0", or "1" where it was "0")
        {"visitor_secret": secret, "offered": token[:-1] + ("1" if token.endswith("0") else "0"),
         "origin": None},
        {"visitor_secret": None, "offered": token, "origin": None},
        {"visitor_secret": secret, "offered": None, "origin": None},
        {"visitor_secret": secret, "offered": token, "origin": "https://evil.example"},
    ]
    for case in bad:
        with pytest.raises(CsrfRefused):
            security.check_csrf(method="POST", host="127.0.0.1:8443", **case)


def test_languages_are_chosen_by_cookie_then_browser() -> None:
    assert i18n.choose("es", "en-US") == "es"
    assert i18n.choose(None, "fr-FR, es;q=0.8, en;q=0.5") == "es"
    assert i18n.choose("xx", "de") == "en"
    assert i18n.choose(None, "es;q=oops, en") == "en"


def test_terms_are_marked_in_escaped_text() -> None:
    assert str(highlighted("<b>meet at the fence</b> at 9", [(3, 15), (10, 20)])) == \
        "&lt;b&gt;<mark>meet at the fence</mark>&lt;/b&gt; at 9"


def test_identity_fields_are_checked_one_by_one() -> None:
    import datetime
    today = datetime.date(2026, 12, 4)
    assert check_identity(("phone",), {"phone": " 360  555 0100 ", "other": "x"},
                          today=today) == {"phone": "360 555 0100"}
    with pytest.raises(InvalidFields) as e:
        check_identity(("date_of_birth", "street_address"),
                       {"date_of_birth": "04/02/1961", "street_address": "x" * 301}, today=today)
    assert set(e.value.fields) == {"date_of_birth", "street_address"}
    with pytest.raises(ValueError, match="unknown"):
        PricingPolicy(family_identity_fields=("shoe_size",))


def test_the_api_names_the_same_identity_fields_as_the_policy() -> None:
    from typing import get_args

    from central.api.models import PolicyBody
    from central.pricing import IDENTITY_FIELDS
    annotation = PolicyBody.model_fields["family_identity_fields"].annotation
    (literal,) = get_args(annotation)
    assert list(get_args(literal)) == list(IDENTITY_FIELDS)
