"""The feeds: /{rss,atom,json}, /{fmt}/{category}, /{fmt}/topic/{name} and /{fmt}/for-you, one
route each per format, and what each renders from one snapshot of the store.

Feed routes are async (core.web.caching): an answer already rendered for the current data
goes out on the event loop; the renders below run in the thread pool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from functools import partial
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from core import taxonomy
from core.errors import NotFoundError
from core.models import Paper, RefreshState
from core.render.feeds import MEDIA_TYPES, Format, build_feed, render_feed
from core.selection.indexed import find, search_of
from core.selection.query import FeedQuery
from core.selection.select import as_seen_in, select_for_you, select_papers
from core.selection.topics import find_topic, topic_papers, topic_query
from core.text.words import followed_tokens
from core.web.caching import answer, cached
from core.web.context import Context, ContextDep
from core.web.http_cache import LEARNING, PUBLIC
from core.web.openapi import responses
from core.web.params import FeedQueryDep
from core.web.response_cache import Rendered
from core.web.routes.feedback import item_links
from core.web.signing import feedback_key
from core.web.snapshot import Liked, Snapshot

FORMATS: tuple[tuple[Format, str], ...] = (("rss", "RSS 2.0"), ("atom", "Atom 1.0"), ("json", "JSON Feed 1.1"))
Route = Callable[..., Awaitable[Response]]


def _combined_route(fmt: Format) -> Route:
    async def route(request: Request, ctx: ContextDep, query: FeedQueryDep) -> Response:
        return await answer(request, ctx, MEDIA_TYPES[fmt], lambda: category_feed(request, ctx, fmt, None, query))

    return route


def _category_route(fmt: Format) -> Route:
    async def route(request: Request, ctx: ContextDep, category: str, query: FeedQueryDep) -> Response:
        return await answer(request, ctx, MEDIA_TYPES[fmt], lambda: category_feed(request, ctx, fmt, category, query))

    return route


def _topic_route(fmt: Format) -> Route:
    async def route(request: Request, ctx: ContextDep, name: str, query: FeedQueryDep) -> Response:
        return await answer(request, ctx, MEDIA_TYPES[fmt], lambda: topic_feed(request, ctx, fmt, name, query))

    return route


def _for_you_route(fmt: Format) -> Route:
    async def route(request: Request, ctx: ContextDep, query: FeedQueryDep) -> Response:
        respond = partial(for_you_feed, request, ctx, fmt, query)
        return await answer(request, ctx, MEDIA_TYPES[fmt], respond, _for_you_caching(ctx))

    return route


def _feed_router() -> APIRouter:
    router = APIRouter()
    for fmt, label in FORMATS:
        documented = responses(MEDIA_TYPES[fmt], 404, 422, 503, description=f"{label} feed")
        for path, route, name, scope in (
            (f"/{fmt}", _combined_route, fmt, "all followed categories"),
            (f"/{fmt}/topic/{{name}}", _topic_route, f"{fmt}_topic", "one topic"),
            (f"/{fmt}/for-you", _for_you_route, f"{fmt}_for_you", "the papers most like the ones you like"),
            (f"/{fmt}/{{category}}", _category_route, f"{fmt}_category", "one followed category"),  # after for-you
        ):
            router.add_api_route(
                path,
                route(fmt),
                name=name,
                summary=f"{label} feed of {scope}",
                response_class=Response,
                responses=documented,
            )
    return router


router = _feed_router()


def category_feed(request: Request, ctx: Context, fmt: Format, category: str | None, query: FeedQuery) -> Response:
    """The feed of one followed category, or of all of them (``category`` None)."""
    if category is not None and category not in ctx.config.categories:
        raise _unknown_category(category, ctx.config.categories)
    scope = category or ", ".join(ctx.config.categories)

    def select(papers: list[Paper]) -> list[Paper]:
        return select_papers(as_seen_in(papers, category) if category else papers, ctx.config, query)

    def render(current: str) -> Rendered:
        notes: list[str] = []
        within = (f"f:{category}",) if category else ()
        if query.only_limits:  # a prefix of the stored, ranked list is all it shows
            state, stored, version = ctx.store.load_feed(category, query.limit or ctx.config.max_papers)
            likeness, index = None, None
        elif (found := _searched(ctx, current, query, select, within, crossed=bool(category))) is not None:
            state, papers, version = found  # only the papers its words may match were read
            return _document(request, ctx, fmt, papers, state, scope, version, category or "", notes)
        else:  # a filter may keep any stored paper
            snapshot = ctx.papers.load(ctx.store, current)
            state, stored, version = snapshot.state, snapshot.papers, snapshot.version
            stored = [p for p in stored if category in p.listed_in] if category else stored
            query.check_cost(len(stored))
            liked = _liked(snapshot, query.like)
            likeness, notes, index = (
                liked.likeness if liked else None,
                liked.notes if liked else [],
                snapshot.text_index,
            )
        chosen = as_seen_in(stored, category) if category else stored
        papers = select_papers(chosen, ctx.config, query, likeness, index)
        return _document(request, ctx, fmt, papers, state, scope, version, category or "", notes)

    return cached(request, ctx, MEDIA_TYPES[fmt], render, costly=not query.only_limits)


def topic_feed(request: Request, ctx: Context, fmt: Format, name: str, query: FeedQuery) -> Response:
    """The feed of one topic of config.json."""
    topic = find_topic(ctx.config, name)

    def select(papers: list[Paper]) -> list[Paper]:
        return topic_papers(papers, ctx.config, topic, query)

    def render(current: str) -> Rendered:
        scope = topic.title or topic.name
        followed = topic.categories or ctx.config.categories
        if (found := _searched(ctx, current, topic_query(topic, query), select, followed=followed)) is not None:
            state, papers, version = found
            return _document(request, ctx, fmt, papers, state, scope, version, f"topic-{topic.name}")
        snapshot = ctx.papers.load(ctx.store, current)
        query.check_cost(len(snapshot.papers))
        liked = _liked(snapshot, query.like or tuple(topic.like))
        likeness = liked.likeness if liked else None
        papers = topic_papers(snapshot.papers, ctx.config, topic, query, likeness, snapshot.text_index)
        notes = liked.notes if liked else []
        return _document(
            request, ctx, fmt, papers, snapshot.state, scope, snapshot.version, f"topic-{topic.name}", notes
        )

    return cached(request, ctx, MEDIA_TYPES[fmt], render, costly=True)


def for_you_feed(request: Request, ctx: Context, fmt: Format, query: FeedQuery) -> Response:
    """The stored papers most like the liked ones (config.json's, or the request's ``?like=``)."""

    def render(current: str) -> Rendered:
        snapshot = ctx.papers.load(ctx.store, current)
        if query.like:
            liked, ids = snapshot.liked(query.like), query.like
        else:  # the liked set and the feeds' feedback; neither liked nor disliked papers are listed
            liked = snapshot.for_you()
            ids = snapshot.left_out(liked)
        notes = liked.notes
        if not (query.like or snapshot.liked_ids or liked.papers):
            if feedback_key(ctx.settings) is not None:  # subscribed to before the first Like: it fills as you like
                notes = [*notes, 'nothing liked yet: press "Like" on an item of any feed']
            else:
                raise NotFoundError(
                    "no liked papers yet",
                    'add "like": ["2411.17775", ...] to config.json, press "Like" on a feed item,'
                    " or ask with ?like=2411.17775",
                )
        papers = select_for_you(snapshot.papers, ctx.config, query, liked.likeness, ids)
        return _document(request, ctx, fmt, papers, snapshot.state, "for you", snapshot.version, "for-you", notes)

    return cached(request, ctx, MEDIA_TYPES[fmt], render, costly=True, cache_control=_for_you_caching(ctx))


def _searched(
    ctx: Context,
    current: str,
    query: FeedQuery,
    select: Callable[[list[Paper]], list[Paper]],
    within: tuple[str, ...] = (),
    crossed: bool = False,
    followed: Iterable[str] = (),
) -> tuple[RefreshState, list[Paper], str] | None:
    """A filtered feed's papers found through the store's word index (core.selection.indexed),
    with the refresh state and version; None when the index cannot answer (then every stored
    paper is read). ``within``: the tokens of the papers the feed lists; ``followed``: the
    categories a topic lists."""
    if (search := search_of(query, ctx.config)) is None:
        return None
    if (reader := ctx.words.reader(ctx.store, current)) is None:
        return None
    query.check_cost(reader.count)
    within = within or followed_tokens(followed, reader.categories)
    papers = find(replace(search, within=within, crossed=crossed), reader, select)
    if papers is None:
        return None
    state, _, version = ctx.store.load_feed(None, 0)
    return state, papers, version


def _for_you_caching(ctx: Context) -> str:
    """A reader's Like changes the for-you feed: with feedback links on, a CDN keeps it briefly."""
    return LEARNING if feedback_key(ctx.settings) is not None else PUBLIC


