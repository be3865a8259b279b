"""The end a job must finish by, for the store's network calls (Upstash's REST API).

A cron job's function is killed at the platform's limit; its refresh stops working before
that and saves in the time kept for it. Within ``finishing_by(end)`` no store request waits
past ``end`` (a ``time.monotonic()`` value). The end is a context variable, so it holds for
the job's own thread of work only: a feed request the same instance serves meanwhile keeps
its usual timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_end: ContextVar[float | None] = ContextVar("store_finish_by", default=None)


@contextmanager
def finishing_by(end: float | None) -> Iterator[None]:
    """Within the block, no store request of this thread runs past ``end`` (None: no end)."""
    token = _end.set(end)
    try:
        yield
    finally:
        _end.reset(token)


def time_left() -> float | None:
    """Seconds left before the end set by ``finishing_by``; None when none is set."""
    end = _end.get()
    return None if end is None else end - time.monotonic()
