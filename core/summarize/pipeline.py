"""The summary stage: which papers get a summary, the cache, the budgets, the failures.

Never pay twice: summaries are cached in the store by (id, version, language, model, prompt
version), and a paper already summarised makes no call. Calls run on a few threads inside a
time budget; what is left is queued (in the refresh state) for the next run. No failure here
stops the refresh or the feeds: a paper without a summary is served without one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from queue import Empty, SimpleQueue

from core.arxiv.client import ArxivClient
from core.config import Config
from core.errors import FetchError, LLMError
from core.models import Paper, Ranked, Summary
from core.selection.topics import shown_ids, unique_by_id
from core.settings import Settings
from core.store import Store
from core.summarize import Summarizer
from core.summarize.fulltext import extract_text, fetch_pdf
from core.summarize.prompt import PROMPT_VERSION, build_messages
from core.text.latex import strip_illegal
from core.text.markdown import render_markdown

log = logging.getLogger(__name__)

ATTEMPTS = 3  # per paper, for timeouts, 5xx and rate limits
BACKOFF_S = 1.0
# A summary is about 350 words; a reply far longer is a model gone wrong, and stored whole it
# would be served in every feed and page (and could pass Upstash's 10 MB request limit).
MAX_SUMMARY_CHARS = 32_000
HANG_GRACE_S = 2.0  # past the deadline, how long to wait for calls that should have timed out
BUDGET_SPENT = "the time budget is spent; the rest is queued for the next run"


@dataclass
class SummaryReport:
    made: int = 0
    cut: int = 0
    timed_out: int = 0
    cached: int = 0
    rejected: int = 0
    failed: int = 0
    queued: int = 0
    calls: int = 0
    tokens: int = 0
    message: str = ""

    def counts(self) -> dict[str, int]:
        return {f"summary_{k}": v for k, v in asdict(self).items() if isinstance(v, int)}


def summary_key(paper: Paper, config: Config) -> str:
    s = config.summary
    return f"{paper.versioned_id}:{s.language}:{s.model}:p{PROMPT_VERSION}"


def candidates(papers: list[Paper], config: Config) -> list[Paper]:
    """Papers that may get a summary, best first: config.json's top ones, then each summarised
    topic's top ones (``summary: false`` topics are left out)."""
    by_id = {p.id: p for p in papers}
    return [by_id[i] for i in summary_candidates(papers, config)]


def summary_candidates(papers: Sequence[Ranked], config: Config) -> list[str]:
    """The ids of ``candidates``, from the papers or their entries alone (what a refresh reads)."""
    return shown_ids(papers, config, per_feed=config.summary.max_papers, summarised_only=True)


def attach_cached(papers: list[Paper], config: Config, store: Store) -> list[Paper]:
    """Give every paper that may be summarised the summary already cached for it (one store read)."""
    keys = {p.id: summary_key(p, config) for p in candidates(papers, config)}
    cached = store.load_summaries(list(keys.values())) if keys else {}
    return [_with(p, cached.get(keys.get(p.id, ""))) for p in papers]


def make_summaries(
    papers: list[Paper],
    config: Config,
    settings: Settings,
    store: Store,
    summarizer: Summarizer,
    queue: list[str],
    now: datetime,
    deadline: float,
    arxiv: ArxivClient | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[Paper], SummaryReport, list[str]]:
    """Summarise the queued papers, then the top summary.max_papers kept ones, at most that many.

    ``arxiv`` is the run's client for full texts (its throttle counts the refresh's requests).
    Returns the papers with their summaries attached, a report, and the ids left queued.
    """
    todo, report = _due(papers, config, queue)
    own_client = arxiv is None and config.summary.source == "fulltext"
    client = ArxivClient(settings) if own_client else arxiv
    try:
        run = _Run(config, settings, summarizer, client, now, deadline, clock, sleep)
        made = _run_calls(todo, report, store, run)
    finally:
        if own_client and client is not None:
            client.close()
    report.queued = len(todo)
    log.info("summaries: %s", ", ".join(f"{k} {v}" for k, v in asdict(report).items() if v != ""))
    return [_with(p, made.get(p.id, p.summary)) for p in papers], report, [p.id for p in todo]


