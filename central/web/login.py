"""The login pages of both areas, and where a missing session leads."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response

from central.errors import (
    Busy,
    CentralError,
    LockedOut,
    PolicyRefused,
    TooManyAttempts,
    Unauthenticated,
)
from central.services import accounts
from central.services.core import Central
from central.web import security, sessions
from central.web.forms import Form, required
from central.web.i18n import N_
from central.web.site import (
    LOGIN_PAGES,
    RESUME,
    NeedLogin,
    Visit,
    finish,
    form_of,
    login_url,
    redirect,
    site_of,
    visit_of,
)

log = logging.getLogger(__name__)
KEPT_PREFIX = "keep."
DONE = {"logged_out": N_("You are logged out."),
        "signed_up": N_("Your account is made. You are logged in.")}


def after_missing_session(request: Request, e: NeedLogin) -> Response:
    """A page needed a session: a GET goes to the login page and comes back;
    a form posted after its session ended shows the login page with what was
    typed kept (what may be: never a password, card or file)."""
    if request.method != "POST":
        target = login_url(e.area, e.next_path + (f"?{request.url.query}"
                                                  if request.url.query else ""))
        if request.headers.get("hx-request") == "true":
            return finish(request, Response(status_code=204, headers={"HX-Redirect": target}))
        return redirect(request, target)
    if request.headers.get("hx-request") == "true":
        return finish(request, Response(status_code=204,
                                        headers={"HX-Redirect": login_url(e.area, e.next_path)}))
    visit = visit_of(request)
    return login_page(request, e.area, Form({}), next_path=e.next_path, kept=e.kept,
                      ended=True, status=401, visit=visit)


for _area in (security.FAMILY, security.STAFF):
    LOGIN_PAGES[_area] = after_missing_session


def login_page(request: Request, area: str, form: Form, *, next_path: str,
               kept: dict[str, str], ended: bool, status: int, visit: Visit) -> Response:
    _ = visit.gettext
    done = DONE.get(request.query_params.get("done", ""))
    return site_of(request).render(
        request, "login.html", status=status, form=form, next_path=next_path,
        kept=kept, ended=ended, done=_(done) if done else "", area=area, who=None, nav=[])


def login(c: Central, request: Request, visit: Visit, area: str, *,
          home: str, name_field: str,
          log_in: Callable[[str, str], accounts.Login]) -> Response:
    """Check a login form; on success open the session and go on (to the page
    it came from, filled in again with what was kept, if any)."""
    _ = visit.gettext
    values = form_of(visit)
    next_path = security.local_path(values.get("next"), area=f"/{area}", default=home)
    kept = {k[len(KEPT_PREFIX):]: v for k, v in values.items() if k.startswith(KEPT_PREFIX)}
    form = Form({name_field: values.get(name_field, ""), "password": values.get("password", "")})
    required(form, _, name_field, "password")
    if form.ok:
        try:
            done = log_in(form.get(name_field), form.values["password"])
        except Unauthenticated:
            form.refuse("password", _("The {what} or password is wrong.",
                                      what=_("email") if area == security.FAMILY
                                      else _("username")))
        except LockedOut:
            form.problem = _("Too many wrong passwords. Wait 15 minutes and try again.")
        except TooManyAttempts as e:
            form.problem = _("Too many attempts. Try again in {n} seconds.", n=e.retry_after)
        except Busy:
            form.problem = _("The server is busy. Try again in a moment.")
        except PolicyRefused:
            form.problem = _("This account is disabled.")
        except CentralError as e:
            log.warning("login refused: %s", e.message)
            form.problem = e.message
        else:
            sessions.open_session(visit, area, done, c.clock())
            resume = RESUME.get(next_path.split("?")[0])
            if kept and resume is not None:
                return resume(request, done.subject_id, kept)
            return redirect(request, next_path)
    form.values["password"] = ""
    return login_page(request, area, form, next_path=next_path, kept=kept, ended=False,
                      status=200, visit=visit)


def client(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


__all__ = ["after_missing_session", "client", "login", "login_page", "visit_of"]
