"""Backfill: fill the feeds' window from the arXiv API when the store lacks days.

arXiv's RSS holds one announcement day, so a new deployment (or a newly followed category, or a
first run on a weekend) would show nothing, or one day, until the next announcements. The
backfill asks the arXiv API (``core.arxiv.api``) for the followed categories' submissions of
the last ``days_back`` days: one query OR-ing them (``cat:cs.AI OR cat:astro-ph*``) and bounded
by submission date, newest first, a page at a time through the run's ``ArxivClient`` (3 s
apart, one connection). The cursor is the oldest submission read so far, kept in the state, so
a run that reaches its page cap or its time budget is continued by the next one. Each category
is filled once; after that the RSS keeps the window full.

``lacking`` is pure; ``run_backfill`` does the requests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from core import taxonomy
from core.arxiv.api import fetch_submissions
from core.arxiv.client import ArxivClient
from core.config import Config
from core.errors import FeedError, FetchError
from core.models import BackfillState, Paper, Ranked
from core.refresh.catalog import FUTURE_TOLERANCE

log = logging.getLogger(__name__)

# Time a run keeps for itself after the backfill: ranking, saving and summaries.
RESERVE_S = 60.0
# ``python -m core backfill`` reads until done, but never more than this many pages.
MAX_PAGES_ON_DEMAND = 200
_MINUTE = timedelta(minutes=1)
MAX_WINDOW_DAYS = 90  # config.json's days_back at most
ANNOUNCED_AT = time(5, 0, tzinfo=UTC)  # arXiv's RSS dates a day's announcements 00:00 US Eastern


@dataclass
class BackfillRun:
    """What one run of the backfill fetched, and the state it leaves."""

    state: BackfillState
    papers: list[Paper] = field(default_factory=list)
    pages: int = 0
    failed: bool = False  # a request failed: nothing fetched, the state's message says why
    cut: int = 0  # papers with a field over its cap, cut to it (core.text.limits)


def lacking(
    papers: Sequence[Ranked],
    categories: list[str],
    since: datetime,
    now: datetime,
    cut: Collection[tuple[str, date]] = (),
) -> list[str]:
    """The categories whose stored papers cover fewer announcement days than the window has
    weekdays (arXiv announces Monday to Friday): those a backfill would fill. A day in ``cut``
    (a category and a day the RSS did not read whole) does not count as covered."""
    end = min(now, since + timedelta(days=MAX_WINDOW_DAYS))
    stamps = (datetime.combine(since.date() + timedelta(days=n), ANNOUNCED_AT) for n in range((end - since).days + 2))
    expected = sum(1 for stamp in stamps if since <= stamp <= end and stamp.weekday() < 5)
    days: dict[str, set[date]] = {c: set() for c in categories}
    for paper in papers:
        if paper.announced < since:
            continue
        # A stored paper knows the followed categories it is listed under; a new one is looked up.
        listed = paper.listed_in or [c for c in categories if taxonomy.listed(paper.categories, [c])]
        for category in listed:
            if category in days and (category, paper.announced.date()) not in cut:
                days[category].add(paper.announced.date())
    short = [c for c in categories if len(days[c]) < expected]
    return short


def run_backfill(
    client: ArxivClient,
    api_base: str,
    config: Config,
    stored: Sequence[Ranked],
    state: BackfillState,
    now: datetime,
    since: datetime,
    forced: bool = False,
    max_pages: int | None = None,
    progress: Callable[[str], None] = log.info,
    cut: Collection[tuple[str, date]] = (),
) -> BackfillRun:
    """Fetch what the window (from ``since``) lacks, from where the last run stopped. A failed
    request ends the run with nothing fetched (the store stays as it was) and the state as it
    was, but for its message. ``forced`` (on demand) fills the window whatever was filled.
    ``cut``: the categories and days the RSS could not read whole; such a category counts as
    filled no more, and such a day as missing."""
    followed = config.categories
    if cut:
        state = state.but(filled=[c for c in state.filled if c not in {name for name, _ in cut}])
    state = _plan(state, stored, followed, since, now, forced, cut)
    if not state.active:
        return BackfillRun(state)
    since, until = state.since or since, state.until or now
    cap = max_pages or config.backfill.max_pages
    run = BackfillRun(state)
    fetched: list[Paper] = []
    while True:
        if run.pages >= cap:
            message = f"stopped after {run.pages} pages (backfill.max_pages); continues next run"
            return _stopped(run, fetched, until, message, now)
        if client.deadline is not None and client.clock() + RESERVE_S > client.deadline:
            return _stopped(run, fetched, until, "stopped at the run's time budget; continues next run", now)
        try:
            page = fetch_submissions(client, api_base, state.categories, since, until, config.backfill.page_size)
        except (FetchError, FeedError) as exc:
            message = f"the arXiv API failed ({exc.message}); nothing stored, retried next run"
            log.warning("backfill: %s", message)
            return BackfillRun(run.state.but(message=message), failed=True)
        run.pages += 1
        if not page.entries and page.total > 0:  # arXiv's API sometimes answers a page empty
            message = f"the arXiv API answered an empty page of {page.total} results; nothing stored, retried next run"
            return BackfillRun(run.state.but(message=message), failed=True)
        run.cut += sum(1 for entry in page.entries if entry.cut)
        papers = [entry.as_paper(followed, backfilled=True) for entry in page.entries]
        fetched += [p for p in papers if p.announced >= since]
        oldest = min((p.announced for p in papers), default=since)
        page_number = state.pages + run.pages
        if papers:
            progress(f"backfill: page {page_number}, {len(fetched)} papers, back to {oldest:%Y-%m-%d %H:%M}")
        else:
            progress(f"backfill: page {page_number}: the arXiv API lists no papers submitted since {since:%Y-%m-%d}")
        if len(papers) < config.backfill.page_size or oldest <= since:
            return _finished(run, fetched, now)
        # The next page: what was submitted before the oldest one read. The bound is inclusive
        # and to the minute, so that minute is read again (merged by id), unless the whole page
        # was one minute: then step past it.
        until = oldest if oldest.replace(second=0) < until.replace(second=0) else until - _MINUTE


def _plan(
    state: BackfillState,
    stored: Sequence[Ranked],
    followed: list[str],
    since: datetime,
    now: datetime,
    forced: bool,
    cut: Collection[tuple[str, date]] = (),
) -> BackfillState:
    """Continue the fill under way (if it still fits the config), or start one for the followed
    categories that lack days and were never filled."""
    if state.active and set(state.categories) <= set(followed) and not forced:
        return state
    if forced:
        todo = list(followed)
    else:
        unfilled = [c for c in followed if c not in state.filled]
        todo = lacking(stored, unfilled, since, now, cut)
        # Categories that never needed a fill count as filled: the RSS keeps them full.
        state = state.model_copy(update={"filled": sorted({*state.filled, *(c for c in unfilled if c not in todo)})})
    if not todo:
        return state.model_copy(update={"categories": [], "since": None, "until": None, "pages": 0})
    return state.model_copy(update={"categories": todo, "since": since, "until": now, "pages": 0, "message": ""})


def _stopped(run: BackfillRun, fetched: list[Paper], until: datetime, message: str, now: datetime) -> BackfillRun:
    log.info("backfill: %s", message)
    state = run.state.model_copy(update={"until": until, "pages": run.state.pages + run.pages, "message": message})
    return BackfillRun(_counted(state, fetched, now), fetched, run.pages, cut=run.cut)


def _finished(run: BackfillRun, fetched: list[Paper], now: datetime) -> BackfillRun:
    state = run.state
    since = f" submitted since {state.since:%Y-%m-%d}" if state.since else ""
    if fetched or state.pages:  # this run, or earlier runs of the same fill, brought papers
        message = f"filled {', '.join(state.categories)} back to {state.since:%Y-%m-%d}" if state.since else "filled"
    else:  # said plainly: "filled back to ..." would claim days that did not come
        message = f"nothing to fill: the arXiv API lists no {', '.join(state.categories)} papers{since}"
    done = state.model_copy(
        update={
            "filled": sorted({*state.filled, *state.categories}),
            "categories": [],
            "since": None,
            "until": None,
            "pages": 0,
            "message": message,
        }
    )
    return BackfillRun(_counted(done, fetched, now), fetched, run.pages, cut=run.cut)


def _counted(state: BackfillState, fetched: list[Paper], now: datetime) -> BackfillState:
    """The state's record of the papers fetched (the refresh corrects ``papers`` to what it adds)."""
    if not fetched:
        return state
    days = [p.announced for p in fetched]
    first = min([*days, *([state.first_day] if state.first_day else [])])
    last = max([*days, *([state.last_day] if state.last_day else [])])
    return clamp_days(state.but(first_day=first, last_day=last), now)


def clamp_days(state: BackfillState, now: datetime) -> BackfillState:
    """The state with its days dated as the catalog dates papers (``clamp_future``): more than a
    day past ``now`` is ``now``. A paper submitted "in the future" once left 9999-12-31 as the
    last day, and the page showed it."""
    limit = now + FUTURE_TOLERANCE
    first, last = state.first_day, state.last_day
    if (first is None or first <= limit) and (last is None or last <= limit):
        return state
    return state.but(
        first_day=first if first is None or first <= limit else now,
        last_day=last if last is None or last <= limit else now,
    )
