"""Feeds: one neutral ``Feed`` built from papers, one place that renders RSS 2.0, Atom 1.0 or
JSON Feed 1.1.

Rendering is pure and deterministic: the same papers and the same refresh time give the same
bytes (and so the same ETag). Titles and abstracts are shown with LaTeX turned into
Unicode; the stored paper keeps arXiv's original. No text is cleaned here: feedgen refuses
XML-illegal characters, and every text reaches a feed clean from where it came in (the arXiv
and BibTeX parsers, config.json, a request's query, the summaries, older stored records).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from core.models import Paper
from core.text.scoring import hit_points

if TYPE_CHECKING:  # the links come made (core.web.feedback): a feed without them loads none of it
    from core.render.feedback import ItemLinks, Links

Format = Literal["rss", "atom", "json"]
MEDIA_TYPES: dict[str, str] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
GENERATOR = "arxiv-rss-bot"
STARTED = datetime.now(UTC).replace(microsecond=0)  # an Atom feed's date before any refresh
# arXiv announces Sunday to Thursday evenings (US Eastern) and the daily refresh runs in the
# early UTC morning, so feeds change Monday to Friday (UTC); readers need not poll more than
# every few hours, nor at all at weekends.
TTL_MINUTES = 360
SKIP_DAYS = ["Saturday", "Sunday"]


@dataclass(frozen=True)
class FeedItem:
    # The version-less abstract URL, stable across versions; in any feed but the one of all
    # followed categories, with the feed's scope after a "#" (see ``guid``).
    id: str
    title: str
    link: str
    authors: list[str]
    categories: list[str]
    published: datetime
    updated: datetime
    content_html: str
    summary_text: str
    pdf_url: str
    extra: dict[str, Any] = field(default_factory=dict)  # JSON Feed's "_arxiv" extension


@dataclass(frozen=True)
class Feed:
    title: str
    description: str
    link: str  # the HTML page
    self_url: str  # this feed, with its query string
    updated: datetime | None  # when what it shows last changed; None before any refresh
    items: list[FeedItem]
    icon_url: str = ""


def build_feed(
    papers: Iterable[Paper],
    *,
    title: str,
    description: str,
    link: str,
    self_url: str,
    updated: datetime | None,
    icon_url: str = "",
    scope: str = "",
    links: Links | None = None,
) -> Feed:
    """``scope`` names the feed among the others (``guid``): "" for all followed categories.
    ``links``: each item's signed "Like" / "Not for me" URLs (core.web.signing), if any."""
    return Feed(
        title=title,
        description=description,
        link=link,
        self_url=self_url,
        updated=updated,
        items=[with_feedback(build_item(paper, scope), links(paper) if links else None) for paper in papers],
        icon_url=icon_url,
    )


def guid(paper: Paper, scope: str = "") -> str:
    """An item's guid (RSS) and id (Atom, JSON Feed): the same in the RSS, Atom and JSON of one
    feed, so a reader subscribed to two formats of it stores a paper once, and different from
    feed to feed. Readers key items by guid and newsboat keeps an item in one feed only: with
    one guid everywhere, the feed of all categories imported beside cs.AI, cs.LG and cs.CL
    (OPML) showed nothing, its papers all counted as the category feeds'. The feed of all
    followed categories keeps the plain abstract URL, as it always had."""
    return f"{paper.abs_url}#{scope}" if scope else paper.abs_url


def build_item(paper: Paper, scope: str = "") -> FeedItem:
    extra = {
        "id": paper.versioned_id,
        "announce_type": paper.announce_type,
        "score": paper.match.score,
        "matched": [h.model_dump() for h in paper.match.hits],
    }
    if paper.metadata is not None:
        extra |= paper.metadata.model_dump(exclude_none=True)
    return FeedItem(
        id=guid(paper, scope),
        title=paper.display_title,
        link=paper.abs_url,
        authors=paper.display_authors,
        categories=paper.categories,
        published=paper.announced,
        updated=paper.updated or paper.announced,
        content_html=render_item_html(paper),
        summary_text=paper.display_abstract,
        pdf_url=paper.pdf_url,
        extra=extra,
    )


