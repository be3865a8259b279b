"""Security headers on every answer, and a cap on how much URL a request may carry.

An ASGI middleware (no per-request task or body buffering, so feeds stay fast). The index
page loads only its own script, style sheet and icon, and fetches only this site's JSON
feed, so its Content-Security-Policy allows 'self' and nothing inline; feeds and JSON get a
policy that allows nothing at all (a feed opened in a browser runs no script).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.web.http_cache import NO_STORE
from core.web.openapi import error_body

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
# FastAPI's API docs (/docs, /redoc) load Swagger UI or ReDoc from a CDN and start it with an
# inline script; they show only the static OpenAPI schema, never stored text.
DOCS_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' https:; style-src 'unsafe-inline' https:; "
    "img-src 'self' https: data:; connect-src 'self'; worker-src blob:; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
MAX_PATH_BYTES = 1024  # the longest category or topic name is far shorter
# Per-parameter limits are in characters (core.web.routes); percent-encoded non-ASCII text takes up to
# 12 bytes a character, so the whole query string is capped in bytes, like servers and CDNs do.
MAX_QUERY_BYTES = 8192


class SecurityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_long = _too_long(scope)
        if too_long:
            await _refuse(too_long)(scope, receive, _with_headers(send))
            return
        await self.app(scope, receive, _with_headers(send, docs=scope["path"] in DOCS_PATHS))


def _too_long(scope: Scope) -> str:
    path = scope.get("raw_path") or scope["path"].encode()
    if len(path) > MAX_PATH_BYTES:
        return f"the path is {len(path)} bytes long; the limit is {MAX_PATH_BYTES}"
    if len(scope["query_string"]) > MAX_QUERY_BYTES:
        return f"the query string is {len(scope['query_string'])} bytes long; the limit is {MAX_QUERY_BYTES}"
    return ""


def _refuse(reason: str) -> JSONResponse:
    body = error_body(reason, "web", "shorten the URL: see the parameters in README.md")
    return JSONResponse(body, status_code=414, headers={"Cache-Control": NO_STORE})


def _with_headers(send: Send, docs: bool = False) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in HEADERS.items():
                headers.setdefault(name, value)
            html = headers.get("content-type", "").startswith("text/html")
            policy = DOCS_POLICY if docs else PAGE_POLICY if html else DATA_POLICY
            headers.setdefault("Content-Security-Policy", policy)
        await send(message)

    return send_with_headers
