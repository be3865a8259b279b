"""The response-cache policy: when an answer is served as already rendered, when it is
rendered, and what is served when the store fails.

Every feed and page is kept per URL and store version (core.web.response_cache). Feed routes
are async so that an answer already rendered for the current data goes out on the event loop
(a thread-pool hop costs as much as the rest of it): ``answer``. Anything that may read the
store or render runs in the thread pool: ``cached``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from contextlib import nullcontext

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from core.errors import StoreError
from core.web.context import Context
from core.web.http_cache import PUBLIC, STALE_IF_ERROR, negotiated_response
from core.web.response_cache import Rendered

log = logging.getLogger(__name__)

# Renders an answer from the store's version as just read (``Store.load_version``); the
# Rendered carries the version of the data it was made from.
Renderer = Callable[[str], Rendered]


async def answer(
    request: Request, ctx: Context, media_type: str, respond: Callable[[], Response], cache_control: str = PUBLIC
) -> Response:
    """The answer already rendered for this URL, on the event loop, if the version checked
    within the last second still holds; otherwise ``respond()``, in the thread pool (it may
    read the store and render)."""
    version = ctx.versions.fresh()
    kept = ctx.cache.get(_key(request), version) if version is not None else None
    if kept is not None:
        return _reply(request, kept, media_type, cache_control)
    return await run_in_threadpool(respond)


def cached(
    request: Request,
    ctx: Context,
    media_type: str,
    render: Renderer,
    *,
    costly: bool = False,
    vary: Hashable = None,
    cache_control: str = PUBLIC,
) -> Response:
    """``render(version)``'s answer, from the response cache while the store's version is
    unchanged. A ``costly`` render (it matches every stored paper) takes one of the instance's
    render slots (core.web.costly). ``vary``: what else than the URL the answer depends on.

    The entry is kept under the version ``render`` made it from, not the one it was given,
    so a save racing the render is never masked.
    """
    key = _key(request, vary)

    def make(current: str) -> Rendered:
        with ctx.costly.slot() if costly else nullcontext():
            return render(current)

    try:
        current = ctx.versions.current(ctx.store.load_version)
        rendered = ctx.cache.get_or_render(key, current, lambda: make(current))
    except StoreError as exc:
        # stale-if-error (RFC 5861): the last answer rendered for this URL beats a 503.
        stale = ctx.cache.get_any(key)
        if stale is None:
            raise
        log.warning("serving %s as last rendered: %s", request.url.path, exc.message)
        response = _reply(request, stale, media_type)
        response.headers["Cache-Control"] = STALE_IF_ERROR
        response.headers["X-Stale"] = "the store is unavailable; this is the last answer rendered"
        return response
    return _reply(request, rendered, media_type, cache_control)


def _key(request: Request, vary: Hashable = None) -> Hashable:
    """What a rendered answer is kept under: its URL, and what else it depends on."""
    return (str(request.url), vary)


def _reply(request: Request, rendered: Rendered, media_type: str, cache_control: str = PUBLIC) -> Response:
    gzipped, plain, last_modified, etag = rendered.gzipped, rendered.body, rendered.last_modified, rendered.etag
    return negotiated_response(request, gzipped, plain, media_type, last_modified, etag, cache_control=cache_control)