def with_feedback(item: FeedItem, links: ItemLinks | None) -> FeedItem:
    """The item with its feedback links at the end of its HTML and in JSON Feed's ``_arxiv``."""
    if links is None:
        return item
    return replace(
        item, content_html=f"{item.content_html}\n{links.html()}", extra=item.extra | {"feedback": links.extra()}
    )


def render_item_html(paper: Paper) -> str:
    """The item body: who, where, why it is here, the AI summary, the abstract, links. All escaped."""
    esc = html.escape
    parts = [f"<p><b>Authors:</b> {esc(', '.join(paper.display_authors))}</p>"]
    parts.append(
        f"<p><b>Categories:</b> {esc(', '.join(paper.categories))} &middot; "
        f"<b>Announce type:</b> {esc(paper.announce_type)} &middot; <b>arXiv:</b> {esc(paper.versioned_id)}</p>"
    )
    if paper.match.hits or paper.match.similar:
        parts.append(f"<p><b>Why it is here:</b> {esc(explain(paper))}</p>")
    if paper.metadata is not None:
        parts.append(_metadata_html(paper))
    if paper.summary is not None and paper.summary.status == "ok":
        # Rendered from the model's Markdown with raw HTML disabled (core.text.markdown).
        parts.append(f"<p><b>AI summary</b> by {esc(paper.summary.model)} ({esc(paper.summary.provider)}):</p>")
        parts.append(paper.summary.html)
        parts.append("<p><b>Abstract</b></p>")
    parts.append(f"<p>{esc(paper.display_abstract)}</p>")
    parts.append(
        f'<p><a href="{esc(paper.abs_url)}">Abstract</a> &middot; <a href="{esc(paper.pdf_url)}">PDF</a>'
        f' &middot; <a href="{esc(paper.html_url)}">HTML</a></p>'
    )
    return "\n".join(parts)


def _metadata_html(paper: Paper) -> str:
    esc, meta = html.escape, paper.metadata
    assert meta is not None
    bits = []
    if meta.primary_category:
        bits.append(f"<b>Primary:</b> {esc(meta.primary_category)}")
    if meta.venue:
        bits.append(f"<b>Venue:</b> {esc(meta.venue)}")
    bits += [f'<b>Code:</b> <a href="{esc(url)}">{esc(url)}</a>' for url in meta.code_links]
    if meta.comment:
        bits.append(f"<b>Comments:</b> {esc(meta.comment)}")
    if meta.journal_ref and not paper.journal_ref:
        bits.append(f"<b>Journal:</b> {esc(meta.journal_ref)}")
    return "<p>" + " &middot; ".join(bits) + "</p>" if bits else ""


def explain(paper: Paper) -> str:
    """The matched terms, where, and the score's sum: "score 2.5 = LLM 1.5 (title, abstract) + ..."."""
    parts = []
    for hit in paper.match.hits:
        where = [
            place
            for place, found in (("title", hit.in_title), ("abstract", hit.in_abstract), ("authors", hit.in_authors))
            if found
        ] or [hit.field]
        parts.append(f"{hit.keyword} {hit_points(hit):g} ({', '.join(where)})")
    if (like := paper.match.similar) is not None:
        parts.append(f"similar to {like.id} “{like.title}” {like.points:g} ({alike(like.similarity)})")
        if (pulled := like.pulled_down) is not None:  # already taken off like.points
            parts[-1] += f", less {pulled.points:g} for being like {pulled.id} “{pulled.title}”, not for you"
    return f"score {paper.match.score:g} = " + (" + ".join(parts) or "0")


def alike(similarity: float) -> str:
    """A similarity on its own scale, apart from keyword points: "42% alike" for a cosine of 0.42."""
    return f"{round(similarity * 100)}% alike"


