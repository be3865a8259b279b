"""Ingest: the day's announcements from arXiv's RSS, kept to the followed categories.

One request for every followed category (``rss.feed_url``), sent with the last answer's
validators when the URL is the same (an ETag is only good for the URL it came from), so a
day already read costs a 304. An empty answer is a quiet day (a weekend or a holiday), never
a reason to drop stored papers.

arXiv caps a feed of several categories at 2,000 items (its RSS help: "Limit 2000
results"), so on a busy day the one request is cut. Then the day is read again in smaller
requests: one per archive (``cs.AI+cs.LG`` together, ``math`` alone), and an archive's
request that is cut too, one per category; every answer merged by id. The requests go
through the run's one client, 3 s apart. A day some of whose requests failed is kept as far
as it was read, without the validators (so the next refresh reads it again), and its
categories are named in ``Day.unread`` (so the backfill does not count it as complete).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from core import taxonomy
from core.arxiv import rss
from core.arxiv.client import ArxivClient
from core.config import ANNOUNCE_TYPES, Config
from core.errors import FeedError, FetchError
from core.models import Paper, RefreshState

log = logging.getLogger(__name__)

RSS_CAP = 2_000  # arXiv's RSS help: a feed of several categories holds at most 2,000 items


@dataclass
class Day:
    """What arXiv's RSS answered for the followed categories."""

    url: str
    outcome: Literal["ok", "not-modified", "quiet"]
    message: str
    etag: str | None
    last_modified: str | None
    fetched: int = 0  # distinct items in the answers
    papers: list[Paper] = field(default_factory=list)  # those in a followed category
    requests: int = 1  # RSS requests it took (more than one when the first answer was cut)
    unread: list[str] = field(default_factory=list)  # followed names whose items may be missing
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
    items, cut = parsed.papers, parsed.cut
    requests, unread, message = 1, list[str](), ""
    if len(config.categories) > 1 and len(items) >= RSS_CAP:
        log.info("arXiv's feed holds %d items, its cap: reading the day in smaller requests", len(items))
        more, requests, unread, more_cut = _read_split(client, rss_base, config.categories)
        cut += more_cut
        items = merge_items([*items, *more])
        requests += 1
        message = f"arXiv's feed was cut at {RSS_CAP:,} items; read in {requests} requests"
        if unread:
            message += f"; {', '.join(unread)} not read whole (arXiv failed), read again at the next refresh"
    followed = [p for p in items if taxonomy.listed(p.categories, config.categories)]
    log.info("parsed %d papers, %d in followed categories", len(items), len(followed))
    # A day not read whole keeps no validators: the next refresh asks for all of it again.
    etag, last_modified = (None, None) if unread else (answer.etag, answer.last_modified)
    outcome: Literal["ok", "quiet"] = "ok" if followed else "quiet"
    if not followed:
        message = message or "arXiv announced nothing in the followed categories"
    return Day(url, outcome, message, etag, last_modified, len(items), followed, requests, unread, cut)


def split_names(names: list[str]) -> list[list[str]]:
    """The followed names grouped by archive (``cs.AI`` and ``cs.LG`` together), in order."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name.split(".", 1)[0], []).append(name)
    return list(groups.values())


def _read_split(client: ArxivClient, rss_base: str, names: list[str]) -> tuple[list[Paper], int, list[str], int]:
    """Every item of ``names``, one request per archive, then per category where an archive's
    answer is cut too: the items, the requests made, the names left unread, and the items
    with a field cut to its cap."""
    groups = split_names(names)
    if len(groups) == 1:  # one archive: its categories one by one
        groups = [[name] for name in names]
    items: list[Paper] = []
    requests, unread, cut = 0, list[str](), 0
    while groups:
        group = groups.pop(0)
        try:
            requests += 1
            answer = rss.fetch_feed(client, rss.feed_url(rss_base, group))
            parsed = rss.parse_feed(answer.body)
        except (FetchError, FeedError) as exc:
            log.warning("arXiv: %s could not be read (%s)", "+".join(group), exc)
            unread += group
            continue
        if len(group) > 1 and len(parsed.papers) >= RSS_CAP:
            groups = [[name] for name in group] + groups
            continue
        items += parsed.papers
        cut += parsed.cut
    return items, requests, unread, cut


def merge_items(papers: Iterable[Paper]) -> list[Paper]:
    """One item per id, in first-seen order: the latest version, and of one version the
    announcement that says most ("new" before "cross", as a combined feed lists it)."""
    rank = {kind: n for n, kind in enumerate(ANNOUNCE_TYPES)}
    best: dict[str, Paper] = {}
    for paper in papers:
        held = best.get(paper.id)
        key = (paper.version, -rank.get(paper.announce_type, len(rank)))
        if held is None or key > (held.version, -rank.get(held.announce_type, len(rank))):
            best[paper.id] = paper
    return list(best.values())
