"""core.scheduler: the crons' jobs run by ``serve`` itself, on a clock the test drives (no
sleeping for hours: ``now`` and ``wait`` are the scheduler's parameters)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import LockedError
from core.schedule import Job
from core.scheduler import Scheduler, run_job
from core.settings import Settings
from core.store import open_store
from tests.test_cli import run as run_cli


class Clock:
    """A clock that moves only when the scheduler waits."""

    def __init__(self, start: datetime) -> None:
        self.at = start
        self.waits: list[float] = []

    def now(self) -> datetime:
        return self.at

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.at += timedelta(seconds=seconds)
        return False


def test_the_jobs_run_at_the_crons_times_day_after_day() -> None:
    clock = Clock(datetime(2026, 12, 4, 5, 0, 30, tzinfo=UTC))
    ran: list[tuple[datetime, str]] = []

    def record(job: Job) -> None:
        ran.append((clock.at, job.name))
        if len(ran) == 2:
            raise LockedError("another refresh is running")  # logged; the schedule goes on
        if len(ran) == 4:
            scheduler.stop()

    scheduler = Scheduler(record, now=clock.now, wait=clock.wait)
    scheduler.run_forever()
    day = datetime(2026, 12, 4, tzinfo=UTC)
    assert ran == [
        (day + timedelta(hours=6), "refresh"),
        (day + timedelta(hours=7), "summarize"),
        (day + timedelta(hours=13), "refresh"),
        (day + timedelta(days=1, hours=6), "refresh"),
    ]
    assert max(clock.waits) <= 3600  # the clock is read again at least hourly


def test_a_machine_that_slept_through_a_run_runs_it_on_waking() -> None:
    clock = Clock(datetime(2026, 12, 4, 5, 59, tzinfo=UTC))
    ran: list[tuple[datetime, str]] = []

    def oversleep(seconds: float) -> bool:
        clock.at += timedelta(hours=3)  # suspended: the wait ends hours late
        return False

    def record(job: Job) -> None:
        ran.append((clock.at, job.name))
        scheduler.stop()

    scheduler = Scheduler(record, now=clock.now, wait=oversleep)
    scheduler.run_forever()
    assert ran == [(datetime(2026, 12, 4, 8, 59, tzinfo=UTC), "refresh")]


def test_a_scheduled_refresh_stores_the_days_papers(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """The real job, as the cron route runs it, against the loopback arXiv; its report line is
    logged once (the job logs it; the scheduler used to log it again)."""
    caplog.set_level(logging.INFO)
    clock = Clock(datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
    reports = []

    def job(scheduled: Job) -> None:
        reports.append(run_job(settings, scheduled))
        scheduler.stop()

    scheduler = Scheduler(job, now=clock.now, wait=clock.wait)
    scheduler.run_forever()
    assert clock.at == datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
    assert reports[0]["job"] == "refresh"
    assert reports[0]["outcome"] == "ok"
    assert open_store(settings).load_status()[1] > 0
    assert sum("fetched" in r.getMessage() for r in caplog.records) == 1


def test_serve_schedules_unless_told_not_to() -> None:
    assert Settings.from_env({}).serve_schedule is True
    assert Settings.from_env({"SERVE_SCHEDULE": "0"}).serve_schedule is False
    assert "--no-schedule" in run_cli(dict(os.environ), "serve", "--help").stdout
