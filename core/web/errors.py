"""Errors mapped to HTTP in one place: always a short JSON body (core.web.openapi.ErrorBody:
what was wrong, the stage that failed, how to fix it), never a stack trace, never cached.
On a page (``/``, or a path with no route asked for by a browser) the same words come as an
HTML page: a browser shows it, where it would show raw JSON.

``AppError`` and its subclasses (core.errors) carry their own status; a malformed parameter is
a 422 naming it; routing errors (no such path, a method other than GET) and anything
unexpected are answered in the same shape.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import AppError, BusyError, StoreError, UnauthorizedError
from core.web.http_cache import NO_STORE
from core.web.openapi import error_body

log = logging.getLogger(__name__)
PAGES = frozenset({"/"})  # the routes that answer HTML


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected_error)


def app_error(request: Request, exc: AppError) -> Response:
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
    return _reply(request, body, exc.http_status, headers)


def validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0]
    name = str(first["loc"][-1]) if first.get("loc") else "request"
    message = f"parameter {name!r}: {first.get('msg', 'is invalid')}"
    body = error_body(message, "query", "see the parameters in README.md")
    return _reply(request, body, 422, {"Cache-Control": NO_STORE})


def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Routing errors (no such path, a method other than GET) in the same shape as every error."""
    if exc.status_code == 404:
        body = error_body(f"there is no page at {request.url.path!r}", "web", "the index page / lists every feed")
    else:
        body = error_body(f"{request.method} is not allowed here ({exc.detail})", "web", "every route answers GET")
    headers = {**(exc.headers or {}), "Cache-Control": NO_STORE}
    # No route answered this path: a browser asked for a page that is not there.
    browser = exc.status_code == 404 and "text/html" in request.headers.get("accept", "")
    return _reply(request, body, exc.status_code, headers, page=browser)


def unexpected_error(request: Request, exc: Exception) -> Response:
    # The exception is passed, not taken from sys.exc_info(): a sync handler runs in the thread
    # pool, outside the except block, where log.exception logged "NoneType: None".
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _reply(request, error_body("internal error", "web"), 500, {"Cache-Control": NO_STORE})


def _reply(
    request: Request, body: dict[str, Any], status: int, headers: dict[str, str], page: bool = False
) -> Response:
    """JSON, or the same words as an HTML page on a page's route (``PAGES``) or when ``page``."""
    if not (page or request.url.path in PAGES):
        return JSONResponse(body, status, headers=headers)
    from core.render.pages import render_error_page

    root = request.scope.get("root_path", "")
    home, style = f"{root}/", f"{root}/static/app.css"  # relative to the host the browser used
    text = render_error_page(status, body["error"], body.get("hint", ""), home, style)
    return HTMLResponse(text, status, headers=headers)


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
