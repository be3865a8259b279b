"""Errors mapped to HTTP in one place: always a short JSON body (core.web.openapi.ErrorBody:
what was wrong, the stage that failed, how to fix it), never a stack trace, never cached.

``AppError`` and its subclasses (core.errors) carry their own status; a malformed parameter is
a 422 naming it; routing errors (no such path, a method other than GET) and anything
unexpected are answered in the same shape.
"""

from __future__ import annotations

import html
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import AppError, BusyError, StoreError, UnauthorizedError
from core.web.http_cache import NO_STORE
from core.web.openapi import error_body

log = logging.getLogger(__name__)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected_error)


def app_error(request: Request, exc: AppError) -> JSONResponse:
    body = error_body(exc.message, exc.stage, exc.hint, **exc.extra)
    headers = {"Cache-Control": NO_STORE}
    if isinstance(exc, StoreError):
        headers["Retry-After"] = "60"
    if isinstance(exc, BusyError):
        headers["Retry-After"] = "5"
    if isinstance(exc, UnauthorizedError):
        headers["WWW-Authenticate"] = "Bearer"
    if exc.http_status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    name = str(first["loc"][-1]) if first.get("loc") else "request"
    message = f"parameter {name!r}: {first.get('msg', 'is invalid')}"
    body = error_body(message, "query", "see the parameters in README.md")
    return JSONResponse(body, 422, headers={"Cache-Control": NO_STORE})


def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Routing errors (no such path, a method other than GET) in the same shape as every error."""
    if exc.status_code == 404:
        body = error_body(f"there is no page at {request.url.path!r}", "web", "the index page / lists every feed")
    else:
        body = error_body(f"{request.method} is not allowed here ({exc.detail})", "web", "every route answers GET")
    headers = {**(exc.headers or {}), "Cache-Control": NO_STORE}
    return JSONResponse(body, exc.status_code, headers=headers)


def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The exception is passed, not taken from sys.exc_info(): a sync handler runs in the thread
    # pool, outside the except block, where log.exception logged "NoneType: None".
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal error", "web"), 500, headers={"Cache-Control": NO_STORE})


def unavailable(request: Request, exc: AppError) -> Response:
    """503 with what is wrong and how to fix it: a page for a browser, JSON for everyone else
    (feed readers, scripts). Never cached, so the fixed deployment is seen at once."""
    headers = {"Cache-Control": NO_STORE, "Retry-After": "300"}
    if "text/html" in request.headers.get("accept", ""):
        page = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Not configured</title>"
            f"<h1>This feed service is not configured correctly</h1><p>{html.escape(exc.message)}</p>"
            f"<p>How to fix it: {html.escape(exc.hint)}</p>"
            "<p>Fix it and redeploy (or restart); nothing stored is lost.</p></html>"
        )
        return HTMLResponse(page, 503, headers=headers)
    return JSONResponse(error_body(exc.message, exc.stage, exc.hint), 503, headers=headers)
