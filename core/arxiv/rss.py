"""arXiv's daily announcements: fetch the RSS feed, parse it into ``Paper`` records.

``fetch_feed`` asks arXiv's RSS server through the one ``ArxivClient`` (its throttle, retries
and limits); ``parse_feed`` is pure (bytes in, papers out). feedparser is imported here and
nowhere on the feed-serving path.
"""

from __future__ import annotations

import calendar
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from core.arxiv.client import RSS_MAX_BYTES, ArxivClient
from core.arxiv.ids import parse_versioned_id
from core.errors import FeedError
from core.models import Paper
from core.text import limits
from core.text.latex import clean_text

log = logging.getLogger(__name__)


_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*[\w-]+\s*(?:Abstract:\s*)?", re.IGNORECASE)
EARLIEST = datetime(1991, 8, 1, tzinfo=UTC)  # arXiv's first paper
_AFFILIATION = re.compile(r"\s*\([^()]*\)")
# Control bytes that XML 1.0 forbids (\x0c turns up in real abstracts); dropping them keeps
# feedparser on its strict parser. All are single bytes in UTF-8, so no character is split.
_ILLEGAL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class FetchResult:
    status: int  # 200, or 304 when nothing changed since the ETag / Last-Modified we sent
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    papers: list[Paper] = field(default_factory=list)  # none: a weekend or holiday, not an error
    cut: int = 0  # papers with a field over its cap (core.text.limits), cut to it


def feed_url(base: str, categories: list[str]) -> str:
    """One URL for all categories: arXiv joins them with '+'."""
    return f"{base.rstrip('/')}/{'+'.join(categories)}"


def fetch_feed(client: ArxivClient, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
    """GET the feed with a conditional request (the client retries 5xx/429 with backoff)."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    response = client.get(url, headers=headers, max_bytes=RSS_MAX_BYTES, ok=(200, 304))
    return FetchResult(
        status=response.status,
        body=response.body if response.status == 200 else b"",
        etag=response.headers.get("ETag") or etag,
        last_modified=response.headers.get("Last-Modified") or last_modified,
    )


def parse_feed(body: bytes) -> ParsedFeed:
    """Turn arXiv's RSS bytes into papers. Raises FeedError for an error feed or non-feed bytes."""
    try:
        parsed = feedparser.parse(_ILLEGAL_BYTES.sub(b"", body), sanitize_html=False, resolve_relative_uris=False)
    except (UnicodeError, ValueError, OverflowError) as exc:  # e.g. a lone surrogate (&#xD800;)
        raise FeedError(
            f"the feed could not be parsed ({type(exc).__name__}: {exc})", "arXiv sent text no feed parser accepts"
        ) from None
    channel = parsed.get("feed", {})
    title = channel.get("title", "")
    if title.startswith("Feed error for query"):
        reason = limits.cut(clean_text(channel.get("subtitle", "")[: limits.KEY * 2]), limits.KEY) or title
        raise FeedError(f"arXiv rejected the query: {reason}", "fix the categories in config.json")
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception") or "no RSS or Atom document"
        raise FeedError(f"the response is not a feed ({problem})", "arXiv may be serving an error page")
    # arXiv serves well-formed XML; feedparser's lenient fallback would turn a truncated download
    # into a partial day, so malformed XML is refused rather than half-stored.
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride):
        raise FeedError(f"the feed is malformed XML ({parsed['bozo_exception']})", "the download may be truncated")
    published = parse_datetime(channel.get("published_parsed") or channel.get("updated_parsed"))
    papers, cut = [], 0
    for entry in parsed.entries:
        fitter = limits.Fitter()
        if (paper := _paper(entry, published, fitter)) is not None:
            papers.append(paper)
        if fitter.changed:
            cut += 1
            log.warning("arXiv: item %r had its %s cut to size", entry.get("id", "")[:100], fitter.note())
    return ParsedFeed(papers, cut)


def _paper(entry: Any, published: datetime | None, fit: limits.Fitter) -> Paper | None:
    guid = parse_versioned_id(entry.get("id", ""))  # oai:arXiv.org:2601.08670v1
    announced = parse_datetime(entry.get("published_parsed")) or published
    if guid is None or announced is None:
        log.warning("arXiv: skipping an item without an arXiv guid or date: %r", entry.get("id"))
        return None
    if announced < EARLIEST:
        raise FeedError(f"item {guid.id} is dated {announced:%Y-%m-%d}, before arXiv existed", "the feed is corrupt")
    # Every text is cleaned and capped here, once: nothing downstream cleans again.
    summary = entry.get("summary", "")
    prefix = _PREFIX.match(summary[:1000])
    return Paper(
        id=guid.id,
        version=guid.version,
        title=fit.text("title", entry.get("title"), limits.TITLE),
        authors=parse_authors(entry.get("author", ""), fit),
        abstract=fit.text("abstract", summary[prefix.end() :] if prefix else summary, limits.ABSTRACT),
        categories=parse_categories(entry.get("tags", []), fit),
        announce_type=fit.text("announce type", entry.get("arxiv_announce_type"), limits.TOKEN) or "new",
        announced=announced,
        updated=announced,
        rights=fit.text("rights", entry.get("rights"), limits.URL) or None,
        doi=fit.text("DOI", entry.get("arxiv_doi"), limits.URL) or None,
        journal_ref=fit.text("journal reference", entry.get("arxiv_journal_reference"), limits.JOURNAL_REF) or None,
    )


def parse_categories(tags: list[Any], fit: limits.Fitter) -> list[str]:
    """The terms of an item's ``<category>`` tags (feedparser's and the API's alike), cleaned and capped."""
    terms = [tag.get("term") or "" for tag in tags[: limits.CATEGORIES + 1]]
    return fit.names("categories", terms, limits.TOKEN, limits.CATEGORIES, limits.TOKEN * limits.CATEGORIES)


# dc:creator is split character by character: a creator far past what the names may hold in
# all is read only that far (affiliations, dropped, may take as much again).
_CREATOR_READ = 4 * limits.AUTHORS_CHARS


def parse_authors(creator: str, fit: limits.Fitter | None = None) -> list[str]:
    """Split dc:creator ("A, B (Univ. X, City), C") at top-level commas; drop affiliations;
    each name cleaned and capped (``core.text.limits``)."""
    fit = fit or limits.Fitter()
    if len(creator) > _CREATOR_READ:
        fit.cut.append("authors")
        creator = creator[:_CREATOR_READ]
    names, depth, start = [], 0, 0
    for i, char in enumerate(creator):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            names.append(creator[start:i])
            start = i + 1
    names.append(creator[start:])
    bare = [_AFFILIATION.sub("", name) for name in names]
    kept = fit.names("authors", bare, limits.AUTHOR, limits.AUTHORS, limits.AUTHORS_CHARS)
    return [name.removeprefix("and ") for name in kept]


def parse_datetime(value: time.struct_time | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError) as exc:
        raise FeedError(f"a date in the feed cannot be read ({exc})", "the feed is corrupt") from None
