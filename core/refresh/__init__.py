"""The refresh pipeline: fetch -> parse -> merge -> match and rank -> save -> summarise.

One pipeline for the CLI and the cron route, its dependencies passed in. It is the only
writer. Its rule: a refresh that fails, or finds nothing, leaves the stored papers exactly as
they were, so the last good feed keeps being served.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

from core import taxonomy
from core.arxiv import rss
from core.arxiv.client import ArxivClient
from core.config import Config, bibtex_path
from core.errors import AppError
from core.models import Entry, LikesState, Paper, RefreshState
from core.refresh import likes
from core.refresh.backfill import MAX_PAGES_ON_DEMAND, run_backfill
from core.refresh.enrich import enrich_papers
from core.refresh.likes import bibtex_refs
from core.refresh.lock import refresh_lock
from core.selection.select import kept_by_config
from core.selection.topics import shown_ids, with_topic_scores
from core.settings import Settings
from core.store import Store
from core.store.records import entry_of
from core.summarize import Summarizer
from core.summarize import status as summary_status
from core.summarize.pipeline import SummaryReport, attach_cached, make_summaries, summary_candidates
from core.text.latex import authors_to_convert, readable
from core.text.matching import MATCHING_VERSION, Matcher

log = logging.getLogger(__name__)
Item = TypeVar("Item", Paper, Entry, Paper | Entry)

RESERVE_FOR_SAVING_S = 30.0  # of the run's deadline, kept for saving and summaries after embeddings
ENRICH_LIMIT = 300  # papers asked of the arXiv API per refresh (3 requests, 3 s apart)
# arXiv dates its items with the announcement day; one a day ahead of our clock is a time
# zone, anything later is wrong and must not move the window (see ``window_start``).
FUTURE_TOLERANCE = timedelta(days=1)


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
    backfilled: int = 0  # papers the backfill from the arXiv API added
    seconds: float = 0.0
    summaries: SummaryReport | None = None

    def line(self) -> str:
        skip = ("outcome", "seconds", "summaries")
        rare = ("future_dated", "backfilled")  # said only when it happened
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

    Summaries are made (by ``summarizer``, if any) for ``summary.time_budget_s`` after the
    papers are saved, and never past ``deadline`` (a time.monotonic() value) when given; no
    arXiv request runs past it either. ``sleep`` waits out every backoff (tests pass their own).
    """
    started, now = time.monotonic(), now or datetime.now(UTC)
    with refresh_lock(store):
        state = store.load_state()
        arxiv_client = client or ArxivClient(settings, state.last_request_at, deadline, sleep=sleep)
        try:
            report, state, work = _run(config, settings, store, state, arxiv_client, now, backfill_days, progress)
            if work.order:
                report.summaries = run_summaries(
                    config, settings, store, summarizer, work, state, now, deadline, arxiv_client, sleep
                )
        except AppError as exc:
            failed = {"last_refresh_at": now, "outcome": "error", "message": str(exc)}
            if arxiv_client.last_request_at is not None:
                failed["last_request_at"] = arxiv_client.last_request_at
            _save_state_quietly(store, state.model_copy(update=failed))
            raise
        finally:
            if client is None:
                arxiv_client.close()
    report.seconds = time.monotonic() - started
    log.info("%s", report.line())
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
        work = Working(store, store.load_index())
        _attach_cached(work, config, store)
        state = store.load_state()
        with ArxivClient(settings, state.last_request_at, deadline, sleep=sleep) as arxiv_client:
            now = now or datetime.now(UTC)
            return run_summaries(config, settings, store, summarizer, work, state, now, deadline, arxiv_client, sleep)


