"""The cron job's endpoint logic: check the bearer secret, run the refresh inside the
function's time limit, and report what happened as JSON.

Vercel Cron sends ``Authorization: Bearer $CRON_SECRET``; the owner triggers a manual refresh
with the same header. Without CRON_SECRET the endpoint refuses to run at all.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import asdict
from typing import Any

from core.config import Config
from core.errors import NotConfiguredError, UnauthorizedError
from core.settings import Settings
from core.store import Store

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
    body = asdict(report)
    body["queued_summaries"] = report.summaries.queued if report.summaries else 0
    return {"job": "refresh", **body}


def first_refresh(settings: Settings, config: Config, store: Store) -> None:
    """The first refresh of a deployment, run by its first page visit: papers (and as much of
    the backfill as fits FIRST_VISIT_BUDGET_S; the next refresh goes on with it) without
    summaries, which the summarize cron makes later. Someone is waiting for the page."""
    from core.refresh import refresh

    budget = min(FIRST_VISIT_BUDGET_S, settings.function_max_s - MARGIN_S)
    refresh(config, settings, store, deadline=time.monotonic() + budget)


def summarize_job(settings: Settings, config: Config, store: Store) -> dict[str, Any]:
    from core.refresh import summarize_stored
    from core.summarize import open_summarizer

    started = time.monotonic()
    deadline = started + settings.function_max_s - MARGIN_S
    report = summarize_stored(config, settings, store, open_summarizer(config.summary, settings), deadline=deadline)
    return {"job": "summarize", **asdict(report), "seconds": round(time.monotonic() - started, 2)}
