"""Ingest: the day's announcements from arXiv's RSS, kept to the followed categories.

One request for every followed category (``rss.feed_url``), sent with the last answer's
validators when the URL is the same (an ETag is only good for the URL it came from), so a
day already read costs a 304. An empty answer is a quiet day (a weekend or a holiday), never
a reason to drop stored papers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from core import taxonomy
from core.arxiv import rss
from core.arxiv.client import ArxivClient
from core.config import Config
from core.models import Paper, RefreshState

log = logging.getLogger(__name__)


@dataclass
class Day:
    """What arXiv's RSS answered for the followed categories."""

    url: str
    outcome: Literal["ok", "not-modified", "quiet"]
    message: str
    etag: str | None
    last_modified: str | None
    fetched: int = 0  # items in the feed
    papers: list[Paper] = field(default_factory=list)  # those in a followed category
    cut: int = 0  # items with a field over its cap, cut to it (core.text.limits)


def fetch_day(client: ArxivClient, rss_base: str, config: Config, state: RefreshState) -> Day:
    """The day's papers in the followed categories; ``state`` has the last answer's validators."""
    url = rss.feed_url(rss_base, config.categories)
    same_url = state.feed_url == url
    log.info("fetching %s", url)
    answer = rss.fetch_feed(client, url, state.etag if same_url else None, state.last_modified if same_url else None)
    if answer.status == 304:
        message = "arXiv has nothing new since the last refresh"
        return Day(url, "not-modified", message, answer.etag, answer.last_modified)
    parsed = rss.parse_feed(answer.body)
    followed = [p for p in parsed.papers if taxonomy.listed(p.categories, config.categories)]
    log.info("parsed %d papers, %d in followed categories", len(parsed.papers), len(followed))
    if followed:
        return Day(url, "ok", "", answer.etag, answer.last_modified, len(parsed.papers), followed, parsed.cut)
    quiet = "arXiv announced nothing in the followed categories"
    return Day(url, "quiet", quiet, answer.etag, answer.last_modified, len(parsed.papers), cut=parsed.cut)