def render_feed(feed: Feed, fmt: Format) -> bytes:
    """Serialise a Feed as RSS 2.0, Atom 1.0 or JSON Feed 1.1 bytes."""
    if fmt == "json":
        return render_json_feed(feed)
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("arxiv", _FeedExtras, _EntryExtras)
    fg.id(feed.self_url)
    fg.title(feed.title or "arXiv")
    fg.description(feed.description or feed.title or "arXiv")
    fg.link(href=feed.self_url, rel="self")
    fg.link(href=feed.link, rel="alternate")  # last: feedgen uses the last link as RSS's <link>
    fg.language("en")
    fg.generator(GENERATOR)
    # Before any refresh: the newest item's date, or when this process started (never 1970, and
    # never "now": feedgen's default would change the bytes, and the ETag, on every request).
    when = feed.updated or max((i.updated for i in feed.items), default=STARTED)
    fg.lastBuildDate(when)
    fg.updated(when)
    fg.ttl(TTL_MINUTES)
    if feed.icon_url:
        fg.image(url=feed.icon_url, title=feed.title or "arXiv", link=feed.link)
        fg.icon(feed.icon_url)
        fg.logo(feed.icon_url)
    for item in feed.items:
        entry = fg.add_entry(order="append")
        entry.id(item.id)
        entry.guid(item.id, permalink=item.id == item.link)
        entry.title(item.title)
        entry.link(href=item.link, rel="alternate")
        entry.content(item.content_html, type="html")
        entry.published(item.published)
        entry.updated(item.updated)
        entry.enclosure(url=item.pdf_url, length="0", type="application/pdf")
        entry.arxiv.pdf_url = item.pdf_url
        entry.arxiv.abs_url = item.link
        for name in item.authors:
            entry.author(name=name)
        if item.authors:  # one dc:creator with every name, as arXiv's own feed: readers show one
            entry.dc.dc_creator(", ".join(item.authors))
        for term in item.categories:
            entry.category(term=term, scheme="https://arxiv.org/archive/")
    body: bytes = fg.rss_str(pretty=True) if fmt == "rss" else fg.atom_str(pretty=True)
    return body


class _FeedExtras:
    """RSS <skipDays> in a fixed order: feedgen keeps skipDays in a set, whose order changes
    from process to process and would change the bytes (and the ETag) of the same feed."""

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_rss(self, rss: Any) -> Any:
        from feedgen.util import xml_elem

        skip = xml_elem("skipDays", rss[0])
        for day in SKIP_DAYS:
            xml_elem("day", skip).text = day
        return rss

    def extend_atom(self, feed: Any) -> Any:
        return feed


class _EntryExtras(_FeedExtras):
    """An Atom entry's links, written here: feedgen 1.0 writes them without their rel, and a
    link without rel is an "alternate" (RFC 4287), so the abstract and the PDF were two
    alternates of one type (invalid; readers then opened the PDF as the item). The abstract is
    the one alternate, the PDF an enclosure. (RSS gets <link> and <enclosure> from feedgen.)"""

    pdf_url = ""
    abs_url = ""

    def extend_rss(self, item: Any) -> Any:
        return item

    def extend_atom(self, entry: Any) -> Any:
        from feedgen.util import xml_elem

        for link in entry.findall("link"):
            entry.remove(link)
        xml_elem("link", entry, href=self.abs_url, rel="alternate", type="text/html")
        xml_elem("link", entry, href=self.pdf_url, rel="enclosure", type="application/pdf", length="0")
        return entry


def render_json_feed(feed: Feed) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/), with an ``_arxiv`` extension per item."""
    document: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title or "arXiv",
        "home_page_url": feed.link,
        "feed_url": feed.self_url,
        "description": feed.description,
        "language": "en",
        "items": [
            {
                "id": item.id,
                "url": item.link,
                "title": item.title,
                "content_html": item.content_html,
                "summary": item.summary_text,
                "date_published": item.published.isoformat(),
                "date_modified": item.updated.isoformat(),
                "authors": [{"name": name} for name in item.authors],
                "tags": item.categories,
                "attachments": [{"url": item.pdf_url, "mime_type": "application/pdf", "title": "PDF"}],
                "_arxiv": item.extra,
            }
            for item in feed.items
        ],
    }
    if feed.icon_url:
        document["icon"] = document["favicon"] = feed.icon_url
    return json.dumps(document, ensure_ascii=False, indent=1).encode()
