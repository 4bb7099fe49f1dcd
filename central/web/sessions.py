"""Logging in and out of the web pages, for either area: the session is an
accounts session row, its token kept in the area's cookie."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from central.errors import Unauthenticated
from central.services import accounts
from central.services.core import Central
from central.web import security
from central.web.site import KEEPABLE, NeedLogin, Visit, form_of, redirect

SUBJECTS = {security.FAMILY: "contact", security.STAFF: "staff"}
# The page each form is typed on, for a form posted after its session ended.
FORM_PAGES: dict[str, str] = {}


@dataclass(frozen=True)
class Signed:
    """Who is logged in to an area."""

    session: accounts.Session
    token: str


def token_of(request: Request, visit: Visit, area: str) -> str | None:
    return request.cookies.get(security.cookie_name(area, https=visit.https))


def signed_in(c: Central, request: Request, visit: Visit, area: str) -> Signed:
    """The area's session. Raises NeedLogin (with what may be kept of a
    posted form) when there is none or it ended."""
    token = token_of(request, visit, area)
    try:
        if not token:
            raise Unauthenticated("no session")
        session = accounts.authenticate(c, token)
        if session.subject != SUBJECTS[area]:
            raise Unauthenticated("a session of the other area")
    except Unauthenticated:
        kept: dict[str, str] = {}
        page = FORM_PAGES.get(request.url.path, request.url.path)
        if request.method == "POST":
            fields = KEEPABLE.get(page, ())
            kept = {k: v for k, v in form_of(visit).items() if k in fields}
        raise NeedLogin(area, kept=kept, next_path=page) from None
    return Signed(session, token)


def open_session(visit: Visit, area: str, login: accounts.Login, now: int) -> None:
    visit.set_cookies.append((area, login.token, max(60, login.expires_at - now)))


def close_session(c: Central, request: Request, visit: Visit, area: str) -> Response:
    token = token_of(request, visit, area)
    if token:
        accounts.logout(c, token)
    visit.clear_cookies.append(area)
    return redirect(request, f"/{area}/login?done=logged_out")