def _liked(snapshot: Snapshot, ids: tuple[str, ...]) -> Liked | None:
    return snapshot.liked(ids) if ids else None


def _document(
    request: Request,
    ctx: Context,
    fmt: Format,
    papers: list[Paper],
    state: RefreshState,
    scope: str,
    version: str,
    feed_key: str,
    notes: list[str] | None = None,
) -> Rendered:
    """The feed document; ``notes`` (liked ids left out, and why) end its description."""
    said = "".join(f". Note: {note}" for note in notes or [])
    feed = build_feed(
        papers,
        title=f"{ctx.config.title}: {scope}",
        description=f"New arXiv papers in {scope}, ranked by your keywords{said}",
        link=str(request.url_for("index")),
        self_url=str(request.url),
        updated=state.feeds_updated_at,
        icon_url=str(request.url_for("static", path="icon.png")),
        scope=_guid_scope(feed_key, request),
        links=item_links(request, ctx),
    )
    return Rendered.of(render_feed(feed, fmt), state.feeds_updated_at, version)


def _guid_scope(feed_key: str, request: Request) -> str:
    """What tells this feed's guids from another's (core.render.feeds.guid): the feed, and its
    filters (a built feed beside the plain one must not lose its items to it); a limit only
    shortens a feed, so it does not count."""
    filters = sorted((k, v) for k, v in request.query_params.multi_items() if k != "limit")
    if not filters:
        return feed_key
    digest = hashlib.sha256(urlencode(filters).encode()).hexdigest()[:8]
    return f"{feed_key or 'all'}-{digest}"


def _unknown_category(category: str, followed: list[str]) -> NotFoundError:
    if taxonomy.is_known(category):
        message = f"category {category!r} is not followed by this service"
        hint = "add it to categories in config.json, or use one of the categories listed"
    else:
        message = f"{category!r} is not an arXiv category{taxonomy.did_you_mean(category)}"
        hint = "use one of the categories listed"
    return NotFoundError(message, hint, categories=followed)