def _due(papers: list[Paper], config: Config, queue: list[str]) -> tuple[deque[Paper], SummaryReport]:
    """The papers to summarise now: the queue first, then by rank; at most summary.max_papers."""
    report = SummaryReport()
    by_id = {p.id: p for p in papers}
    wanted = [by_id[i] for i in queue if i in by_id] + candidates(papers, config)
    todo: deque[Paper] = deque()
    for paper in unique_by_id(wanted):
        if paper.summary is not None:
            report.cached += 1
        elif len(todo) < config.summary.max_papers:
            todo.append(paper)
    return todo, report


@dataclass(frozen=True)
class _Run:
    """What every call of one summary stage shares."""

    config: Config
    settings: Settings
    summarizer: Summarizer
    arxiv: ArxivClient | None  # for full texts
    now: datetime
    deadline: float  # a clock() value
    clock: Callable[[], float]
    sleep: Callable[[float], None]


def _run_calls(todo: deque[Paper], report: SummaryReport, store: Store, run: _Run) -> dict[str, Summary]:
    """Run the calls on ``summary.concurrency`` daemon threads until the queue, the daily budget
    or the time runs out; what is left stays in ``todo``.

    The threads are daemons and are never joined: a call that hangs past the deadline (a model
    trickling its answer) is abandoned and its paper queued, so neither the stage nor the
    process waits for it. Each result is saved as it comes, so a function killed at its time
    limit keeps what was paid for.
    """
    config, clock, deadline = run.config, run.clock, run.deadline
    sc, day = config.summary, run.now.date().isoformat()
    calls_used, tokens_used = store.add_usage(day, 0, 0)
    results: SimpleQueue[tuple[Paper, Summary | LLMError]] = SimpleQueue()
    running: dict[str, Paper] = {}
    made: dict[str, Summary] = {}

    def work(paper: Paper) -> None:
        try:
            outcome: Summary | LLMError = _summarize(paper, run)
        except LLMError as exc:
            outcome = exc
        except Exception as exc:  # a bug must not leave the stage waiting for an answer that never comes
            log.exception("summary of %s crashed", paper.versioned_id)
            outcome = LLMError("transient", f"unexpected {type(exc).__name__}: {exc}")
        results.put((paper, outcome))

    while todo or running:
        while todo and len(running) < sc.concurrency and not report.message:
            if calls_used + len(running) >= sc.daily_budget.calls or tokens_used >= sc.daily_budget.tokens:
                report.message = "the daily summary budget is spent; the rest waits for tomorrow"
            elif clock() >= deadline:
                report.message = BUDGET_SPENT
            else:
                paper = todo.popleft()
                running[paper.id] = paper
                threading.Thread(target=work, args=(paper,), name=f"summary {paper.id}", daemon=True).start()
        if not running:
            break
        try:
            paper, outcome = results.get(timeout=max(deadline - clock(), 0) + HANG_GRACE_S)
        except Empty:  # every call still running has hung past the budget: abandon them
            log.warning("summaries: %d call(s) still running at the deadline; queued for the next run", len(running))
            report.message, report.timed_out = BUDGET_SPENT, len(running)
            todo.extendleft(running.values())
            break
        del running[paper.id]
        if isinstance(outcome, LLMError):
            _failed(outcome, paper, todo, report)
            if outcome.kind != "rejected":
                continue
            summary = _rejection(outcome, config, run.summarizer, run.now)
        else:
            summary = outcome
            report.made += 1
            report.cut += 1 if summary.reason else 0
        store.save_summaries({summary_key(paper, config): summary})
        made[paper.id] = summary
        calls_used, tokens_used = store.add_usage(day, 1, summary.tokens)
        report.calls += 1
        report.tokens += summary.tokens
    return made


