"""The summary stage: which papers get a summary, the cache, the budgets, the failures.

Never pay twice: summaries are cached in the store by (id, version, language, model, prompt
version), and a paper already summarised makes no call. Calls run on a few threads inside a
time budget; what is left is queued (in the refresh state) for the next run. No failure here
stops the refresh or the feeds: a paper without a summary is served without one.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import httpx

from core.arxiv import Throttle
from core.config import Config
from core.errors import FetchError, LLMError
from core.markdown import render_markdown
from core.models import Paper, Summary
from core.query import kept_by_config
from core.settings import Settings
from core.store import Store
from core.summarize import Summarizer
from core.summarize.fulltext import extract_text, fetch_pdf
from core.summarize.prompt import PROMPT_VERSION, build_messages
from core.topics import topic_papers

log = logging.getLogger(__name__)

ATTEMPTS = 3  # per paper, for timeouts, 5xx and rate limits
BACKOFF_S = 1.0
# A summary is about 350 words; a reply far longer is a model gone wrong, and stored whole it
# would be served in every feed and page (and could pass Upstash's 10 MB request limit).
MAX_SUMMARY_CHARS = 32_000


@dataclass
class SummaryReport:
    made: int = 0
    cut: int = 0
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
    limit = config.summary.max_papers
    chosen = [p for p in papers if kept_by_config(p, config)][:limit]
    for topic in config.topics:
        if topic.summary:
            chosen += topic_papers(papers, config, topic)[:limit]
    return unique_by_id(chosen)


def unique_by_id(papers: list[Paper]) -> list[Paper]:
    """Each paper once, where it first appears."""
    first: dict[str, Paper] = {}
    for paper in papers:
        first.setdefault(paper.id, paper)
    return list(first.values())


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
    clock: Callable[[], float] = time.monotonic,
    last_arxiv_request: datetime | None = None,
) -> tuple[list[Paper], SummaryReport, list[str]]:
    """Summarise the queued papers, then the top summary.max_papers kept ones, at most that many.

    Returns the papers with their summaries attached, a report, and the ids left queued.
    """
    sc, report = config.summary, SummaryReport()
    kept = candidates(papers, config)
    by_id = {p.id: p for p in papers}
    wanted = [by_id[i] for i in queue if i in by_id] + kept
    todo: deque[Paper] = deque()
    for paper in unique_by_id(wanted):  # queued first, then by rank
        if paper.summary is not None:
            report.cached += 1
        elif len(todo) < sc.max_papers:
            todo.append(paper)
    calls_used, tokens_used = store.add_usage(now.date().isoformat(), 0, 0)
    made: dict[str, Summary] = {}
    throttle = Throttle(settings.arxiv_min_interval_s)
    if last_arxiv_request is not None:  # the RSS fetch a moment ago counts for arXiv's 3-second rule
        throttle.seed((datetime.now(UTC) - last_arxiv_request).total_seconds())
    with httpx.Client(timeout=sc.request_timeout_s) as http, ThreadPoolExecutor(sc.concurrency) as pool:
        running: dict[Future[Summary], Paper] = {}
        while todo or running:
            while todo and len(running) < sc.concurrency and not report.message:
                if calls_used + len(running) >= sc.daily_budget.calls or tokens_used >= sc.daily_budget.tokens:
                    report.message = "the daily summary budget is spent; the rest waits for tomorrow"
                elif clock() >= deadline:
                    report.message = "the time budget is spent; the rest is queued for the next run"
                else:
                    paper = todo.popleft()
                    running[
                        pool.submit(
                            _summarize, paper, config, settings, summarizer, http, throttle, now, deadline, clock
                        )
                    ] = paper
            if not running:
                break
            done, _ = wait(running, timeout=max(deadline - clock(), 0) + 5, return_when=FIRST_COMPLETED)
            if not done:  # in-flight calls ran past the budget: leave them, keep what we have
                report.message = "the time budget is spent; the rest is queued for the next run"
                todo.extendleft(running.values())
                for future in running:
                    future.cancel()
                break
            for future in done:
                paper = running.pop(future)
                try:
                    summary = future.result()
                except LLMError as exc:
                    _failed(exc, paper, todo, report)
                    if exc.kind == "rejected":
                        summary = _rejection(exc, config, summarizer, now)
                    else:
                        continue
                else:
                    report.made += 1
                    if summary.reason:
                        report.cut += 1
                # Saved one by one: a function killed at its time limit keeps what was paid for.
                key = summary_key(paper, config)
                store.save_summaries({key: summary})
                made[paper.id] = summary
                calls_used, tokens_used = store.add_usage(now.date().isoformat(), 1, summary.tokens)
                report.calls += 1
                report.tokens += summary.tokens
    report.queued = len(todo)
    log.info("summaries: %s", ", ".join(f"{k} {v}" for k, v in asdict(report).items() if v != ""))
    return [_with(p, made.get(p.id, p.summary)) for p in papers], report, [p.id for p in todo]


def _summarize(
    paper: Paper,
    config: Config,
    settings: Settings,
    summarizer: Summarizer,
    http: httpx.Client,
    throttle: Throttle,
    now: datetime,
    deadline: float,
    clock: Callable[[], float],
) -> Summary:
    sc = config.summary
    body, source = f"Abstract: {paper.abstract}", "abstract"
    if sc.source == "fulltext":
        try:
            pdf = fetch_pdf(http, settings.arxiv_pdf_base, paper, throttle, sc.pdf_max_bytes)
            body, source = extract_text(pdf, sc.max_input_chars), "fulltext"
        except FetchError as exc:
            log.warning("full text of %s unavailable, summarising the abstract: %s", paper.versioned_id, exc)
    messages = build_messages(paper, sc.language, body)
    for attempt in range(ATTEMPTS):
        timeout = min(sc.request_timeout_s, deadline - clock())
        if timeout <= 0:
            raise LLMError("transient", "no time left in the budget")
        try:
            completion = summarizer.complete(messages, timeout, sc.max_output_tokens)
            break
        except LLMError as exc:
            if exc.kind not in ("transient", "rate_limit") or attempt + 1 == ATTEMPTS:
                raise
            pause = BACKOFF_S * 2**attempt
            if clock() + pause >= deadline:
                raise
            log.warning("%s: %s; retrying in %.0f s", paper.versioned_id, exc.message, pause)
            time.sleep(pause)
    if not completion.text.strip():
        raise LLMError("transient", "the model returned an empty summary")
    markdown, reason = cut_reply(completion.text)
    if reason:
        log.warning("summary of %s: %s", paper.versioned_id, reason)
    return Summary(
        markdown=markdown,
        html=render_markdown(markdown),
        reason=reason,
        model=summarizer.model,
        provider=summarizer.provider,
        language=sc.language,
        source=source,
        created=now,
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