def run_summaries(
    config: Config,
    settings: Settings,
    store: Store,
    summarizer: Summarizer | None,
    work: Working,
    state: RefreshState,
    now: datetime,
    deadline: float | None,
    arxiv_client: ArxivClient,
    sleep: Callable[[float], None] = time.sleep,
) -> SummaryReport:
    """Summarise what is due, store the papers again if anything changed, record the outcome.
    Only the papers due (the queue, the feeds' top ones) are read whole.

    Calls start for ``summary.time_budget_s`` from now, and never past ``deadline`` when given.
    """
    stop = time.monotonic() + config.summary.time_budget_s
    stop = min(stop, deadline) if deadline is not None else stop
    changed: dict[str, object] = {}
    if summarizer is None:
        report = SummaryReport(message=summary_status(config.summary, settings).message)
        queue = state.summary_queue
    else:
        due = work.whole([*state.summary_queue, *summary_candidates(work.order, config)])
        papers, report, queue = make_summaries(
            due, config, settings, store, summarizer, state.summary_queue, now, stop, arxiv_client, sleep=sleep
        )
        work.update(papers)
        if report.made or report.rejected:
            changed = papers_changed(state, store.save_papers(work.saved()), now)
    update: dict[str, object] = {
        "summary_queue": queue,
        "summary_message": report.message,
        "counts": state.counts | report.counts(),
    }
    if arxiv_client.last_request_at is not None:  # PDF downloads count for the next run's throttle
        update["last_request_at"] = arxiv_client.last_request_at
    store.save_state(state.model_copy(update=update | changed))
    return report


def _run(
    config: Config,
    settings: Settings,
    store: Store,
    state: RefreshState,
    client: ArxivClient,
    now: datetime,
    backfill_days: int | None = None,
    progress: Callable[[str], None] = log.info,
) -> tuple[RefreshReport, RefreshState, Working]:
    url = rss.feed_url(settings.arxiv_rss_base, config.categories)
    # An ETag is only good for the URL it came from: a changed category list refetches.
    same_url = state.feed_url == url
    log.info("fetching %s", url)
    fetched = rss.fetch_feed(client, url, state.etag if same_url else None, state.last_modified if same_url else None)
    state = state.model_copy(
        update={"last_request_at": client.last_request_at, "last_refresh_at": now, "feed_url": url}
    )
    report = RefreshReport()
    followed: list[Paper] = []
    if fetched.status == 304:
        report.outcome, message = "not-modified", "arXiv has nothing new since the last refresh"
    else:
        parsed = rss.parse_feed(fetched.body)
        followed = [p for p in parsed.papers if taxonomy.listed(p.categories, config.categories)]
        report.fetched, report.followed = len(parsed.papers), len(followed)
        log.info("parsed %d papers, %d in followed categories", report.fetched, report.followed)
        # A weekend or holiday feed is a quiet day: never a reason to drop stored papers.
        report.outcome, message = (
            ("ok", "") if followed else ("quiet", "arXiv announced nothing in the followed categories")
        )
    followed, report.future_dated = clamp_future(followed, now)
    index = store.load_index()
    rules = config_hash(config)
    rematch = state.config_hash != rules
    # Stored papers are read whole only where there is something to redo: those arXiv sent
    # again, those dated ahead, those never matched on their converted text, and all of them
    # after config.json's matching rules changed. The rest stay entries.
    sent, ahead = {p.id for p in followed}, now + FUTURE_TOLERANCE
    redo = [e for e in index if rematch or not e.settled or e.id in sent or e.announced > ahead]
    merged_whole, report.new, report.updated = merge_papers(clamp_future(store.load_whole(redo), now)[0], followed)
    redone = {e.id for e in redo}
    merged: list[Paper | Entry] = [*merged_whole, *(e for e in index if e.id not in redone)]
    liking = state.likes
    filling = state.backfill
    if config.backfill.enabled or backfill_days is not None:
        since = window_start(merged, now, backfill_days or config.days_back)
        forced, pages = backfill_days is not None, MAX_PAGES_ON_DEMAND if backfill_days is not None else None
        run = run_backfill(
            client, settings.arxiv_api_base, config, merged, state.backfill, now, since, forced, pages, progress
        )
        merged, report.backfilled = merge_backfilled(merged, clamp_future(run.papers, now)[0])
        filling = run.state.model_copy(update={"papers": run.state.papers + report.backfilled})
        if run.pages and filling.message:
            message = f"{message} Backfill: {filling.message}.".strip()
    work, saved = Working(store), list[Entry]()
    if merged:
        # Re-rank everything stored, so an edited config.json takes effect at the next refresh.
        keep_since = window_start(merged, now, config.days_back)
        kept = [p for p in merged if p.announced >= keep_since]
        # Stored papers keep their match unless config.json changed since they were matched.
        fresh = rank_for_config([p for p in kept if isinstance(p, Paper)], config, rematch=rematch)
        entries = store_order([*map(entry_of, fresh), *(e for e in kept if isinstance(e, Entry))], config)
        work = Working(store, entries, {p.id: p for p in fresh})
        if config.enrich:
            _enrich(work, config, settings, client)
        _attach_cached(work, config, store)
        liking, liked = _likes(config, settings, store, work, client)
        liking = _for_you(config, settings, store, work, liking, liked, now, client, state.likes)
        saved = store.save_papers(work.saved())
        report.matched, report.stored = sum(1 for e in work.order if kept_by_config(e, config)), len(work.order)
    # State last: if saving papers failed, the old ETag stays and the next run fetches again.
    counts = {k: v for k, v in asdict(report).items() if isinstance(v, int)}
    validators = {"etag": fetched.etag, "last_modified": fetched.last_modified}
    if report.future_dated:
        message = f"{message} {report.future_dated} item(s) dated in the future were dated today".strip()
    outcome = {
        "outcome": report.outcome,
        "message": message,
        "last_success_at": now,
        "counts": counts,
        "backfill": filling,
        "likes": liking,
    }
    if merged:
        outcome["config_hash"] = rules
        outcome |= papers_changed(state, saved, now)
    state = state.model_copy(update=validators | outcome | {"last_request_at": client.last_request_at})
    store.save_state(state)
    return report, state, work


