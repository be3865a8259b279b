"""HTML pages, rendered from Jinja2 templates with autoescaping (arXiv and model text is never trusted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup, escape
from starlette.requests import Request

from core.config import Config
from core.models import Paper, RefreshState
from core.render.feeds import alike, explain
from core.text.matching import compiled
from core.text.similarity import FLOOR

if TYPE_CHECKING:  # Jinja2 loads at the first page, the feedback pages at the first link (a cold start: neither)
    import jinja2

    from core.render.feedback import FeedbackPage, Learned

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Similar:
    """The page's "For you" section, or its "More like ..." section when ``liked`` is set."""

    liked: list[Paper]
    papers: list[Paper]
    notes: list[str] = field(default_factory=list)  # liked ids left out, and why


@dataclass(frozen=True)
class FeedLink:
    name: str
    rss: str
    atom: str
    json: str
    page: str
    kind: str  # "all", "for-you", "category" or "topic"
    path: str  # after the format: "", "/for-you", "/cs.AI", "/topic/agents" (for the feed builder)


def highlight(text: str, paper: Paper) -> Markup:
    """``text`` escaped, with the paper's matched keywords wrapped in <mark>."""
    spans: list[tuple[int, int]] = []
    for hit in paper.match.hits:
        if not (hit.in_title or hit.in_abstract):
            continue  # author and category hits are not in the text
        # Query hits are labelled with their field ("ti:kv cache"); the words follow the colon.
        words = hit.keyword if hit.field == "all" else hit.keyword.split(":", 1)[1]
        spans += compiled(words).spans(text)
    out, position = [], 0
    for start, end in sorted(spans):
        if start < position:
            continue  # overlapping matches: the first wins
        out += [str(escape(text[position:start])), f"<mark>{escape(text[start:end])}</mark>"]
        position = end
    out.append(str(escape(text[position:])))
    return Markup("".join(out))


@cache
def _environment() -> jinja2.Environment:
    import jinja2  # at the first page, not at a cold start that may only serve feeds

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["highlight"] = highlight
    env.filters["explain"] = explain
    env.filters["alike"] = alike
    return env


def feed_links(request: Request, config: Config, liking: bool = False) -> list[FeedLink]:
    """Every feed: all followed categories, for you (when anything is liked, or ``liking``
    from the feeds is on), each category, each topic."""
    home = str(request.url_for("index"))

    def link(label: str, kind: str, route: str, **params: str) -> FeedLink:
        rss, atom, json = (str(request.url_for(f"{fmt}{route}", **params)) for fmt in ("rss", "atom", "json"))
        path = request.app.url_path_for(f"rss{route}", **params).removeprefix("/rss")
        return FeedLink(label, rss, atom, json, home, kind, path)

    links = [link("All followed categories", "all", "")]
    if config.liked_ids or config.like_bibtex or config.zotero or liking:
        links.append(link("For you (like the papers you like)", "for-you", "_for_you"))
    links += [link(category, "category", "_category", category=category) for category in config.categories]
    links += [
        link(f"Topic: {topic.title or topic.name}", "topic", "_topic", name=topic.name) for topic in config.topics
    ]
    return links


def opml_links(links: list[FeedLink]) -> list[FeedLink]:
    """The feeds an OPML import subscribes to: all followed categories, for you and the topics.
    Not the category feeds: each is a slice of the feed of all categories, so beside it they
    would show each paper twice in a reader's list of everything; the page lists them."""
    return [link for link in links if link.kind != "category"]


def explain_failure(state: RefreshState, has_papers: bool) -> str:
    """What the page says when the last refresh failed, in words (the raw message is folded
    under it): the cause a user can act on, and what is shown meanwhile."""
    if "cannot reach arXiv (network or DNS)" in state.message:
        said = "This machine could not reach arXiv (network or DNS) at the last refresh."
        todo = "Run make refresh (or python -m core refresh) once it is online."
    else:
        said = "The last refresh failed."
        todo = "The next refresh tries again."
    shown = "The papers below are from the last good refresh." if has_papers else "There are no papers yet."
    return f"{said} {shown} {todo}"


def render_index(
    request: Request,
    config: Config,
    state: RefreshState,
    papers: list[Paper],
    summaries: str,
    next_refresh: datetime,
    similar: Similar | None = None,
    learned: Learned | None = None,
    liking: bool = False,
) -> str:
    """``liking``: the feeds carry Like links (the for-you feed is listed before anything is liked)."""
    template = _environment().get_template("index.html")
    return template.render(
        config=config,
        state=state,
        papers=papers,
        similar=similar,
        learned=learned,
        floor=FLOOR,
        links=feed_links(request, config, liking),
        summaries=summaries,
        failure=explain_failure(state, bool(papers)) if state.outcome == "error" else "",
        next_refresh=next_refresh,
        icon_url=str(request.url_for("static", path="icon.png")),
        script_url=str(request.url_for("static", path="app.js")),
        style_url=str(request.url_for("static", path="app.css")),
        opml_url=str(request.url_for("opml")),
        digest_url=str(request.url_for("digest")),
    )


def render_error_page(status: int, error: str, hint: str, home_url: str, style_url: str) -> str:
    """The HTML answer of an error on a page (feeds and JSON routes answer JSON)."""
    title = "Not found" if status == 404 else "Something is wrong" if status >= 500 else "That did not work"
    template = _environment().get_template("error.html")
    return template.render(status=status, title=title, error=error, hint=hint, home_url=home_url, style_url=style_url)


def render_feedback_page(page: FeedbackPage, home_url: str, icon_url: str, style_url: str) -> str:
    """The page a feed's Like or Not-for-me link opens (a form to confirm), and its answer."""
    template = _environment().get_template("feedback.html")
    return template.render(page=page, home_url=home_url, icon_url=icon_url, style_url=style_url)
