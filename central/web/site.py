"""What every web page shares: templates, the visitor's language and CSRF
token, rendering with the security headers, and the route class that turns
errors into pages.

A page handler is a plain function; its route is an :class:`HtmlRoute`, so
a :class:`~central.errors.CentralError`, a :class:`NeedLogin` or a
:class:`~central.web.security.CsrfRefused` raised anywhere below it becomes
a page (a login page, an error page) rather than the API's JSON.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from central.errors import CentralError, Forbidden, NotFound, Unauthenticated
from central.services.core import Central
from central.web import dates, i18n, security

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
HTMX = "htmx-2.0.11.min.js"  # the vendored htmx, pinned by its file name
MAX_FIELDS = 40
MAX_FIELD_BYTES = 64 * 1024
# No script or style but our own files; nothing framed; forms post here only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "media-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")


class NeedLogin(CentralError):
    """The page needs a session of ``area`` (family, staff) and has none: it
    ended, or there never was one. ``kept`` is what the visitor had typed
    that may be shown back to them after they log in again."""

    status = 401
    code = "login_needed"

    def __init__(self, area: str, *, next_path: str,
                 kept: Mapping[str, str] | None = None) -> None:
        super().__init__(f"log in to the {area} pages first")
        self.area = area
        self.next_path = next_path
        self.kept = dict(kept or {})


@dataclass
class Visit:
    """One request's visitor: their language, CSRF token and cookies to set."""

    language: str
    gettext: i18n.Gettext
    ngettext: i18n.Gettext
    visitor_secret: str
    https: bool
    new_visitor: bool
    csrf: str
    form: FormData | None = None
    set_cookies: list[tuple[str, str, int | None]] = field(default_factory=list)
    clear_cookies: list[str] = field(default_factory=list)