@dataclass
class Working:
    """A refresh's papers: the entries of all of them in stored order, and the ones read whole
    (``changed`` if new or changed: what the save writes). Stages read whole only the papers
    they need (``whole``) and hand back what they changed (``update``)."""

    store: Store
    order: list[Entry] = field(default_factory=list)
    changed: dict[str, Paper] = field(default_factory=dict)
    read: dict[str, Paper] = field(default_factory=dict)

    def whole(self, ids: Iterable[str]) -> list[Paper]:
        """The papers of these ids (stored ones only), read whole once, in stored order."""
        wanted = set(ids)
        unread = [e for e in self.order if e.id in wanted and e.id not in self.changed and e.id not in self.read]
        self.read |= {p.id: p for p in self.store.load_whole(unread)}
        return [p for e in self.order if e.id in wanted and (p := self._current(e.id)) is not None]

    def update(self, papers: Iterable[Paper]) -> None:
        """Take these papers back; the ones that differ from what was read are saved."""
        for paper in papers:
            if paper is not self._current(paper.id):
                self.changed[paper.id] = paper

    def saved(self) -> list[Paper | Entry]:
        """What a save writes: the changed papers whole, the others by their entry."""
        return [self.changed.get(e.id, e) for e in self.order]

    def _current(self, paper_id: str) -> Paper | None:
        return self.changed.get(paper_id) or self.read.get(paper_id)


def papers_changed(state: RefreshState, entries: Sequence[Entry], now: datetime) -> dict[str, object]:
    """The state's record of when the stored papers last changed: now, if they differ from the
    ones it knew (by digest), else as it was."""
    digest = hashlib.sha256("\n".join(f"{e.id}@{e.digest}" for e in entries).encode()).hexdigest()[:24]
    if digest == state.papers_digest:
        return {}
    return {"papers_digest": digest, "papers_changed_at": now}


# What decides which papers a topic shows, and their topic score (``Paper.topics``).
TOPIC_SELECTION = {"name", "categories", "query", "keywords", "exclude_keywords", "min_score"}


def config_hash(config: Config) -> str:
    """A digest of what decides each stored paper's match, listing and topic scores (not
    summaries), and of the matching rules themselves: a new MATCHING_VERSION matches every
    paper again."""
    decisive = config.model_dump(include={"categories", "keywords", "exclude_keywords", "announce_types", "min_score"})
    decisive["topics"] = [t.model_dump(include=TOPIC_SELECTION) for t in config.topics]
    decisive["matching"] = MATCHING_VERSION
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:16]


def clamp_future(papers: list[Paper], now: datetime) -> tuple[list[Paper], int]:
    """Papers dated more than a day after ``now`` get ``now`` as their date; returns how many.

    A wrong date from upstream must neither push the window past every other paper nor keep
    one paper in the feeds for ever."""
    limit, clamped, count = now + FUTURE_TOLERANCE, [], 0
    for paper in papers:
        if paper.announced > limit:
            log.warning("arXiv: %s is dated %s, in the future; dated now instead", paper.id, paper.announced.date())
            paper, count = paper.model_copy(update={"announced": now}), count + 1
        clamped.append(paper)
    return clamped, count


