"""The web pages' cookies and their protection against forged requests.

Pure functions over values; the routes in :mod:`central.web.pages` apply them.

- A browser's session is a row of ``sessions`` (the same as an API token's),
  its token in an HttpOnly, SameSite=Strict cookie, Secure and ``__Host-``
  named when the page is served over HTTPS. Families and staff have separate
  cookies, so one browser can hold one of each without either reaching the
  other's area.
- Every unsafe request (anything but GET and HEAD) must carry a CSRF token:
  the ``csrf`` form field or the ``X-CSRF-Token`` header (htmx sends it).
  The token is an HMAC keyed by a random secret held in the visitor's own
  HttpOnly cookie, so a page of another site can neither read nor make it;
  it does not change at login, so a form typed before a session ended can
  still be taken back to the login page, and no tab's form goes stale.
- A request whose ``Origin`` names another site is refused as well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from central.errors import Forbidden

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
VISITOR = "visitor"
FAMILY = "family"
STAFF = "staff"
LANGUAGE = "lang"
SAFE_METHODS = frozenset({"GET", "HEAD"})
VISITOR_MAX_AGE_S = 365 * 86400


class CsrfRefused(Forbidden):
    """An unsafe request without the token its visitor's pages carry, or from
    another site."""

    code = "csrf_refused"


def cookie_name(name: str, *, https: bool) -> str:
    """``__Host-`` names over HTTPS: such a cookie is only ever set by this
    host, over HTTPS, for every path, so no other site or subdomain can plant
    one."""
    return f"__Host-sp-{name}" if https else f"sp-{name}"


@dataclass(frozen=True)
class CookieOptions:
    httponly: bool
    samesite: str
    secure: bool
    path: str
    max_age: int | None


def cookie_options(*, https: bool, max_age: int | None) -> CookieOptions:
    return CookieOptions(httponly=True, samesite="strict", secure=https, path="/",
                         max_age=max_age)


def new_visitor_secret() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(visitor_secret: str) -> str:
    """The token the visitor's forms carry: an HMAC under their cookie's secret."""
    return hmac.new(visitor_secret.encode(), b"sallyport web csrf 1",
                    hashlib.sha256).hexdigest()


def check_csrf(*, method: str, visitor_secret: str | None, offered: str | None,
               origin: str | None, host: str | None) -> None:
    """Raises CsrfRefused for an unsafe ``method`` whose token is missing or
    not the visitor's, or whose ``Origin`` is another host than ``host``."""
    if method.upper() in SAFE_METHODS:
        return
    if origin and origin != "null" and host and urlsplit(origin).netloc != host:
        raise CsrfRefused("this form was sent from another site")
    if not visitor_secret or not offered:
        raise CsrfRefused("this form is out of date: open the page again and resend it")
    if not hmac.compare_digest(csrf_token(visitor_secret), offered):
        raise CsrfRefused("this form is out of date: open the page again and resend it")


def local_path(target: str | None, *, area: str, default: str) -> str:
    """``target`` if it is a path of this site inside ``area`` (``/family``),
    else ``default``: a login never sends anyone to another site."""
    if not target or (not target.startswith(area + "/") and target != area):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//") or "\\" in target:
        return default
    return target
