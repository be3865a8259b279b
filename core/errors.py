"""The few named errors of arxiv-rss-bot, each carrying the stage that failed.

Every error the service raises on purpose is an ``AppError``. The web layer maps them to
HTTP in one module (``core.web.errors``); the CLI prints ``str(error)`` and exits non-zero.
"""

from __future__ import annotations

from typing import Literal


class AppError(Exception):
    """Base class: ``stage`` names the part that failed, ``hint`` says how to fix it."""

    stage = "app"
    http_status = 500

    def __init__(self, message: str, hint: str = "", **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.extra = extra  # more fields for the JSON error body (e.g. the valid categories)

    def __str__(self) -> str:
        text = f"{self.stage}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(AppError):
    """config.json or an environment setting is wrong."""

    stage = "config"


class FetchError(AppError):
    """arXiv could not be reached or answered with an HTTP error."""

    stage = "arxiv"
    http_status = 502


class FeedError(AppError):
    """arXiv answered, but with an error feed or bytes that are not a feed."""

    stage = "arxiv"
    http_status = 502


class StoreError(AppError):
    """The store (SQLite file or Upstash) is unreachable or failed."""

    stage = "store"
    http_status = 503


class BusyError(AppError):
    """This instance is at its limit of costly work; the request may be retried shortly."""

    stage = "web"
    http_status = 503


class LockedError(AppError):
    """Another refresh holds the lock."""

    stage = "refresh"
    http_status = 409


class QueryError(AppError):
    """A request's query-string parameter is malformed."""

    stage = "query"
    http_status = 422

    def __init__(self, parameter: str, message: str, hint: str = "") -> None:
        super().__init__(f"parameter '{parameter}': {message}", hint)
        self.parameter = parameter


LLMErrorKind = Literal["rate_limit", "rejected", "transient", "auth", "invalid", "budget"]


class LLMError(AppError):
    """The summarising model failed; ``kind`` says how the caller should react.

    rate_limit: back off, retry later · rejected: the content was refused, do not retry ·
    transient: timeout or 5xx, retry a few times · auth: the key is wrong, stop ·
    invalid: the request itself was refused (a 4xx), do not retry this run ·
    budget: the run's time ran out first, queue the paper for the next run.
    """

    stage = "summarize"

    def __init__(self, kind: LLMErrorKind, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.kind = kind


class UnauthorizedError(AppError):
    """A protected endpoint was called without the right secret."""

    stage = "auth"
    http_status = 401


class NotConfiguredError(AppError):
    """A feature needs a setting that is missing (e.g. CRON_SECRET)."""

    stage = "config"
    http_status = 503


class NotFoundError(AppError):
    """A category or paper that this service does not serve."""

    stage = "web"
    http_status = 404


class ZoteroError(AppError):
    """The Zotero Web API refused (a bad key or library), failed, or asked to wait; the last
    sync's likes stay. ``status`` is Zotero's HTTP status when it answered with one; ``wait_s``
    is set when the sync should simply go on later (a Backoff, a Retry-After, no time left)."""

    stage = "zotero"
    http_status = 502

    def __init__(self, message: str, hint: str = "", status: int | None = None, wait_s: float | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.wait_s = wait_s