class Site:
    """The templates and catalogs, made once when the app is built."""

    def __init__(self, central: Central) -> None:
        self.central = central
        self.catalogs = i18n.load_catalogs()
        self.env = Environment(loader=FileSystemLoader(TEMPLATES),
                               autoescape=select_autoescape(default=True),
                               undefined=StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
        self.env.filters["local"] = dates.local_filter  # every date and time on a page
        self.env.filters["dollars"] = dollars
        css = (STATIC / "site.css").read_bytes()
        self.env.globals["css_url"] = f"/static/site.css?v={hashlib.sha256(css).hexdigest()[:12]}"
        self.env.globals["htmx_url"] = f"/static/{HTMX}"
        self.env.globals["languages"] = i18n.LANGUAGES

    def visit(self, request: Request) -> Visit:
        https = request.url.scheme == "https"
        secret = request.cookies.get(security.cookie_name(security.VISITOR, https=https))
        new = not secret or len(secret) > 100
        if new:
            secret = security.new_visitor_secret()
        assert secret is not None
        language = i18n.choose(
            request.cookies.get(security.cookie_name(security.LANGUAGE, https=https)),
            request.headers.get("accept-language"))
        catalog = self.catalogs[language]
        visit = Visit(language, i18n.translator(catalog), i18n.plural_translator(catalog),
                      secret, https, new, security.csrf_token(secret))
        if new:
            visit.set_cookies.append((security.VISITOR, secret, security.VISITOR_MAX_AGE_S))
        return visit

    def render(self, request: Request, template: str, *, status: int = 200,
               headers: Mapping[str, str] | None = None, **context: Any) -> Response:
        visit = visit_of(request)
        if "zone" not in context:  # a page of nobody's in particular: the server's agency's
            with self.central.db.read() as conn:
                context["zone"] = dates.server_zone(conn)
        page = self.env.get_template(template).render(
            _=visit.gettext, _n=visit.ngettext, lang=visit.language, csrf=visit.csrf,
            csrf_field=security.CSRF_FIELD, path=request.url.path,
            here=_here(request), **context)
        response = HTMLResponse(page, status_code=status, headers=dict(headers or {}))
        return finish(request, response)


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def finish(request: Request, response: Response) -> Response:
    """Security headers and the visit's cookies on any web response."""
    visit: Visit | None = getattr(request.state, "visit", None)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    started = getattr(request.state, "started", None)
    if started is not None:  # how long the server took, for the browser's tools and the bench
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    if visit is not None:
        for name, value, max_age in visit.set_cookies:
            options = security.cookie_options(https=visit.https, max_age=max_age)
            response.set_cookie(security.cookie_name(name, https=visit.https), value,
                                max_age=options.max_age, path=options.path,
                                secure=options.secure, httponly=options.httponly,
                                samesite="strict")
        for name in visit.clear_cookies:
            response.delete_cookie(security.cookie_name(name, https=visit.https), path="/",
                                   secure=visit.https, httponly=True, samesite="strict")
    return response


def site_of(request: Request) -> Site:
    site: Site = request.app.state.web
    return site


def visit_of(request: Request) -> Visit:
    visit: Visit | None = getattr(request.state, "visit", None)
    if visit is None:
        visit = site_of(request).visit(request)
        request.state.visit = visit
    return visit


async def guard(request: Request) -> Visit:
    """Every web route's first dependency: the visit, and for an unsafe
    method the form, read once, and its CSRF token checked."""
    request.state.started = time.perf_counter()
    visit = visit_of(request)
    if request.method not in security.SAFE_METHODS:
        try:
            form = await request.form(max_files=1, max_fields=MAX_FIELDS,
                                      max_part_size=MAX_FIELD_BYTES)
        except (AssertionError, ValueError) as e:  # not a form at all
            raise security.CsrfRefused("this request is not a form this site sent") from e
        visit.form = form
        offered = request.headers.get(security.CSRF_HEADER)
        if offered is None:
            value = form.get(security.CSRF_FIELD)
            offered = value if isinstance(value, str) else None
        security.check_csrf(method=request.method,
                            visitor_secret=None if visit.new_visitor else visit.visitor_secret,
                            offered=offered, origin=request.headers.get("origin"),
                            host=request.headers.get("host"))
    return visit


VisitDep = Annotated[Visit, Depends(guard)]


def form_of(visit: Visit) -> dict[str, str]:
    """The posted form's text fields (files left out), stripped of NULs."""
    if visit.form is None:
        return {}
    return {k: v.replace("\x00", "") for k, v in visit.form.multi_items()
            if isinstance(v, str) and k != security.CSRF_FIELD}


def redirect(request: Request, url: str) -> Response:
    """After a POST: see the result with a GET (303), or, for htmx, go there."""
    if request.headers.get("hx-request") == "true":
        return finish(request, Response(status_code=204, headers={"HX-Redirect": url}))
    return finish(request, RedirectResponse(url, status_code=303))


# What a login page may show back after a session ended mid-form: per form,
# the fields that are safe to keep (never a password, a card or a file).
KEEPABLE: dict[str, tuple[str, ...]] = {}
# The page that shows such a form filled in again, after the login.
RESUME: dict[str, Callable[[Request, int, dict[str, str]], Response]] = {}


def keep(path: str, fields: tuple[str, ...]) -> None:
    KEEPABLE[path] = fields


ErrorPage = Callable[[Request, CentralError], Response]
LOGIN_PAGES: dict[str, Callable[[Request, NeedLogin], Response]] = {}


class HtmlRoute(APIRoute):
    """A route whose errors are pages: a missing session goes to the login
    page (keeping what may be kept), a refused CSRF token or any other
    CentralError shows an error page with its status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except NeedLogin as e:
                login = LOGIN_PAGES[e.area]
                return login(request, e)
            except CentralError as e:
                return error_page(request, e)
            except RequestValidationError:
                return error_page(request, NotFound("there is no such page"))
            except StarletteHTTPException as e:
                return error_page(request, _http_error(e))
            except Exception:  # a fault of ours: logged whole, and a page that says so
                log.exception("web page %s failed", request.url.path)
                return error_page(request, CentralError("The server could not show this "
                                                        "page. Try again in a moment."))
        return route


def _http_error(e: StarletteHTTPException) -> CentralError:
    error = CentralError(str(e.detail))
    error.status = e.status_code
    error.code = "http_error"
    return error


def error_page(request: Request, e: CentralError) -> Response:
    if e.status >= 500:
        log.error("web page %s failed: %s", request.url.path, e.message)
    visit = visit_of(request)
    _ = visit.gettext
    title = {404: _("Not found"), 403: _("Not allowed"), 401: _("Please log in"),
             409: _("Already done")}.get(e.status, _("Something went wrong"))
    area = "staff" if request.url.path.startswith("/staff") else "family"
    if isinstance(e, security.CsrfRefused):
        text = _("This form is out of date. Open the page again and send it again.")
    elif isinstance(e, NotFound):
        text = _("There is nothing here. It may have been removed, or the address is wrong.")
    elif isinstance(e, Forbidden | Unauthenticated):
        text = _("You may not do this.")
    elif e.status >= 500 and type(e) is CentralError:
        text = _("The server could not show this page. Try again in a moment.")
    else:
        text = e.message
    return site_of(request).render(request, "error.html", status=e.status, title=title,
                                   text=text, area=area, who=None, nav=[], done="")


def login_url(area: str, next_path: str) -> str:
    return f"/{area}/login?next={quote(next_path, safe='/')}"


# -- template filters --------------------------------------------------------


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def highlighted(text: str, spans: list[tuple[int, int]]) -> Markup:
    """``text`` escaped, with the ``spans`` (start, end; they may overlap)
    marked."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out = Markup()
    at = 0
    for start, end in merged:
        out += text[at:start]
        out += Markup("<mark>") + text[start:end] + Markup("</mark>")
        at = end
    return out + text[at:]


def set_language(request: Request, visit: Visit, area: str) -> Response:
    """The language form in every page's header: keep the choice in a cookie
    and show the same page again."""
    values = form_of(visit)
    language = values.get("lang", "")
    if language in i18n.LANGUAGES:
        visit.set_cookies.append((security.LANGUAGE, language, security.VISITOR_MAX_AGE_S))
    return redirect(request, security.local_path(values.get("next"), area=f"/{area}",
                                                 default=f"/{area}"))
