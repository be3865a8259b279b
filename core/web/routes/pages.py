"""The pages: the index (the papers of the last refresh, subscribe links, a feed builder),
OPML of every feed, and the Markdown digest."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from core import schedule
from core.config import Config
from core.render import pages
from core.render.digest import DIGEST_TYPE, Section, render_digest
from core.render.opml import OPML_TYPE, render_opml
from core.selection.query import FeedQuery, parse_likes
from core.selection.select import select_for_you, select_papers
from core.selection.topics import topic_papers
from core.web.caching import cached
from core.web.context import Context, ContextDep
from core.web.http_cache import NO_STORE, conditional_response
from core.web.openapi import responses
from core.web.params import like_param
from core.web.response_cache import Rendered
from core.web.snapshot import Snapshot

FOR_YOU_ON_PAGE = 10  # papers in the page's "For you" (or "More like") section

router = APIRouter()


@router.get(
    "/",
    response_class=Response,
    responses=responses(pages.HTML_TYPE, 422, 503, description="The index page", page=True),
)
def index(
    request: Request,
    ctx: ContextDep,
    like: Annotated[str | None, like_param("arXiv ids: show the stored papers most like these")] = None,
) -> Response:
    """The index page: the papers of the last refresh (and those most like the liked ones),
    subscribe links and a feed builder."""
    if ctx.first_visit.due():
        return StreamingResponse(
            ctx.first_visit.stream(), media_type=pages.HTML_TYPE, headers={"Cache-Control": NO_STORE}
        )
    upcoming = schedule.next_refresh(datetime.now(UTC))
    wanted = parse_likes(like)
    render = partial(_render_index, request, ctx, wanted, upcoming)
    return cached(request, ctx, pages.HTML_TYPE, render, costly=bool(wanted), vary=upcoming)


@router.get(
    "/opml",
    name="opml",
    response_class=Response,
    responses=responses(OPML_TYPE, description="OPML 2.0 of every RSS feed"),
)
def opml(request: Request, ctx: ContextDep) -> Response:
    """OPML 2.0 of the RSS feeds to import at once: all categories, for you, the topics."""
    links = pages.opml_links(pages.feed_links(request, ctx.config))
    body = render_opml(ctx.config.title, [(f"{ctx.config.title}: {x.name}", x.rss, x.page) for x in links])
    return conditional_response(request, body, OPML_TYPE, None)


@router.get(
    "/digest.md",
    name="digest",
    response_class=Response,
    responses=responses(DIGEST_TYPE, 503, description="Markdown digest"),
)
def digest(request: Request, ctx: ContextDep) -> Response:
    """The daily Markdown digest: the ranked papers, each topic's, and those like the liked ones."""

    def render(current: str) -> Rendered:
        snapshot = ctx.papers.load(ctx.store, current)
        body = digest_of(snapshot, ctx.config).encode()
        return Rendered.of(body, snapshot.state.feeds_updated_at, snapshot.version)

    return cached(request, ctx, DIGEST_TYPE, render, costly=True)


router.add_api_route(
    "/digest",
    digest,
    name="digest_page",
    response_class=Response,
    responses=responses(DIGEST_TYPE, 503, description="Markdown digest"),
    summary="Digest",
)


def digest_of(snapshot: Snapshot, config: Config) -> str:
    """The digest of one store version (also ``python -m core digest``)."""
    papers = select_papers(snapshot.papers, config, index=snapshot.text_index)
    sections = []
    for topic in config.topics:
        likeness = snapshot.liked(topic.like).likeness if topic.like else None
        chosen = topic_papers(snapshot.papers, config, topic, likeness=likeness, index=snapshot.text_index)
        sections.append(Section(f"🏷️ Topic: {topic.title or topic.name}", chosen, "No papers in this topic yet."))
    if liked_ids := snapshot.liked_ids:
        liked = snapshot.liked(liked_ids)
        found = select_for_you(snapshot.papers, config, FeedQuery(limit=FOR_YOU_ON_PAGE), liked.likeness, liked_ids)
        sections.append(Section("✨ For you", found, "No stored paper is like the papers you like yet."))
    return render_digest(papers, config, snapshot.state, sections)


def _render_index(
    request: Request, ctx: Context, wanted: tuple[str, ...], upcoming: datetime, current: str
) -> Rendered:
    """The page of the ranked papers; with liked papers (config.json's, or ``wanted``), those
    most like them from every stored paper."""
    state, stored, version = ctx.store.load_feed(None, ctx.config.max_papers)
    papers = select_papers(stored, ctx.config)
    similar: pages.Similar | None = None
    if wanted or state.likes.count or state.likes.problem:
        snapshot = ctx.papers.load(ctx.store, current)
        liked_ids = wanted or snapshot.liked_ids
        liked = snapshot.liked(liked_ids)
        shown = FeedQuery(limit=FOR_YOU_ON_PAGE)
        found = select_for_you(snapshot.papers, ctx.config, shown, liked.likeness, liked_ids)
        problems = [state.likes.problem] if state.likes.problem and not wanted else []
        similar = pages.Similar(liked.papers if wanted else [], found, [*problems, *liked.notes])
    from core.summarize import status as summary_status  # here: not on a feed's path (bench/coldstart.py)

    summaries = summary_status(ctx.config.summary, ctx.settings).message
    page = pages.render_index(request, ctx.config, state, papers, summaries, upcoming, similar)
    return Rendered.of(page.encode(), state.feeds_updated_at, version)
