"""The app factory: settings, config and store, the context every route reads, the
middleware, the error handlers and the routers (core.web.routes).

A reader's request calls no LLM and reads the store (core.web says when it asks arXiv).
Errors are mapped to HTTP in one place (core.web.errors), always as a short JSON message,
never a stack trace.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from core.config import load_config
from core.render import pages as page_render
from core.settings import Settings
from core.store import Store, open_store
from core.web.context import Context
from core.web.errors import add_error_handlers
from core.web.head import HeadMiddleware
from core.web.public_url import PublicURLMiddleware
from core.web.routes import cron, feedback, feeds, pages, status
from core.web.security import SecurityMiddleware

# How often Python hands the GIL to another thread (default 5 ms). A filtered render holds it
# for seconds of matching; at 0.5 ms a cached feed waits 3x its time behind one, not 19x
# (bench/starvation.py). Serving feeds is this process's only job, so it is set here.
SWITCH_INTERVAL_S = 0.0005


def create_app(
    settings: Settings | None = None, store: Store | None = None, clock: Callable[[], float] = time.monotonic
) -> FastAPI:
    """The app: its context (settings, config, store, caches), error handlers and routes.
    ``clock`` times the store's version checks (tests pass their own)."""
    settings = settings or Settings.from_env()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    config = load_config(settings.config_path)
    app = FastAPI(title="arxiv-rss-bot", summary="Your arXiv categories, ranked by your keywords, as feeds.")
    app.state.ctx = Context.open(settings, config, store or open_store(settings), clock)
    add_error_handlers(app)
    app.add_middleware(SecurityMiddleware)
    app.add_middleware(PublicURLMiddleware, public_url=settings.public_url)
    app.add_middleware(HeadMiddleware)
    app.mount("/static", StaticFiles(directory=page_render.STATIC), name="static")
    for routes in (pages, feeds, status, cron, feedback):
        app.include_router(routes.router)
    return app
