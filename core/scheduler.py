"""The crons of a deployment, run by ``python -m core serve`` itself: the jobs of
core.schedule, on the same schedule, in one background thread.

Vercel fires a job any minute inside its hour; here it starts on the hour. A machine that
slept through a run starts it on waking (once, however many were missed). A job that fails
is logged and the next one runs as planned: the last good feed keeps being served.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from core.errors import AppError
from core.schedule import JOBS, Job, next_run
from core.settings import Settings

log = logging.getLogger(__name__)

MAX_WAIT_S = 3600.0  # the clock is read again at least this often (a suspended machine, a changed clock)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    """Runs ``run(job)`` for each job of ``jobs`` at its time, until ``stop()``. ``now`` and
    ``wait`` (seconds -> whether stopped) are the clock; tests pass their own."""

    def __init__(
        self,
        run: Callable[[Job], object],
        jobs: tuple[Job, ...] = JOBS,
        now: Callable[[], datetime] = _utc_now,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self.run, self.jobs, self.now = run, jobs, now
        self._stopped = threading.Event()
        self.wait = wait or self._stopped.wait
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        while not self._stopped.is_set():
            at, job = next_run(self.now(), self.jobs)
            if not self._wait_until(at):
                return
            log.info("scheduled %s (%s)", job.name, job.window)
            try:
                self.run(job)
            except AppError as exc:  # a lock held by another run, arXiv or the store failing
                log.warning("scheduled %s failed: %s", job.name, exc)
            except Exception:  # a bug must not end the schedule: logged with its traceback
                log.exception("scheduled %s failed", job.name)

    def _wait_until(self, at: datetime) -> bool:
        """Wait until ``at``; False when stopped first."""
        while (left := (at - self.now()).total_seconds()) > 0:
            if self.wait(min(left, MAX_WAIT_S)) or self._stopped.is_set():
                return False
        return not self._stopped.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()


def run_job(settings: Settings, job: Job) -> dict[str, Any]:
    """One job as its cron route runs it (core.web.cron), config.json read anew (an edit takes
    effect at the next run, as it does on a deployment)."""
    from core.config import load_config
    from core.store import open_store
    from core.web import cron

    config = load_config(settings.config_path)
    work = cron.refresh_job if job.name == "refresh" else cron.summarize_job
    return work(settings, config, open_store(settings))  # each job logs its own report line
