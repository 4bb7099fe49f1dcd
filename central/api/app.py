"""The FastAPI application: routers, error mapping, and request bounds."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.api import family, firmware, kiosk, owed, resident, staff
from central.api.auth import KioskVerifier
from central.errors import CentralError, InvalidFields
from central.revocation import PublishedRevocationList
from central.services.core import Central
from central.web import app as web
from device_security.pki import TrustAnchors
from device_security.text import printable

log = logging.getLogger(__name__)
API_VERSION = "1.0.0"
MAX_JSON_BODY = 1 << 20  # uploads have their own, larger, per-type bounds
DRAIN_LIMIT = 8 << 20  # a body up to this is read and dropped before the 413
UPLOAD_PATHS = ("/v1/family/blobs", "/v1/staff/blobs", "/v1/resident/blobs")
UPLOAD_PREFIXES = ("/v1/staff/firmware/images/",)  # bounded by the image's signed length


class BodyLimit:
    """Refuse request bodies over a bound with 413, before a route reads them.

    A declared Content-Length over the bound is refused at once; a chunked
    body is read up to the bound and then handed on whole."""

    def __init__(self, app: ASGIApp, limit: int = MAX_JSON_BODY,
                 larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}  # paths that take larger bodies (the web's upload forms)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UPLOAD_PATHS \
                or scope["path"].startswith(UPLOAD_PREFIXES):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.limit)
        headers = dict(scope.get("headers", ()))
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > limit:
            if int(declared) <= DRAIN_LIMIT:
                # Read the rest first, so the client sees the answer instead of a
                # connection closed while it is still sending.
                while (await receive()).get("more_body", False):
                    pass
            await self._refuse(scope, receive, send, limit)
            return
        if declared:
            await self.app(scope, receive, send)  # the server holds it to its length
            return
        if scope["path"] in self.larger and scope["method"] not in ("GET", "HEAD"):
            # never buffered here: a length first, please
            await JSONResponse({"error": "length_required",
                                "message": "send this form with a Content-Length"},
                               status_code=411)(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await self._refuse(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay([{"type": "http.request", "body": bytes(body),
                                        "more_body": False}], receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = JSONResponse({"error": "too_large",
                                 "message": f"request bodies are at most {limit} bytes"},
                                status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}
    return receive


def create_app(central: Central, *, kiosk_trust: TrustAnchors | None,
               revocation_list: PublishedRevocationList | None = None) -> FastAPI:
    """The API for ``central``. Kiosks are admitted by certificates that
    ``kiosk_trust`` (the facility CA and its CRL) accepts; ``revocation_list``
    is the list the server publishes to kiosks (and checks them against)."""
    app = FastAPI(
        title="Sallyport central server",
        version=API_VERSION,
        description="Messages, stamps, media and review for correctional facilities. "
        "Kiosks authenticate with their TLS client certificate; family members, "
        "residents (through a kiosk) and staff with a bearer token from a login.",
    )
    app.state.central = central
    app.state.kiosks = KioskVerifier(kiosk_trust, revocation_list)
    app.state.revocation_list = revocation_list

    @app.exception_handler(CentralError)
    async def central_error(_: Request, e: CentralError) -> JSONResponse:
        if e.status >= 500:
            log.error("%s: %s", type(e).__name__, printable(e.message, 1000))
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else {}
        retry_after = getattr(e, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        body: dict[str, Any] = {"error": e.code, "message": e.message}
        if isinstance(e, InvalidFields):  # each field named, for a client to show beside it
            body["fields"] = e.fields
        return JSONResponse(body, status_code=e.status, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = []
        for err in e.errors()[:10]:
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return JSONResponse({"error": "invalid_request", "message": "; ".join(problems),
                             "details": _jsonable(e.errors()[:10])}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def integrity(_: Request, e: IntegrityError) -> JSONResponse:
        # A uniqueness race the services did not foresee: the caller may retry.
        log.warning("integrity error answered with 409: %s", printable(e.orig, 1000))
        return JSONResponse({"error": "conflict", "message": "this conflicts with a record "
                             "written at the same time; retry"}, status_code=409)

    @app.exception_handler(DataError)
    async def unstorable(_: Request, e: DataError) -> JSONResponse:
        # A value the database refuses (a NUL character, a number out of range).
        log.warning("data error answered with 422: %s", printable(e.orig, 1000))
        return JSONResponse({"error": "invalid_input", "message": "a value in the request "
                             "cannot be stored (a NUL character or a number out of range)"},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
            e.status_code, "http_error")
        return JSONResponse({"error": code, "message": str(e.detail)},
                            status_code=e.status_code, headers=getattr(e, "headers", None))

    @app.get("/v1/health", tags=["health"])
    def health() -> dict[str, str]:
        """Whether the server is up (no login needed)."""
        return {"status": "ok", "version": API_VERSION}

    for router in (family.router, resident.router, kiosk.router, staff.router,
                   firmware.staff_router, firmware.kiosk_router,
                   owed.family_router, owed.resident_router, owed.kiosk_router,
                   owed.staff_router):
        app.include_router(router)
    if central is not None:  # (None: only to print the OpenAPI document)
        web.mount(app, central)
    app.add_middleware(BodyLimit, larger={path: web.UPLOAD_FORM_BYTES
                                          for path in web.UPLOAD_FORMS})
    return app


def _jsonable(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        out.append({"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", "")),
                    "type": str(err.get("type", ""))})
    return out
