"""Feeds: one neutral ``Feed`` built from papers, one place that renders RSS 2.0 or Atom.

Rendering is pure and deterministic: the same papers and the same refresh time give the same
bytes (and so the same ETag). Every text is cleaned of XML-illegal characters before it
reaches feedgen, which refuses them.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from feedgen.feed import FeedGenerator

from core.models import Paper
from core.text import clean_text, strip_illegal

Format = Literal["rss", "atom"]
MEDIA_TYPES: dict[str, str] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
}
GENERATOR = "arxiv-rss-bot"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedItem:
    id: str  # the version-less abstract URL: stable across versions, so no reader shows a paper twice
    title: str
    link: str
    authors: list[str]
    categories: list[str]
    published: datetime
    updated: datetime
    content_html: str


@dataclass(frozen=True)
class Feed:
    title: str
    description: str
    link: str  # the HTML page
    self_url: str  # this feed, with its query string
    updated: datetime
    items: list[FeedItem]


def build_feed(
    papers: Iterable[Paper], *, title: str, description: str, link: str, self_url: str, updated: datetime | None
) -> Feed:
    return Feed(
        title=clean_text(title),
        description=clean_text(description),
        link=link,
        self_url=self_url,
        updated=updated or EPOCH,
        items=[build_item(paper) for paper in papers],
    )


def build_item(paper: Paper) -> FeedItem:
    return FeedItem(
        id=paper.abs_url,
        title=paper.title,
        link=paper.abs_url,
        authors=paper.authors,
        categories=paper.categories,
        published=paper.announced,
        updated=paper.updated or paper.announced,
        content_html=render_item_html(paper),
    )


def render_item_html(paper: Paper) -> str:
    """The item body: who, where, why it is here, then the abstract and links. All escaped."""
    esc = html.escape
    parts = [f"<p><b>Authors:</b> {esc(', '.join(paper.authors))}</p>"]
    parts.append(
        f"<p><b>Categories:</b> {esc(', '.join(paper.categories))} &middot; "
        f"<b>Announce type:</b> {esc(paper.announce_type)} &middot; <b>arXiv:</b> {esc(paper.versioned_id)}</p>"
    )
    if paper.match.hits:
        hits = ", ".join(f"{esc(h.keyword)} ({_where(h.in_title, h.in_abstract)})" for h in paper.match.hits)
        parts.append(f"<p><b>Score:</b> {paper.match.score:g} &middot; <b>Matched:</b> {hits}</p>")
    if paper.summary is not None and paper.summary.status == "ok":
        # Rendered from the model's Markdown with raw HTML disabled (core.markdown).
        parts.append(f"<p><b>AI summary</b> by {esc(paper.summary.model)} ({esc(paper.summary.provider)}):</p>")
        parts.append(paper.summary.html)
        parts.append("<p><b>Abstract</b></p>")
    parts.append(f"<p>{esc(paper.abstract)}</p>")
    parts.append(
        f'<p><a href="{esc(paper.abs_url)}">Abstract</a> &middot; <a href="{esc(paper.pdf_url)}">PDF</a>'
        f' &middot; <a href="{esc(paper.html_url)}">HTML</a></p>'
    )
    return strip_illegal("\n".join(parts))


def _where(in_title: bool, in_abstract: bool) -> str:
    return " and ".join(place for place, hit in (("title", in_title), ("abstract", in_abstract)) if hit)


def render_feed(feed: Feed, fmt: Format) -> bytes:
    """Serialise a Feed as RSS 2.0 or Atom 1.0 bytes."""
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.id(feed.self_url)
    fg.title(feed.title or "arXiv")
    fg.description(feed.description or feed.title or "arXiv")
    fg.link(href=feed.self_url, rel="self")
    fg.link(href=feed.link, rel="alternate")  # last: feedgen uses the last link as RSS's <link>
    fg.language("en")
    fg.generator(GENERATOR)
    fg.lastBuildDate(feed.updated)
    fg.updated(feed.updated)
    for item in feed.items:
        entry = fg.add_entry(order="append")
        entry.id(item.id)
        entry.guid(item.id, permalink=True)
        entry.title(strip_illegal(item.title))
        entry.link(href=item.link, rel="alternate")
        entry.content(item.content_html, type="html")
        entry.published(item.published)
        entry.updated(item.updated)
        for name in item.authors:
            entry.author(name=strip_illegal(name))
            entry.dc.dc_creator(strip_illegal(name))
        for term in item.categories:
            entry.category(term=term, scheme="https://arxiv.org/archive/")
    body: bytes = fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)
    return body
