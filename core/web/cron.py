"""The jobs that write, run by the web app: check the cron's bearer secret, run the refresh
or the summaries inside the function's time limit and report what happened as JSON; and a
deployment's first refresh, run by its first page visit.

Vercel Cron sends ``Authorization: Bearer $CRON_SECRET``; the owner triggers a manual refresh
with the same header. Without CRON_SECRET the endpoint refuses to run at all.
"""

from __future__ import annotations

import hmac
import html
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from core.config import Config
from core.errors import AppError, NotConfiguredError, UnauthorizedError
from core.settings import Settings
from core.store import Store
from core.store.deadline import finishing_by
from core.web.response_cache import VersionCheck

log = logging.getLogger(__name__)

FIRST_VISIT_BUDGET_S = 100.0  # the first visit's refresh runs this long at most (the backfill keeps 60 s)
PROGRESS_EVERY_S = 5.0  # the first visit's page shows a line at least this often
MARGIN_S = 20.0  # time left for saving and answering before the platform kills the function
ANSWER_S = 2.0  # of it, kept for answering: no store request runs into it (core.store.deadline)


def authorize(header: str | None, secret: str | None) -> None:
    if not secret:
        raise NotConfiguredError(
            "CRON_SECRET is not set, so the refresh endpoint refuses to run",
            "set CRON_SECRET in the environment (Vercel: Project Settings > Environment Variables)",
        )
    scheme, _, given = (header or "").strip().partition(" ")
    # Constant-time comparison: the time taken says nothing about how much of the secret matched.
    if scheme.lower() != "bearer" or not given or not hmac.compare_digest(given.strip().encode(), secret.encode()):
        raise UnauthorizedError("missing or wrong bearer token", "send Authorization: Bearer $CRON_SECRET")


@contextmanager
def job_time(settings: Settings, budget_s: float | None = None) -> Iterator[float]:
    """A cron job's deadline for its work (a ``time.monotonic()`` value): the function's limit
    less MARGIN_S, or ``budget_s`` from now when sooner. Within the block no store request runs
    past the limit less ANSWER_S (core.store.deadline)."""
    started = time.monotonic()
    limit = started + settings.function_max_s
    deadline = limit - MARGIN_S if budget_s is None else min(started + budget_s, limit - MARGIN_S)
    with finishing_by(limit - ANSWER_S):
        yield deadline


def refresh_job(settings: Settings, config: Config, store: Store) -> dict[str, Any]:
    from core.refresh import refresh  # feedparser and the LLM SDKs load only for the cron job
    from core.summarize import open_summarizer

    with job_time(settings) as deadline:
        summarizer = open_summarizer(config.summary, settings)
        report = refresh(config, settings, store, summarizer=summarizer, deadline=deadline)
    log.info("%s", report.line())
    body = asdict(report)
    body["queued_summaries"] = report.summaries.queued if report.summaries else 0
    return {"job": "refresh", **body}


class FirstVisit:
    """On the first page visit of a deployment that never refreshed (settings'
    ``first_visit_refresh``), its first refresh, once per instance, shown as it runs: the page
    is streamed (Vercel streams Python functions' responses), its head at once, then a line
    of progress at least every ``PROGRESS_EVERY_S``, then a reload to the papers. The request
    stays open while the refresh runs, which keeps the function alive for it; it lasts at
    most FIRST_VISIT_BUDGET_S plus the save, inside the function's 300 s. A failure is logged
    and said on the page: the page then says why it is empty, and the cron tries again."""

    def __init__(self, settings: Settings, config: Config, store: Store, versions: VersionCheck) -> None:
        self.settings, self.config, self.store, self.versions = settings, config, store, versions
        self._lock = threading.Lock()
        self._checked = threading.Event()

    def due(self) -> bool:
        """Whether this request is the one to run the deployment's first refresh (true once)."""
        if not self.settings.first_visit_refresh or self._checked.is_set():
            return False
        with self._lock:
            if self._checked.is_set():
                return False
            self._checked.set()
            state, count = self.store.load_status()
            return state.outcome == "never" and not count

    def stream(self) -> Iterator[str]:
        """The progress page, while the first refresh runs in a thread."""
        log.info("first visit of a deployment that never refreshed: refreshing now")
        import queue  # here: only a deployment's first visit streams a refresh

        lines: queue.Queue[str] = queue.Queue()
        done = threading.Event()

        def work() -> None:
            try:
                first_refresh(self.settings, self.config, self.store, progress=lines.put)
                lines.put("done: the papers are stored")
            except AppError as exc:  # LockedError: another instance is at it
                log.warning("first refresh: %s", exc)
                lines.put(f"the first refresh stopped: {exc}")
            finally:
                self.versions.forget()
                done.set()

        started = time.monotonic()
        threading.Thread(target=work, name="first-refresh", daemon=True).start()
        yield render_progress_head(self.config.title)
        while not (done.is_set() and lines.empty()):
            try:
                line = lines.get(timeout=PROGRESS_EVERY_S)
            except queue.Empty:
                line = "still fetching"
            yield f"<li>{round(time.monotonic() - started)} s: {html.escape(line)}</li>\n"
        yield PROGRESS_TAIL


def render_progress_head(title: str) -> str:
    # Over 1 KB before the first line, so no browser holds the page back to sniff its encoding.
    padding = "<!--" + " " * 1024 + "-->"
    return (
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}: first refresh</title>"
        f"{padding}<h1>{html.escape(title)}</h1><p>This deployment has never refreshed, so it is fetching "
        f"arXiv's announcements now (at most {FIRST_VISIT_BUDGET_S:.0f} s; the next refresh goes on with the "
        "rest). This page shows the papers when it is done.</p><ol>\n"
    )


# A meta refresh works anywhere in the document and needs no script (the page's CSP allows none inline).
PROGRESS_TAIL = '</ol><meta http-equiv="refresh" content="1"><p><a href="/">Show the papers</a></p></html>\n'


def first_refresh(settings: Settings, config: Config, store: Store, progress: Callable[[str], None] = log.info) -> None:
    """The first refresh of a deployment, run by its first page visit: papers (and as much of
    the backfill as fits FIRST_VISIT_BUDGET_S; the next refresh goes on with it) without
    summaries, which the summarize cron makes later. Someone is waiting for the page."""
    from core.refresh import refresh

    with job_time(settings, FIRST_VISIT_BUDGET_S) as deadline:
        report = refresh(config, settings, store, deadline=deadline, progress=progress)
    log.info("%s", report.line())


def summarize_job(settings: Settings, config: Config, store: Store) -> dict[str, Any]:
    from core.refresh import summarize_stored
    from core.summarize import open_summarizer

    started = time.monotonic()
    with job_time(settings) as deadline:
        summarizer = open_summarizer(config.summary, settings)
        report = summarize_stored(config, settings, store, summarizer, deadline=deadline)
    log.info("summaries: %s", ", ".join(f"{k} {v}" for k, v in asdict(report).items() if v))
    return {"job": "summarize", **asdict(report), "seconds": round(time.monotonic() - started, 2)}
