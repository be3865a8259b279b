"""The jobs that write, run by the web app: check the cron's bearer secret, run the refresh
or the summaries inside the function's time limit and report what happened as JSON; and a
deployment's first refresh, run by its first page visit.

Vercel Cron sends ``Authorization: Bearer $CRON_SECRET``; the owner triggers a manual refresh
with the same header. Without CRON_SECRET the endpoint refuses to run at all.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from dataclasses import asdict
from typing import Any

from core.config import Config
from core.errors import AppError, NotConfiguredError, UnauthorizedError
from core.settings import Settings
from core.store import Store
from core.web.response_cache import VersionCheck

log = logging.getLogger(__name__)

FIRST_VISIT_BUDGET_S = 100.0  # the first page visit waits for this at most (the backfill keeps 60 s)
MARGIN_S = 20.0  # time left for saving and answering before the platform kills the function


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


def refresh_job(settings: Settings, config: Config, store: Store) -> dict[str, Any]:
    from core.refresh import refresh  # feedparser and the LLM SDKs load only for the cron job
    from core.summarize import open_summarizer

    started = time.monotonic()
    deadline = started + settings.function_max_s - MARGIN_S
    report = refresh(config, settings, store, summarizer=open_summarizer(config.summary, settings), deadline=deadline)
    log.info("%s", report.line())
    body = asdict(report)
    body["queued_summaries"] = report.summaries.queued if report.summaries else 0
    return {"job": "refresh", **body}


class FirstVisit:
    """On the first page visit of a deployment that never refreshed (settings'
    ``first_visit_refresh``), its first refresh, run before answering, once per instance. A
    failure is logged: the page then says why it is empty, and the cron tries again."""

    def __init__(self, settings: Settings, config: Config, store: Store, versions: VersionCheck) -> None:
        self.settings, self.config, self.store, self.versions = settings, config, store, versions
        self._lock = threading.Lock()
        self._checked = threading.Event()

    def refresh(self) -> None:
        if not self.settings.first_visit_refresh or self._checked.is_set():
            return
        with self._lock:
            if self._checked.is_set():
                return
            self._checked.set()
            state, count = self.store.load_status()
            if state.outcome != "never" or count:
                return
            log.info("first visit of a deployment that never refreshed: refreshing now")
            try:
                first_refresh(self.settings, self.config, self.store)
            except AppError as exc:  # LockedError: another instance is at it
                log.warning("first refresh: %s", exc)
            self.versions.forget()


def first_refresh(settings: Settings, config: Config, store: Store) -> None:
    """The first refresh of a deployment, run by its first page visit: papers (and as much of
    the backfill as fits FIRST_VISIT_BUDGET_S; the next refresh goes on with it) without
    summaries, which the summarize cron makes later. Someone is waiting for the page."""
    from core.refresh import refresh

    budget = min(FIRST_VISIT_BUDGET_S, settings.function_max_s - MARGIN_S)
    report = refresh(config, settings, store, deadline=time.monotonic() + budget)
    log.info("%s", report.line())


def summarize_job(settings: Settings, config: Config, store: Store) -> dict[str, Any]:
    from core.refresh import summarize_stored
    from core.summarize import open_summarizer

    started = time.monotonic()
    deadline = started + settings.function_max_s - MARGIN_S
    report = summarize_stored(config, settings, store, open_summarizer(config.summary, settings), deadline=deadline)
    return {"job": "summarize", **asdict(report), "seconds": round(time.monotonic() - started, 2)}
