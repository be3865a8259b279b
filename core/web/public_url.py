"""Which address this service's own links use: PUBLIC_URL, or else the request's Host.

Feeds, OPML and the page carry absolute links to this service (self links, subscribe links,
icons). Built from the request's ``Host`` header, a request with a forged Host would put
another site's address into an answer the CDN then caches for everyone. With ``PUBLIC_URL``
(on Vercel: the production domain Vercel provides) every link uses that base whatever the
request said; without it, answers say ``Vary: Host`` so no cache hands one host's links to
another. An ASGI middleware, so every ``url_for`` and ``request.url`` follows it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PublicURLMiddleware:
    def __init__(self, app: ASGIApp, public_url: str | None) -> None:
        self.app = app
        self.public = urlsplit(public_url) if public_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.public is None:
            await self.app(scope, receive, _vary_host(send))
            return
        host = self.public.netloc.encode("latin-1")
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"host", b"x-forwarded-host")]
        scope = {
            **scope,
            "scheme": self.public.scheme,
            "server": (self.public.hostname, self.public.port or (443 if self.public.scheme == "https" else 80)),
            "headers": [(b"host", host), *headers],
            "root_path": self.public.path.rstrip("/"),
        }
        await self.app(scope, receive, send)


def _vary_host(send: Send) -> Send:
    async def send_with_vary(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            vary = headers.get("vary")
            headers["Vary"] = f"{vary}, Host" if vary else "Host"
        await send(message)

    return send_with_vary
