"""The pages: the index (the papers of the last refresh, subscribe links, a feed builder),
OPML of every feed, and the Markdown digest."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from core import schedule
from core.config import Config
from core.models import Opinion, Paper
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
from core.web.routes.feedback import item_links
from core.web.signing import feedback_key
from core.web.snapshot import Snapshot

if TYPE_CHECKING:
    from core.render.feedback import Learned

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
    links = pages.opml_links(pages.feed_links(request, ctx.config, feedback_key(ctx.settings) is not None))
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
    liked = snapshot.for_you()  # the liked set and the feeds' feedback, as the for-you feed
    if snapshot.liked_ids or liked.papers:
        shown = FeedQuery(limit=FOR_YOU_ON_PAGE)
        found = select_for_you(snapshot.papers, config, shown, liked.likeness, snapshot.left_out(liked))
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
    learned: Learned | None = None
    shown = FeedQuery(limit=FOR_YOU_ON_PAGE)
    if wanted:
        snapshot = ctx.papers.load(ctx.store, current)
        liked = snapshot.liked(wanted)
        found = select_for_you(snapshot.papers, ctx.config, shown, liked.likeness, wanted)
        similar = pages.Similar(liked.papers, found, liked.notes)
    elif state.likes.count or state.likes.problem or _given(ctx):
        snapshot = ctx.papers.load(ctx.store, current)
        liked = snapshot.for_you()
        found = select_for_you(snapshot.papers, ctx.config, shown, liked.likeness, snapshot.left_out(liked))
        problems = [state.likes.problem] if state.likes.problem else []
        if liked.papers or problems or liked.notes:
            similar = pages.Similar([], found, [*problems, *liked.notes])
        learned = _learned(request, ctx, snapshot, liked.papers)
    from core.summarize import status as summary_status  # here: not on a feed's path (bench/coldstart.py)

    summaries = summary_status(ctx.config.summary, ctx.settings).message
    liking = feedback_key(ctx.settings) is not None
    page = pages.render_index(request, ctx.config, state, papers, summaries, upcoming, similar, learned, liking)
    return Rendered.of(page.encode(), state.feeds_updated_at, version)


def _learned(request: Request, ctx: Context, snapshot: Snapshot, liked: list[Paper]) -> Learned | None:
    """The page's "What it learned": the liked papers by source, and the feeds' opinions with a
    signed undo each; None when nothing is liked or disliked."""
    feedback = snapshot.feedback
    if not liked and not feedback.opinions:
        return None
    links = item_links(request, ctx)
    zotero = set(ctx.store.load_zotero().ids.values()) if ctx.config.zotero else set()

    def undo(opinion: Opinion) -> str:
        if links is None:
            return ""
        made = links(opinion.as_paper())
        return made.like if opinion.action == "like" else made.dislike

    from core.render.feedback import build_learned  # here: a page with nothing liked needs none of it

    config_ids = set(ctx.config.liked_ids)
    configured = [p for p in liked if p.id in config_ids or feedback.opinion(p.id) is None]  # not the feeds' own
    return build_learned(configured, config_ids, zotero, feedback, undo)


def _given(ctx: Context) -> bool:
    """Whether readers gave any opinion from the feeds (one small read; none without signed links),
    so that a page with nothing liked does not read every stored paper."""
    return feedback_key(ctx.settings) is not None and bool(ctx.store.load_feedback().opinions)
