"""HEAD on every GET route: the same status and headers as GET, and no body.

Readers and validators check a feed with HEAD before fetching it; FastAPI routes declared for
GET would answer 405. An ASGI middleware runs the GET and drops the body, so Content-Length,
ETag, Last-Modified and a 304 all come out exactly as a GET would give them.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACTIONS = "/api/cron/"


class HeadMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A cron job is an action, not a document: HEAD must not run it (405, as before).
        if scope["type"] != "http" or scope["method"] != "HEAD" or scope["path"].startswith(ACTIONS):
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the rest of a streamed body: nothing of it is sent
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
