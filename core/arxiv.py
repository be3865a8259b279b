"""arXiv's daily announcements: fetch the RSS feed politely, parse it into ``Paper`` records.

``fetch_feed`` is the only code that talks to arXiv's RSS server; ``parse_feed`` is pure
(bytes in, papers out). feedparser is imported here and nowhere on the feed-serving path.
"""

from __future__ import annotations

import calendar
import email.utils
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx

from core.errors import FeedError, FetchError
from core.models import Paper
from core.text import clean_text

log = logging.getLogger(__name__)

USER_AGENT = "arxiv-rss-bot/0.1 (personal arXiv feed; one request a day; python-httpx)"
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER_S = 120.0

_GUID = re.compile(r"^oai:arXiv\.org:(?P<id>.+?)v(?P<version>\d+)$")
_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*[\w-]+\s*(?:Abstract:\s*)?", re.IGNORECASE)
_AFFILIATION = re.compile(r"\s*\([^()]*\)")
# Control bytes that XML 1.0 forbids (\x0c turns up in real abstracts); dropping them keeps
# feedparser on its strict parser. All are single bytes in UTF-8, so no character is split.
_ILLEGAL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class Throttle:
    """Spaces requests ``min_interval`` seconds apart (arXiv: one request every 3 seconds)."""

    def __init__(
        self,
        min_interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval = min_interval
        self.clock = clock
        self.sleep = sleep
        self._last: float | None = None
        self._lock = threading.Lock()  # summary threads share one throttle: one request at a time

    def seed(self, seconds_ago: float) -> None:
        """Account for a request made earlier (by a previous run) ``seconds_ago`` seconds ago."""
        self._last = self.clock() - max(seconds_ago, 0.0)

    def wait(self) -> None:
        with self._lock:
            if self._last is not None:
                remaining = self._last + self.min_interval - self.clock()
                if remaining > 0:
                    self.sleep(remaining)
            self._last = self.clock()


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int  # 200, or 304 when nothing changed since the ETag / Last-Modified we sent
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    papers: list[Paper] = field(default_factory=list)
    published: datetime | None = None

    @property
    def quiet(self) -> bool:
        """No announcements: a weekend or holiday, not an error."""
        return not self.papers


def feed_url(base: str, categories: list[str]) -> str:
    """One URL for all categories: arXiv joins them with '+'."""
    return f"{base.rstrip('/')}/{'+'.join(categories)}"


def fetch_feed(
    client: httpx.Client,
    url: str,
    throttle: Throttle,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    """GET the feed with a conditional request, retrying 5xx/429 with backoff and Retry-After."""
    headers = {"User-Agent": USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    problem = ""
    for attempt in range(MAX_ATTEMPTS):
        throttle.wait()
        delay = throttle.min_interval * 2**attempt
        try:
            response = client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if response.status_code in (200, 304):
                return FetchResult(
                    url=url,
                    status=response.status_code,
                    body=response.content if response.status_code == 200 else b"",
                    etag=response.headers.get("ETag") or etag,
                    last_modified=response.headers.get("Last-Modified") or last_modified,
                )
            problem = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                raise FetchError(f"{url} answered {problem}", "check ARXIV_RSS_BASE and the categories")
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                if retry_after > MAX_RETRY_AFTER_S:
                    raise FetchError(f"{url} answered {problem}", f"arXiv asks to retry after {retry_after:.0f} s")
                delay = max(delay, retry_after)
        if attempt + 1 < MAX_ATTEMPTS:
            log.warning("arXiv: %s; retrying in %.1f s", problem, delay)
            throttle.sleep(delay)
    raise FetchError(f"{url} failed after {MAX_ATTEMPTS} attempts: {problem}", "arXiv may be down; try again later")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def parse_feed(body: bytes) -> ParsedFeed:
    """Turn arXiv's RSS bytes into papers. Raises FeedError for an error feed or non-feed bytes."""
    parsed = feedparser.parse(_ILLEGAL_BYTES.sub(b"", body), sanitize_html=False, resolve_relative_uris=False)
    channel = parsed.get("feed", {})
    title = channel.get("title", "")
    if title.startswith("Feed error for query"):
        reason = clean_text(channel.get("subtitle", "")) or title
        raise FeedError(f"arXiv rejected the query: {reason}", "fix the categories in config.json")
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception") or "no RSS or Atom document"
        raise FeedError(f"the response is not a feed ({problem})", "arXiv may be serving an error page")
    # arXiv serves well-formed XML; feedparser's lenient fallback would turn a truncated download
    # into a partial day, so malformed XML is refused rather than half-stored.
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), feedparser.CharacterEncodingOverride):
        raise FeedError(f"the feed is malformed XML ({parsed['bozo_exception']})", "the download may be truncated")
    published = _datetime(channel.get("published_parsed") or channel.get("updated_parsed"))
    papers = [_paper(entry, published) for entry in parsed.entries]
    return ParsedFeed(papers=[p for p in papers if p is not None], published=published)


def _paper(entry: Any, published: datetime | None) -> Paper | None:
    guid = _GUID.match(entry.get("id", ""))
    announced = _datetime(entry.get("published_parsed")) or published
    if guid is None or announced is None:
        log.warning("arXiv: skipping an item without an arXiv guid or date: %r", entry.get("id"))
        return None
    title = clean_text(entry.get("title", ""))
    abstract = clean_text(_PREFIX.sub("", entry.get("summary", ""), count=1))
    return Paper(
        id=guid["id"],
        version=int(guid["version"]),
        title=title,
        authors=parse_authors(entry.get("author", "")),
        abstract=abstract,
        categories=[tag["term"] for tag in entry.get("tags", []) if tag.get("term")],
        announce_type=entry.get("arxiv_announce_type", "new").strip() or "new",
        announced=announced,
        updated=announced,
        rights=entry.get("rights") or None,
        doi=entry.get("arxiv_doi") or None,
        journal_ref=clean_text(entry.get("arxiv_journal_reference", "")) or None,
    )


def parse_authors(creator: str) -> list[str]:
    """Split dc:creator ("A, B (Univ. X, City), C") at top-level commas; drop affiliations."""
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
    cleaned = (clean_text(_AFFILIATION.sub("", name)) for name in names)
    return [name.removeprefix("and ") for name in cleaned if name]


def _datetime(value: time.struct_time | None) -> datetime | None:
    return datetime.fromtimestamp(calendar.timegm(value), UTC) if value else None
