"""The app factory: settings, config and store, the context every route reads, the
middleware, the error handlers and the routers (core.web.routes).

A reader's request calls no LLM and reads the store (core.web says when it asks arXiv).
Errors are mapped to HTTP in one place (core.web.errors), always as a short JSON message,
never a stack trace.

Bad settings or a config.json that does not load never crash the import (on Vercel that is a
bare FUNCTION_INVOCATION_FAILED on every request): the app then answers every route 503 with
the error and its fix. The Vercel build refuses such a config.json first (``python -m core
check`` in vercel.json), so this is the last line, for an environment variable set later.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from core.config import load_config
from core.errors import AppError
from core.render import pages as page_render
from core.settings import Settings
from core.store import Store, open_store
from core.web.context import Context
from core.web.errors import add_error_handlers, unavailable
from core.web.head import HeadMiddleware
from core.web.openapi import document
from core.web.public_url import PublicURLMiddleware
from core.web.routes import cron, feeds, pages, status
from core.web.security import SecurityMiddleware

log = logging.getLogger(__name__)

# How often Python hands the GIL to another thread (default 5 ms). A filtered render holds it
# for seconds of matching; at 0.5 ms a cached feed waits 3x its time behind one, not 19x
# (bench/starvation.py). Serving feeds is this process's only job, so it is set here.
SWITCH_INTERVAL_S = 0.0005


def create_app(
    settings: Settings | None = None, store: Store | None = None, clock: Callable[[], float] = time.monotonic
) -> FastAPI:
    """The app: its context (settings, config, store, caches), error handlers and routes.
    ``clock`` times the store's version checks (tests pass their own)."""
    try:
        settings = settings or Settings.from_env()
        config = load_config(settings.config_path)
    except AppError as exc:
        return create_unavailable_app(exc)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = FastAPI(title="arxiv-rss-bot", summary="Your arXiv categories, ranked by your keywords, as feeds.")
    app.state.ctx = Context.open(settings, config, store or open_store(settings), clock)
    document(app)
    add_error_handlers(app)
    app.add_middleware(SecurityMiddleware)
    app.add_middleware(PublicURLMiddleware, public_url=settings.public_url)
    app.add_middleware(HeadMiddleware)
    app.mount("/static", StaticFiles(directory=page_render.STATIC), name="static")
    for routes in (pages, feeds, status, cron):
        app.include_router(routes.router)
    return app


def create_unavailable_app(error: AppError) -> FastAPI:
    """An app that answers every path and method 503 with ``error`` and its hint (HTML to a
    browser, JSON to feed readers and scripts), for settings or a config.json that do not load."""
    log.error("not serving: %s", error)
    app = FastAPI(title="arxiv-rss-bot (not configured)", openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(SecurityMiddleware)
    app.add_middleware(HeadMiddleware)

    async def answer(request: Request) -> Response:
        return unavailable(request, error)

    app.add_route("/{path:path}", answer, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    return app
