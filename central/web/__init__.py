"""The web pages of the central server, rendered on the server: the family
pages under /family and the Facility System for staff under /staff, with
their own CSS and the vendored htmx under /static. See docs/web.md."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from central.services.core import Central

# A web form with a photo or a videogram may be this large; other pages' forms
# are held to the API's bound.
UPLOAD_FORM_BYTES = 64 * 1024 * 1024
UPLOAD_FORMS = ("/family/write",)


def mount(app: FastAPI, central: Central) -> None:
    """Add the web pages to ``app``."""
    from central.web import family, staff
    from central.web.site import STATIC, Site
    app.state.web = Site(central)
    app.include_router(family.router)
    app.include_router(staff.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def front() -> RedirectResponse:
        return RedirectResponse("/family", status_code=307)