def _summarize(paper: Paper, run: _Run) -> Summary:
    sc, clock, deadline = run.config.summary, run.clock, run.deadline
    body, source = f"Abstract: {paper.abstract}", "abstract"
    if sc.source == "fulltext" and run.arxiv is not None:
        try:
            pdf = fetch_pdf(run.arxiv, run.settings.arxiv_pdf_base, paper, sc.pdf_max_bytes)
            body, source = extract_text(pdf, sc.max_input_chars), "fulltext"
        except FetchError as exc:
            log.warning("full text of %s unavailable, summarising the abstract: %s", paper.versioned_id, exc)
    messages = build_messages(paper, sc.language, body)
    for attempt in range(ATTEMPTS):
        timeout = min(sc.request_timeout_s, deadline - clock())
        if timeout <= 0:
            raise LLMError("budget", "no time left in the budget")
        try:
            completion = run.summarizer.complete(messages, timeout, sc.max_output_tokens)
            break
        except LLMError as exc:
            if exc.kind not in ("transient", "rate_limit") or attempt + 1 == ATTEMPTS:
                raise
            pause = BACKOFF_S * 2**attempt
            if clock() + pause >= deadline:
                raise LLMError("budget", f"{exc.message}; no time left to retry") from exc
            log.warning("%s: %s; retrying in %.0f s", paper.versioned_id, exc.message, pause)
            run.sleep(pause)
    if not completion.text.strip():
        raise LLMError("transient", "the model returned an empty summary")
    # A model's reply comes in here: cleaned of XML-illegal characters once, as every text is
    # where it comes in (render_markdown cleans what its own entities make: "&#12;").
    markdown, reason = cut_reply(strip_illegal(completion.text))
    if reason:
        log.warning("summary of %s: %s", paper.versioned_id, reason)
    return Summary(
        markdown=markdown,
        html=render_markdown(markdown),
        reason=reason,
        model=run.summarizer.model,
        provider=run.summarizer.provider,
        language=sc.language,
        source=source,
        created=run.now,
        tokens=completion.tokens,
    )


def cut_reply(text: str, limit: int = MAX_SUMMARY_CHARS) -> tuple[str, str]:
    """The reply as stored, and why it was cut ("" when it fits): cut at the last paragraph
    break before ``limit`` characters, with a note saying so."""
    if len(text) <= limit:
        return text, ""
    head = text[:limit]
    head = head[: head.rfind("\n\n")] if "\n\n" in head[limit // 2 :] else head
    reason = f"the model's reply was {len(text):,} characters; cut at {len(head):,} (limit {limit:,})"
    return head.rstrip() + "\n\n*(cut: the model's reply was too long)*", reason


def _failed(exc: LLMError, paper: Paper, todo: deque[Paper], report: SummaryReport) -> None:
    log.warning("summary of %s failed (%s): %s", paper.versioned_id, exc.kind, exc.message)
    if exc.kind == "rejected":
        report.rejected += 1
    elif exc.kind in ("rate_limit", "auth"):
        todo.appendleft(paper)  # retried by a later run
        report.message = str(exc)
    elif exc.kind == "budget":
        todo.appendleft(paper)
        report.message = BUDGET_SPENT
    else:
        report.failed += 1


def _rejection(exc: LLMError, config: Config, summarizer: Summarizer, now: datetime) -> Summary:
    return Summary(
        status="rejected",
        model=summarizer.model,
        provider=summarizer.provider,
        language=config.summary.language,
        created=now,
        reason=exc.message,
    )


def _with(paper: Paper, summary: Summary | None) -> Paper:
    """Attach a summary; a rejection is attached too, so the paper is not retried every run."""
    if summary is None or summary == paper.summary:
        return paper
    return paper.model_copy(update={"summary": summary})