def window_start(papers: Iterable[Paper | Entry], now: datetime, days_back: int) -> datetime:
    """The oldest announcement date the feeds keep, given the (date-clamped) papers known.

    The window is ``days_back`` days before the refresh's clock, so only papers that aged out
    by the clock are dropped. It reaches further back (never less far) when the newest
    announcement known is older than the clock (a deployment off for a while, a weekend after
    it, a test replaying recorded days): the last announced papers stay until newer arrive,
    so a feed is never emptied by time passing alone.
    """
    by_clock = now - timedelta(days=days_back)
    announced = [p.announced for p in papers if not p.backfilled]  # backfilled: dated by submission
    if not announced:
        return by_clock
    return min(by_clock, max(announced) - timedelta(days=days_back))


def merge_papers(stored: Iterable[Paper], fetched: Iterable[Paper]) -> tuple[list[Paper], int, int]:
    """Deduplicate by version-less id: a replacement updates the stored record in place.

    A paper keeps the announce type and date it was first seen with, so a revision does not
    move it out of (or to the top of) a feed; its version, text and metadata are updated.
    """
    papers = {p.id: p for p in stored}
    new = updated = 0
    for paper in fetched:
        known = papers.get(paper.id)
        if known is None:
            papers[paper.id] = paper
            new += 1
        elif known.backfilled:  # the announcement wins: its type and date, the API's metadata kept
            papers[paper.id] = paper.model_copy(update={"metadata": known.metadata})
        elif paper.version > known.version:
            papers[paper.id] = paper.model_copy(
                update={"announce_type": known.announce_type, "announced": known.announced, "updated": paper.announced}
            )
            updated += 1
    return list(papers.values()), new, updated


def merge_backfilled(stored: Iterable[Paper | Entry], backfilled: Iterable[Paper]) -> tuple[list[Paper | Entry], int]:
    """Add the backfill's papers the store lacks; a paper the store has (announced, or already
    backfilled in the same or a later version) stays as it is. Returns the papers and how many
    were added."""
    papers: dict[str, Paper | Entry] = {p.id: p for p in stored}
    added = 0
    for paper in backfilled:
        known = papers.get(paper.id)
        if known is None:
            added += 1
        elif not (known.backfilled and paper.version > known.version):
            continue
        papers[paper.id] = paper
    return list(papers.values()), added


def rank_for_config(papers: Iterable[Paper], config: Config, rematch: bool = True) -> list[Paper]:
    """Match papers against config.json (and its topics), note the followed categories each is
    listed under, and order them for the store (``store_order``). Papers of categories no
    longer followed are dropped. With ``rematch`` off, papers that were matched already
    (against the same config.json) keep their match: only new ones cost anything.
    """
    matcher = Matcher.build(config.keywords, config.exclude_keywords)
    settled, matched = [], []
    for paper in papers:
        if not rematch and paper.listed_in and paper.title_text and not authors_to_convert(paper):
            settled.append(paper)
            continue
        listed_in = [c for c in config.categories if taxonomy.listed(paper.categories, [c])]
        if listed_in:
            paper = readable(paper)  # matching reads the text as shown
            matched.append(paper.model_copy(update={"match": matcher.match(paper), "listed_in": listed_in}))
    return store_order([*settled, *with_topic_scores(matched, config)], config)


def store_order(items: Sequence[Item], config: Config) -> list[Item]:
    """The stored order: papers config.json keeps first, then the rest; each group best first
    (highest score, then most recently announced, then newest id), so that a default feed
    request reads only a prefix of the stored list."""
    best_first = sorted(items, key=lambda p: (_score(p), p.announced, p.id), reverse=True)
    return sorted(best_first, key=lambda p: not kept_by_config(p, config))  # stable


def _score(item: Paper | Entry) -> float:
    return item.score if isinstance(item, Entry) else item.match.score


