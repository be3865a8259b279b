"""The refresh: arXiv's day in, ranked papers stored, in one pass that reads top-down.

    lock -> ingest (arXiv's RSS) -> catalog (stored entries, what to redo, merge) -> backfill
         -> window -> rank -> stages (metadata, cached summaries, likes, for you)
         -> ONE save of the papers -> the state -> summaries (``summarize``)

One pipeline for the CLI and the cron route, its dependencies passed in; the only writer. Its
rule: a refresh that fails, or finds nothing, leaves the stored papers exactly as they were,
so the last good feed keeps being served. The state is saved after the papers: if saving
them failed, the old ETag stays and the next run fetches again. Summaries come after both
(the slow, killable part of a run); the papers they change are saved by ``summarize``, the
same step ``python -m core summarize`` runs.

Owns: ``ingest`` (the RSS day), ``catalog`` (stored entries and whole papers), ``rank``,
``backfill``, ``enrich``, ``likes``, ``embeddings``, ``stages``, ``lock``.
May import: ``core.arxiv``, ``core.selection``, ``core.summarize``, ``core.store``,
``core.text``, ``core.zotero``, ``core.config``, ``core.settings``, ``core.models``; never
``core.web`` or ``core.render``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

from core.arxiv.client import ArxivClient
from core.config import Config
from core.errors import AppError
from core.models import Entry, RefreshState
from core.refresh import stages
from core.refresh.backfill import MAX_PAGES_ON_DEMAND, clamp_days, run_backfill
from core.refresh.catalog import FUTURE_TOLERANCE, Catalog, merge_backfilled, merge_papers, papers_changed, window_start
from core.refresh.ingest import fetch_day
from core.refresh.lock import refresh_lock
from core.refresh.rank import config_hash, rank_for_config, store_order
from core.selection.select import count_kept
from core.settings import Settings
from core.store import Store
from core.summarize import Summarizer
from core.summarize import status as summary_status
from core.summarize.pipeline import SummaryReport, make_summaries, summary_candidates

log = logging.getLogger(__name__)

__all__ = ["RefreshReport", "merge_papers", "rank_for_config", "refresh", "summarize_stored"]


@dataclass
class RefreshReport:
    outcome: Literal["ok", "not-modified", "quiet"] = "ok"  # quiet: a weekend or holiday
    fetched: int = 0  # items in arXiv's feed
    followed: int = 0  # of those, in a followed category
    new: int = 0
    updated: int = 0
    matched: int = 0  # stored papers that pass config.json's filters
    stored: int = 0
    future_dated: int = 0  # items dated more than a day ahead, clamped to the refresh's clock
    refused: int = 0  # papers the store could not hold (too big for one Upstash request)
    backfilled: int = 0  # papers the backfill from the arXiv API added
    rss_requests: int = 0  # arXiv RSS requests the day took (more than one when its feed was cut)
    cut: int = 0  # papers from arXiv with a field over its cap (core.text.limits), cut to it
    seconds: float = 0.0
    summaries: SummaryReport | None = None

    def line(self) -> str:
        skip: tuple[str, ...] = ("outcome", "seconds", "summaries")
        rare = ("future_dated", "backfilled", "cut", "refused")  # said only when it happened
        skip += () if self.rss_requests > 1 else ("rss_requests",)  # said when the feed was cut
        counts = ", ".join(
            f"{k.replace('_', '-')} {v}" for k, v in asdict(self).items() if k not in skip and (v or k not in rare)
        )
        s = self.summaries
        made = f"; summaries made {s.made}, cached {s.cached}, queued {s.queued}, tokens {s.tokens}" if s else ""
        return f"refresh {self.outcome}: {counts}{made}, took {self.seconds:.1f} s"


def refresh(
    config: Config,
    settings: Settings,
    store: Store,
    client: ArxivClient | None = None,
    now: datetime | None = None,
    summarizer: Summarizer | None = None,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    backfill_days: int | None = None,
    progress: Callable[[str], None] = log.info,
) -> RefreshReport:
    """Run one refresh under the store's lock. Raises AppError (with the stage) on failure.

    The backfill fills what the window lacks (config.json ``backfill``); ``backfill_days``
    (``python -m core backfill --days N``) fills that many days whatever was filled before.

    Summaries are made (by ``summarizer``, if any) after the papers and the state are saved
    (``summarize``), for ``summary.time_budget_s`` and never past ``deadline`` (a
    time.monotonic() value) when given; no arXiv request runs past it either. ``sleep`` waits
    out every backoff (tests pass their own).
    """
    started, now = time.monotonic(), now or datetime.now(UTC)
    with refresh_lock(store):
        state = store.load_state()
        arxiv_client = client or ArxivClient(settings, state.last_request_at, deadline, sleep=sleep)
        run = stages.Run(config, settings, store, arxiv_client, now)
        try:
            report = _refresh(run, state, summarizer, deadline, backfill_days, progress, sleep)
        except AppError as exc:
            failed = state.but(last_refresh_at=now, outcome="error", message=str(exc))
            if arxiv_client.last_request_at is not None:
                failed = failed.but(last_request_at=arxiv_client.last_request_at)
            _save_state_quietly(store, failed)
            raise
        finally:
            if client is None:
                arxiv_client.close()
    report.seconds = time.monotonic() - started
    return report  # its callers say it once: the CLI prints it, the cron jobs log it


def _refresh(
    run: stages.Run,
    state: RefreshState,
    summarizer: Summarizer | None,
    deadline: float | None,
    backfill_days: int | None,
    progress: Callable[[str], None],
    sleep: Callable[[float], None],
) -> RefreshReport:
    config, store, client, now = run.config, run.store, run.client, run.now
    day = fetch_day(client, run.settings.arxiv_rss_base, config, state)
    report = RefreshReport(
        outcome=day.outcome, fetched=day.fetched, followed=len(day.papers), rss_requests=day.requests, cut=day.cut
    )
    message = day.message

    # The stored papers, by their entries. Read whole only where there is something to redo:
    # those arXiv sent again, those dated ahead, those never matched on their converted text,
    # and all of them after config.json's matching rules changed.
    catalog = Catalog.load(store)
    rules = config_hash(config)
    rematch = state.config_hash != rules
    sent, ahead = {p.id for p in day.papers}, now + FUTURE_TOLERANCE
    redo = catalog.redo(lambda e: rematch or not e.settled or e.id in sent or e.announced > ahead)
    merged, report.new, report.updated = merge_papers(redo, day.papers)
    report.future_dated = catalog.add(merged, now)

    filling = clamp_days(state.backfill, now)
    if config.backfill.enabled or backfill_days is not None:
        since = window_start(catalog.order, now, backfill_days or config.days_back)
        pages = MAX_PAGES_ON_DEMAND if backfill_days is not None else None
        api = run.settings.arxiv_api_base
        cut = {(name, p.announced.date()) for name in day.unread for p in day.papers[:1]}
        filled = run_backfill(
            client,
            api,
            config,
            catalog.order,
            state.backfill,
            now,
            since,
            backfill_days is not None,
            pages,
            progress,
            cut,
        )
        known = {e.id: e for e in catalog.order}
        added = merge_backfilled(known, filled.papers)
        report.backfilled = sum(1 for p in added if p.id not in known)
        catalog.add(added, now)
        filling = filled.state.but(papers=filled.state.papers + report.backfilled)
        report.cut += filled.cut
        # What this run did: its pages, or the request that failed (which read none).
        if (filled.pages or filled.failed) and filling.message:
            message = f"{message} Backfill: {filling.message}.".strip()

    liking = state.likes
    if catalog.order:
        # Re-rank everything stored, so an edited config.json takes effect at the next refresh;
        # stored papers keep their match unless config.json changed since they were matched.
        keep_since = window_start(catalog.order, now, config.days_back)
        catalog.keep(lambda e: e.announced >= keep_since)
        ranked = rank_for_config(catalog.held(), config, rematch)
        # What is carried was stored in this order under these rules (else it is all matched again).
        catalog.reorder(store_order([*map(Entry.of, ranked)], config, catalog.carried()), ranked)
        if config.enrich:
            stages.enrich(catalog, run)
        stages.attach_summaries(catalog, config, store)
        liking, liked = stages.resolve_likes(catalog, run)
        liking = stages.match_for_you(catalog, run, liking, liked, state.likes)
        report.matched = count_kept(catalog.order, config)  # the stages changed no entry's rank
        report.stored = len(catalog.order)

    if report.future_dated:
        message = f"{message} {report.future_dated} item(s) dated in the future were dated today".strip()
    if report.cut:
        message = f"{message} {report.cut} item(s) had a field over its size cap, cut to it (see the log)".strip()
    state = state.but(
        feed_url=day.url,
        etag=day.etag,
        last_modified=day.last_modified,
        last_request_at=client.last_request_at,
        last_refresh_at=now,
        last_success_at=now,
        outcome=report.outcome,
        message=message,
        counts=_counts(report),
        backfill=filling,
        likes=liking,
    )
    if catalog.order:
        saved = catalog.save()
        gone = {e.id for e in catalog.order} - {e.id for e in saved} if len(saved) < len(catalog.order) else set()
        if refused := sorted(gone):
            report.refused, report.stored = len(refused), len(saved)
            left_out = f"{len(refused)} paper(s) too big to store were left out: {', '.join(refused[:10])}."
            state = state.but(message=f"{state.message} {left_out}".strip(), counts=state.counts | _counts(report))
        state = papers_changed(state.but(config_hash=rules), saved, now)
    store.save_state(state)
    if catalog.order:
        report.summaries = summarize(run, catalog, state, summarizer, deadline, sleep)
    return report


def summarize_stored(
    config: Config,
    settings: Settings,
    store: Store,
    summarizer: Summarizer | None,
    now: datetime | None = None,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SummaryReport:
    """``python -m core summarize``: continue the summary queue over the stored papers."""
    with refresh_lock(store):
        catalog = Catalog.load(store)
        state = store.load_state()
        if state.config_hash != config_hash(config):
            # Stored in the order of the config.json before an edit (the next refresh matches
            # them again): what the edited one keeps must come first, as its feeds will show.
            catalog.reorder(store_order(catalog.order, config), [])
        stages.attach_summaries(catalog, config, store)
        with ArxivClient(settings, state.last_request_at, deadline, sleep=sleep) as client:
            run = stages.Run(config, settings, store, client, now or datetime.now(UTC))
            return summarize(run, catalog, state, summarizer, deadline, sleep)


def summarize(
    run: stages.Run,
    catalog: Catalog,
    state: RefreshState,
    summarizer: Summarizer | None,
    deadline: float | None,
    sleep: Callable[[float], None] = time.sleep,
) -> SummaryReport:
    """Summarise what is due (the state's queue, then the feeds' top papers; only those are
    read whole), for ``summary.time_budget_s`` from now and never past ``deadline`` when
    given; save the papers that got one, and the outcome.

    It runs after the refresh's own save, on purpose: model calls are the slow, killable
    part of a run (a function past its time limit, a process killed), and the day's papers
    must already be in the feeds when that happens; summaries are cached as they are made,
    so the next run attaches them."""
    config, store = run.config, run.store
    queue = state.summary_queue
    if summarizer is None:
        report = SummaryReport(message=summary_status(config.summary, run.settings).message)
    else:
        stop = time.monotonic() + config.summary.time_budget_s
        stop = min(stop, deadline) if deadline is not None else stop
        due = catalog.whole([*queue, *summary_candidates(catalog.order, config)])
        papers, report, queue = make_summaries(
            due, config, run.settings, store, summarizer, queue, run.now, stop, run.client, sleep=sleep
        )
        catalog.update(papers)
        if report.made or report.rejected:
            state = papers_changed(state, catalog.save(), run.now)
    state = state.but(summary_queue=queue, summary_message=report.message, counts=state.counts | report.counts())
    if run.client.last_request_at is not None:  # PDF downloads count for the next run's throttle
        state = state.but(last_request_at=run.client.last_request_at)
    store.save_state(state)
    return report


def _counts(report: RefreshReport) -> dict[str, int]:
    return {k: v for k, v in asdict(report).items() if isinstance(v, int)}


def _save_state_quietly(store: Store, state: RefreshState) -> None:
    try:
        store.save_state(state)
    except AppError as exc:  # the original failure is the one worth raising
        log.error("could not record the failed refresh: %s", exc)
