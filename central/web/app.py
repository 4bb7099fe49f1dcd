"""Mounting the web pages on the server's FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from central.services.core import Central
from central.web import family, staff
from central.web.site import STATIC, Site

# A web form with a photo or a videogram may be this large; other pages' forms
# are held to the API's bound.
UPLOAD_FORM_BYTES = 64 * 1024 * 1024
UPLOAD_FORMS = ("/family/write",)


def mount(app: FastAPI, central: Central) -> None:
    """Add the web pages to ``app``."""
    app.state.web = Site(central)
    app.include_router(family.router)
    app.include_router(staff.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def front() -> RedirectResponse:
        return RedirectResponse("/family", status_code=307)