def _likes(
    config: Config, settings: Settings, store: Store, work: Working, client: ArxivClient
) -> tuple[LikesState, list[Paper]]:
    """Resolve the liked papers (config.json's ids, its topics', the BibTeX file's) and keep
    them all in the store's liked papers, for the for-you feeds to read by id; returns the
    state's record of them, and the papers."""
    try:
        refs = bibtex_refs(bibtex_path(config, settings.config_path).read_text()) if config.like_bibtex else []
    except (OSError, UnicodeError, ValueError) as exc:  # the feeds go on; the page and /health say why
        log.warning("likes: %s cannot be read: %s", config.like_bibtex, exc)
        return LikesState(message=f"{config.like_bibtex} cannot be read: {exc}"), []
    ids = [*config.liked_ids, *(r.arxiv for r in refs if r.arxiv)]
    if not ids and not refs:
        return LikesState(), []
    found = likes.known(ids, work.whole(ids), store)
    resolved = likes.resolve(ids, found, store, client, settings.arxiv_api_base, config.categories, readable)
    liked = [*resolved.papers, *(r.as_paper() for r in refs if not r.arxiv)]
    store.save_liked(liked)
    message = f"{len(liked)} liked papers"
    if resolved.missing:
        more = " ..." if len(resolved.missing) > 5 else ""
        message += f"; arXiv has no paper {', '.join(resolved.missing[:5])}{more}"
    return LikesState(ids=[p.id for p in liked], missing=resolved.missing, message=message), liked


def _for_you(
    config: Config,
    settings: Settings,
    store: Store,
    work: Working,
    liking: LikesState,
    liked: list[Paper],
    now: datetime,
    client: ArxivClient,
    previous: LikesState,
) -> LikesState:
    """With config.json's similarity model "embeddings": each paper's most similar liked paper
    by embeddings, once every stored and liked paper has a vector; else the lexical model (the
    matches by embeddings are cleared), and the state says why. While the liked papers and the
    embedding model stay as the last refresh had them, only papers without a match (new or
    changed ones) are read whole and matched; otherwise every paper is."""
    if config.similarity.model != "embeddings" or not liking.ids:
        _clear_for_you(work)
        return liking.model_copy(update={"model": "lexical", "basis": ""})
    from core.refresh.embeddings import embed_papers, most_like

    model = config.similarity.embeddings
    basis = [model.base_url, model.model, model.dimensions, [p.versioned_id for p in liked]]
    digest = hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:16]
    carried = previous.model == "embeddings" and previous.basis == digest
    papers = work.whole(e.id for e in work.order if not (carried and e.for_you) or e.id in work.changed)
    stop_at = client.deadline - RESERVE_FOR_SAVING_S if client.deadline is not None else None
    embedded = embed_papers([*papers, *liked], config, settings, store, now, stop_at, client.clock)
    if not embedded.complete:
        log.warning("for you: lexical model, because %s", embedded.message)
        _clear_for_you(work)
        note = f"{liking.message}; for you: lexical model, because {embedded.message}"
        return liking.model_copy(update={"model": "lexical", "message": note, "basis": ""})
    for paper in papers:
        similar = most_like(paper, liked, embedded.vectors)
        if similar != paper.for_you:
            work.update([paper.model_copy(update={"for_you": similar})])
    note = f"{liking.message}; for you: embeddings ({config.similarity.embeddings.model}, {embedded.calls} calls)"
    return liking.model_copy(update={"model": "embeddings", "message": note, "basis": digest})


def _attach_cached(work: Working, config: Config, store: Store) -> None:
    """The summaries already cached for the papers that may be summarised (read whole)."""
    work.update(attach_cached(work.whole(summary_candidates(work.order, config)), config, store))


def _clear_for_you(work: Working) -> None:
    matched = work.whole(e.id for e in work.order if e.for_you)
    work.update(p.model_copy(update={"for_you": None}) for p in matched if p.for_you)


def _enrich(work: Working, config: Config, settings: Settings, client: ArxivClient) -> None:
    """Metadata from the arXiv API for the papers some feed shows (config.json's or a topic's)."""
    unenriched = {e.id for e in work.order if not e.enriched}
    wanted = work.whole([i for i in shown_ids(work.order, config) if i in unenriched][:ENRICH_LIMIT])
    work.update(enrich_papers(wanted, wanted, client, settings.arxiv_api_base, ENRICH_LIMIT))


def _save_state_quietly(store: Store, state: RefreshState) -> None:
    try:
        store.save_state(state)
    except AppError as exc:  # the original failure is the one worth raising
        log.error("could not record the failed refresh: %s", exc)
