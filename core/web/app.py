"""The FastAPI app: thin routes that read the store and render feeds and pages.

Read-only: a reader's request never calls arXiv or an LLM. Errors are mapped to HTTP in one
place (``_app_error``), always as a short JSON message, never a stack trace.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import schedule, taxonomy
from core.config import Config, load_config
from core.errors import AppError, BusyError, NotFoundError, StoreError, UnauthorizedError
from core.models import Paper, RefreshState
from core.render import pages
from core.render.digest import DIGEST_TYPE, render_digest
from core.render.feeds import MEDIA_TYPES, Format, build_feed, render_feed
from core.render.opml import OPML_TYPE, render_opml
from core.selection.select import (
    LIKES_PATTERN,
    MAX_LIMIT,
    TERMS_PATTERN,
    TYPES_PATTERN,
    FeedQuery,
    Likeness,
    as_seen_in,
    parse_likes,
    select_for_you,
    select_papers,
)
from core.selection.topics import find_topic, topic_papers
from core.settings import Settings
from core.store import Store, open_store
from core.summarize import status as summary_status
from core.web import cron
from core.web.head import HeadMiddleware
from core.web.http_cache import NO_STORE, STALE_IF_ERROR, conditional_response, etag_of
from core.web.openapi import CronReport, EffectiveConfig, Health, HealthDown, error_body, responses
from core.web.paper_cache import PaperCache
from core.web.public_url import PublicURLMiddleware
from core.web.response_cache import Rendered, ResponseCache, VersionCheck
from core.web.security import SecurityMiddleware

log = logging.getLogger(__name__)

Renderer = Callable[[str], tuple[bytes, datetime | None, str]]
# Filtered and topic feeds match every stored paper when rendered: CPU work that, under the
# GIL, slows every other request. One instance renders at most this many at once.
COSTLY_RENDERS = 1
COSTLY_WAIT_S = 10.0
FOR_YOU_ON_PAGE = 10  # papers in the page's "For you" (or "More like") section
# How often Python hands the GIL to another thread (default 5 ms). A filtered render holds it
# for seconds of matching; at 0.5 ms a cached feed waits 3x its time behind one, not 19x
# (bench/starvation.py). Serving feeds is this process's only job, so it is set here.
SWITCH_INTERVAL_S = 0.0005


@dataclass(frozen=True)
class Context:
    settings: Settings
    config: Config
    store: Store
    cache: ResponseCache
    papers: PaperCache
    versions: VersionCheck
    costly: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(COSTLY_RENDERS))
    first_visit: threading.Lock = field(default_factory=threading.Lock)
    first_visit_checked: threading.Event = field(default_factory=threading.Event)

    def first_visit_refresh(self) -> None:
        """On the first page visit of a deployment that never refreshed (settings'
        ``first_visit_refresh``), run its first refresh before answering, once per instance.
        A failure is logged: the page then says why it is empty, and the cron tries again."""
        if not self.settings.first_visit_refresh or self.first_visit_checked.is_set():
            return
        with self.first_visit:
            if self.first_visit_checked.is_set():
                return
            self.first_visit_checked.set()
            state, count = self.store.load_status()
            if state.outcome != "never" or count:
                return
            log.info("first visit of a deployment that never refreshed: refreshing now")
            try:
                cron.first_refresh(self.settings, self.config, self.store)
            except AppError as exc:  # LockedError: another instance is at it
                log.warning("first refresh: %s", exc)
            self.versions.forget()


def create_app(
    settings: Settings | None = None, store: Store | None = None, clock: Callable[[], float] = time.monotonic
) -> FastAPI:
    """The app: its context (settings, config, store, caches), error handlers and routes.
    ``clock`` times the store's version checks (tests pass their own)."""
    settings = settings or Settings.from_env()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    config = load_config(settings.config_path)
    store = store or open_store(settings)
    ctx = Context(settings, config, store, ResponseCache(), PaperCache(), VersionCheck(clock=clock))
    app = FastAPI(title="arxiv-rss-bot", summary="Your arXiv categories, ranked by your keywords, as feeds.")
    app.state.ctx = ctx
    app.add_exception_handler(AppError, _app_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(SecurityMiddleware)
    app.add_middleware(PublicURLMiddleware, public_url=settings.public_url)
    app.add_middleware(HeadMiddleware)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    _add_page_routes(app, ctx)
    _add_feed_routes(app, ctx)
    _add_status_routes(app, ctx)
    _add_cron_routes(app, ctx)
    return app


def _add_page_routes(app: FastAPI, ctx: Context) -> None:
    """The index page, OPML and the Markdown digest."""

    @app.get("/", response_class=Response, responses=responses(pages.HTML_TYPE, 503, description="The index page"))
    def index(
        request: Request,
        like: Annotated[
            str | None,
            Query(
                max_length=600,
                json_schema_extra={"pattern": LIKES_PATTERN},
                description="arXiv ids: show the stored papers most like these",
            ),
        ] = None,
    ) -> Response:
        """The index page: the papers of the last refresh (and those most like the liked ones),
        subscribe links and a feed builder."""
        ctx.first_visit_refresh()
        upcoming = schedule.next_refresh(datetime.now(UTC))
        wanted = parse_likes(like)

        def render(current: str) -> tuple[bytes, datetime | None, str]:
            state, stored, version = ctx.store.load_feed(None, ctx.config.max_papers)
            papers = select_papers(stored, ctx.config)
            liked_ids = wanted or tuple(state.likes.ids)
            similar: pages.Similar | None = None
            if liked_ids:
                _, everything, _ = ctx.papers.load(ctx.store, current)
                likeness, liked = _liked(ctx, current, liked_ids)
                shown = FeedQuery(limit=FOR_YOU_ON_PAGE)
                found = select_for_you(everything, ctx.config, shown, likeness, liked_ids)
                similar = pages.Similar(liked if wanted else [], found)
            summaries = summary_status(ctx.config.summary, ctx.settings).message
            page = pages.render_index(request, ctx.config, state, papers, summaries, upcoming, similar)
            return page.encode(), state.feeds_updated_at, version

        return _cached(request, ctx, pages.HTML_TYPE, _costly(ctx, render) if wanted else render, vary=upcoming)

    @app.get(
        "/opml",
        name="opml",
        response_class=Response,
        responses=responses(OPML_TYPE, description="OPML 2.0 of every RSS feed"),
    )
    def opml(request: Request) -> Response:
        """OPML 2.0 listing every RSS feed, to import them all into a reader at once."""
        links = pages.feed_links(request, ctx.config)
        body = render_opml(ctx.config.title, [(f"{ctx.config.title}: {x.name}", x.rss, x.page) for x in links])
        return conditional_response(request, body, OPML_TYPE, None)

    @app.get(
        "/digest.md",
        name="digest",
        response_class=Response,
        responses=responses(DIGEST_TYPE, 503, description="Markdown digest"),
    )
    def digest(request: Request) -> Response:
        """The daily Markdown digest of the ranked papers."""

        def render(_: str) -> tuple[bytes, datetime | None, str]:
            state, stored, version = ctx.store.load_feed(None, ctx.config.max_papers)
            body = render_digest(select_papers(stored, ctx.config), ctx.config, state).encode()
            return body, state.feeds_updated_at, version

        return _cached(request, ctx, DIGEST_TYPE, render)


def _add_status_routes(app: FastAPI, ctx: Context) -> None:
    """/health and /config."""

    @app.get("/health", responses={200: {"model": Health}, 503: {"model": HealthDown}, **responses(None)})
    def health() -> JSONResponse:
        """Store reachability, the last refresh and the paper count; 503 when the store is down."""
        try:
            state, count = ctx.store.load_status()
        except StoreError as exc:
            down = {"status": "unavailable", "store": {"backend": ctx.store.name, "ok": False, "error": exc.message}}
            return JSONResponse(down, status_code=503, headers={"Retry-After": "60", "Cache-Control": NO_STORE})
        refresh = state.model_dump(mode="json", exclude={"etag", "last_modified", "last_request_at"})
        store = {"backend": ctx.store.name, "ok": True}
        status = summary_status(ctx.config.summary, ctx.settings)
        summaries = {"enabled": status.enabled, "status": status.message, "last_run": state.summary_message}
        body: dict[str, Any] = {"status": "ok", "store": store, "papers": count, "refresh": refresh}
        body["summaries"] = summaries
        return JSONResponse(body, headers={"Cache-Control": NO_STORE})

    @app.get("/config", responses={200: {"model": EffectiveConfig}, **responses(None)})
    def show_config() -> JSONResponse:
        """The effective configuration; secrets only say whether they are set."""
        body = {"config": ctx.config.model_dump(mode="json"), "settings": ctx.settings.describe()}
        return JSONResponse(body, headers={"Cache-Control": NO_STORE})


def _add_cron_routes(app: FastAPI, ctx: Context) -> None:
    """The two cron jobs, behind the bearer secret."""

    @app.get("/api/cron/refresh", responses={200: {"model": CronReport}, **responses(None, 401, 409, 422, 503)})
    def cron_refresh(authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
        """Run the daily refresh: Vercel Cron, or the owner, with Authorization: Bearer $CRON_SECRET."""
        cron.authorize(authorization, ctx.settings.cron_secret)
        try:
            body = cron.refresh_job(ctx.settings, ctx.config, ctx.store)
        finally:
            ctx.versions.forget()  # this instance wrote: its next request reads the version anew
        return JSONResponse(body, headers={"Cache-Control": NO_STORE})

    @app.get("/api/cron/summarize", responses={200: {"model": CronReport}, **responses(None, 401, 409, 422, 503)})
    def cron_summarize(authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
        """Continue the AI summaries a refresh left queued; the same bearer secret."""
        cron.authorize(authorization, ctx.settings.cron_secret)
        try:
            body = cron.summarize_job(ctx.settings, ctx.config, ctx.store)
        finally:
            ctx.versions.forget()
        return JSONResponse(body, headers={"Cache-Control": NO_STORE})


FORMATS: tuple[tuple[Format, str], ...] = (("rss", "RSS 2.0"), ("atom", "Atom 1.0"), ("json", "JSON Feed 1.1"))


def _add_feed_routes(app: FastAPI, ctx: Context) -> None:
    """/{rss,atom,json}, /{fmt}/{category} and /{fmt}/topic/{name}: one handler each, per format."""
    for fmt, label in FORMATS:
        documented = responses(MEDIA_TYPES[fmt], 404, 422, 503, description=f"{label} feed")
        routes = (
            (f"/{fmt}", _combined_route, fmt, "all followed categories"),
            (f"/{fmt}/topic/{{name}}", _topic_route, f"{fmt}_topic", "one topic"),
            (f"/{fmt}/for-you", _for_you_route, f"{fmt}_for_you", "the papers most like the ones you like"),
            (f"/{fmt}/{{category}}", _category_route, f"{fmt}_category", "one followed category"),
        )
        for path, route, name, scope in routes:
            app.add_api_route(
                path,
                route(ctx, fmt),
                name=name,
                summary=f"{label} feed of {scope}",
                response_class=Response,
                responses=documented,
            )


# Feed routes are async so that an answer already rendered for the current data goes out on
# the event loop (a thread-pool hop costs as much as the rest of it); anything that may read
# the store or render runs in the thread pool.


def _combined_route(ctx: Context, fmt: Format) -> Callable[..., Awaitable[Response]]:
    async def route(request: Request, query: Annotated[FeedQuery, Depends(feed_query)]) -> Response:
        return await _answer(request, ctx, fmt, _feed, None, query)

    return route


def _category_route(ctx: Context, fmt: Format) -> Callable[..., Awaitable[Response]]:
    async def route(request: Request, category: str, query: Annotated[FeedQuery, Depends(feed_query)]) -> Response:
        return await _answer(request, ctx, fmt, _feed, category, query)

    return route


def _for_you_route(ctx: Context, fmt: Format) -> Callable[..., Awaitable[Response]]:
    async def route(request: Request, query: Annotated[FeedQuery, Depends(feed_query)]) -> Response:
        return await _answer(request, ctx, fmt, _for_you_feed, None, query)

    return route


def _topic_route(ctx: Context, fmt: Format) -> Callable[..., Awaitable[Response]]:
    async def route(request: Request, name: str, query: Annotated[FeedQuery, Depends(feed_query)]) -> Response:
        return await _answer(request, ctx, fmt, _topic_feed, name, query)

    return route


async def _answer(
    request: Request, ctx: Context, fmt: Format, feed: Callable[..., Response], scope: str | None, query: FeedQuery
) -> Response:
    """The answer already rendered for this URL, on the event loop, if the version checked
    within the last second still holds; otherwise ``feed``, in the thread pool (it may read
    the store and render)."""
    version = ctx.versions.fresh()
    kept = ctx.cache.get(_cache_key(request), version) if version is not None else None
    if kept is not None:
        return conditional_response(request, kept.body, MEDIA_TYPES[fmt], kept.last_modified, kept.etag)
    return await run_in_threadpool(feed, request, ctx, fmt, scope, query)


def _cache_key(request: Request, vary: Hashable = None) -> Hashable:
    """What a rendered answer is kept under: its URL, and what else it depends on."""
    return (str(request.url), vary)


def _terms(description: str) -> Any:
    """A comma-separated list of terms, with its limits published in the OpenAPI schema."""
    return Query(max_length=2000, json_schema_extra={"pattern": TERMS_PATTERN}, description=description)


async def feed_query(  # async: pure parsing, no reason to hop to the thread pool
    keywords: Annotated[str | None, _terms("Comma-separated keywords or phrases; replaces config.json's")] = None,
    exclude: Annotated[str | None, _terms("Comma-separated exclusions, added")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1000, allow_inf_nan=False, description="Minimum score")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000, description=f"Most items (capped at {MAX_LIMIT})")] = None,
    type: Annotated[  # noqa: A002 - the public parameter is called "type"
        str | None,
        Query(
            max_length=200,
            json_schema_extra={"pattern": TYPES_PATTERN},
            description="Comma-separated announce types: new, cross, replace, replace-cross",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=1000, description='arXiv-style query: ti:, abs:, au:, cat:, "phrases", AND, OR, ANDNOT, ( )'),
    ] = None,
    like: Annotated[
        str | None,
        Query(
            max_length=600,
            json_schema_extra={"pattern": LIKES_PATTERN},
            description="Comma-separated arXiv ids: rank by similarity to these papers",
        ),
    ] = None,
) -> FeedQuery:
    return FeedQuery.from_params(keywords, exclude, min_score, limit, type, q, like)


def _feed(request: Request, ctx: Context, fmt: Format, category: str | None, query: FeedQuery) -> Response:
    if category is not None and category not in ctx.config.categories:
        raise _unknown_category(category, ctx.config.categories)

    def render(current: str) -> tuple[bytes, datetime | None, str]:
        if query.only_limits:  # a prefix of the stored, ranked list is all it shows
            state, stored, version = ctx.store.load_feed(category, query.limit or ctx.config.max_papers)
        else:  # a filter may keep any stored paper
            state, stored, version = ctx.papers.load(ctx.store, current)
            stored = [p for p in stored if category in p.listed_in] if category else stored
            query.check_cost(len(stored))
        likeness = _liked(ctx, current, query.like)[0] if query.like else None
        index = None if query.only_limits else ctx.papers.text_index(ctx.store, current)
        chosen = as_seen_in(stored, category) if category else stored
        papers = select_papers(chosen, ctx.config, query, likeness, index)
        return *_render(request, ctx, fmt, papers, state, category or ", ".join(ctx.config.categories)), version

    return _cached(request, ctx, MEDIA_TYPES[fmt], render if query.only_limits else _costly(ctx, render))


def _cached(
    request: Request,
    ctx: Context,
    media_type: str,
    render: Renderer,
    vary: Hashable = None,
) -> Response:
    """``render(version)``'s bytes, from the response cache while the store's version is unchanged.

    ``render`` gets the version just read, and returns the body, its Last-Modified and the
    version of the data it was made from; the entry is kept under that version, so a save
    racing the render is never masked.
    """
    key = _cache_key(request, vary)

    def make(current: str) -> tuple[Rendered, str]:
        body, last_modified, version = render(current)
        return Rendered(body, etag_of(body), last_modified), version

    try:
        current = ctx.versions.current(ctx.store.load_version)
        rendered = ctx.cache.get_or_render(key, current, lambda: make(current))
    except StoreError as exc:
        # stale-if-error (RFC 5861): the last answer rendered for this URL beats a 503.
        stale = ctx.cache.get_any(key)
        if stale is None:
            raise
        log.warning("serving %s as last rendered: %s", request.url.path, exc.message)
        response = conditional_response(request, stale.body, media_type, stale.last_modified, stale.etag)
        response.headers["Cache-Control"] = STALE_IF_ERROR
        response.headers["X-Stale"] = "the store is unavailable; this is the last answer rendered"
        return response
    return conditional_response(request, rendered.body, media_type, rendered.last_modified, rendered.etag)


def _costly(ctx: Context, render: Renderer) -> Renderer:
    """``render`` run under the instance's cap on filtered renders at once: a burst of costly
    requests queues here (or gets a 503) while cached answers keep flowing."""

    def bounded(current: str) -> tuple[bytes, datetime | None, str]:
        if not ctx.costly.acquire(timeout=COSTLY_WAIT_S):
            raise BusyError(
                "too many filtered feeds are being rendered at once",
                "retry in a few seconds; unfiltered feeds answer now",
            )
        try:
            return render(current)
        finally:
            ctx.costly.release()

    return bounded


def _render(
    request: Request, ctx: Context, fmt: Format, papers: list[Paper], state: RefreshState, scope: str
) -> tuple[bytes, datetime | None]:
    feed = build_feed(
        papers,
        title=f"{ctx.config.title}: {scope}",
        description=f"New arXiv papers in {scope}, ranked by your keywords",
        link=str(request.url_for("index")),
        self_url=str(request.url),
        updated=state.feeds_updated_at,
        icon_url=str(request.url_for("static", path="icon.png")),
    )
    return render_feed(feed, fmt), state.feeds_updated_at


def _topic_feed(request: Request, ctx: Context, fmt: Format, name: str, query: FeedQuery) -> Response:
    topic = find_topic(ctx.config, name)

    def render(current: str) -> tuple[bytes, datetime | None, str]:
        state, stored, version = ctx.papers.load(ctx.store, current)
        query.check_cost(len(stored))
        liked = query.like or tuple(topic.like)
        likeness = _liked(ctx, current, liked)[0] if liked else None
        index = ctx.papers.text_index(ctx.store, current)
        papers = topic_papers(stored, ctx.config, topic, query, likeness, index)
        return *_render(request, ctx, fmt, papers, state, topic.title or topic.name), version

    return _cached(request, ctx, MEDIA_TYPES[fmt], _costly(ctx, render))


def _for_you_feed(request: Request, ctx: Context, fmt: Format, _: None, query: FeedQuery) -> Response:
    def render(current: str) -> tuple[bytes, datetime | None, str]:
        state, stored, version = ctx.papers.load(ctx.store, current)
        liked = query.like or tuple(state.likes.ids)
        if not liked:
            raise NotFoundError(
                "no liked papers yet", 'add "like": ["2411.17775", ...] to config.json, or ask with ?like=2411.17775'
            )
        papers = select_for_you(stored, ctx.config, query, _liked(ctx, current, liked)[0], liked)
        return *_render(request, ctx, fmt, papers, state, "for you"), version

    return _cached(request, ctx, MEDIA_TYPES[fmt], _costly(ctx, render))


def _liked(ctx: Context, current: str, ids: Sequence[str]) -> tuple[Likeness, list[Paper]]:
    """How like a paper is to the papers of ``ids``, and those papers (the configured liked
    papers are found in the cache; others in the store, or asked of the arXiv API once)."""
    state, stored, _ = ctx.papers.load(ctx.store, current)
    configured, index = ctx.papers.liked_and_index(ctx.store, current)
    if state.likes.model == "embeddings" and list(ids) == state.likes.ids:  # ranked by the refresh
        return (lambda paper: paper.for_you), configured
    known = {p.id: p for p in configured}
    if all(i in known for i in ids):
        liked = [known[i] for i in ids]
    else:
        from core.refresh import likes  # httpx and the arXiv client: only when a ?like= names other papers

        liked = likes.for_request(ids, stored, ctx.store, ctx.settings, ctx.config.categories)
    liked_set = index.liked(liked)
    return (lambda paper: index.similar(paper, liked_set)), liked


def _unknown_category(category: str, followed: list[str]) -> NotFoundError:
    if taxonomy.is_known(category):
        message = f"category {category!r} is not followed by this service"
        hint = "add it to categories in config.json, or use one of the categories listed"
    else:
        guess = taxonomy.suggest(category)
        message = f"{category!r} is not an arXiv category" + (f" (did you mean {guess!r}?)" if guess else "")
        hint = "use one of the categories listed"
    return NotFoundError(message, hint, categories=followed)


def _app_error(request: Request, exc: AppError) -> JSONResponse:
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


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    name = str(first["loc"][-1]) if first.get("loc") else "request"
    message = f"parameter {name!r}: {first.get('msg', 'is invalid')}"
    body = error_body(message, "query", "see the parameters in README.md")
    return JSONResponse(body, 422, headers={"Cache-Control": NO_STORE})


def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Routing errors (no such path, a method other than GET) in the same shape as every error."""
    if exc.status_code == 404:
        body = error_body(f"there is no page at {request.url.path!r}", "web", "the index page / lists every feed")
    else:
        body = error_body(f"{request.method} is not allowed here ({exc.detail})", "web", "every route answers GET")
    headers = {**(exc.headers or {}), "Cache-Control": NO_STORE}
    return JSONResponse(body, exc.status_code, headers=headers)


def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return JSONResponse(error_body("internal error", "web"), 500, headers={"Cache-Control": NO_STORE})
