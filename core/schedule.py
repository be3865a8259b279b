"""When the jobs run: the cron schedule vercel.json declares (a test keeps the two in step),
run by Vercel's crons on a deployment and by ``python -m core serve`` locally, and told by the
page and the digest.

Vercel's Hobby crons fire once a day, at any minute inside the scheduled hour, so each job
is scheduled on the hour and said to run "between 06:00 and 06:59 UTC". arXiv's RSS is rebuilt
around midnight US Eastern (05:00 UTC in winter, 04:00 in summer; holiday builds come hours
later): the morning refresh starts at 06:00, after the winter rebuild has landed, and the
afternoon one catches a late build the same day (when nothing changed arXiv answers 304,
which costs one request). Summaries the morning run left queued are made at 07:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Job:
    name: str  # "refresh" or "summarize", the cron route's last segment
    hour: int  # UTC; Vercel may fire it any minute of this hour

    @property
    def path(self) -> str:
        return f"/api/cron/{self.name}"

    @property
    def cron(self) -> str:
        """The job's expression in vercel.json."""
        return f"0 {self.hour} * * *"

    @property
    def window(self) -> str:
        return f"between {self.hour:02d}:00 and {self.hour:02d}:59 UTC"


JOBS = (Job("refresh", 6), Job("summarize", 7), Job("refresh", 13))
REFRESHES = tuple(job for job in JOBS if job.name == "refresh")
SCHEDULE_TEXT = "Refreshed every day " + " and again ".join(job.window for job in REFRESHES)


def next_run(now: datetime, jobs: tuple[Job, ...] = JOBS) -> tuple[datetime, Job]:
    """The next job to start after ``now`` and when: at the start of its hour (a deployment's
    cron may fire later in that hour; ``serve`` runs it on the hour)."""
    now = now.astimezone(UTC)
    runs = []
    for job in jobs:
        start = now.replace(hour=job.hour, minute=0, second=0, microsecond=0)
        runs.append((start if start > now else start + timedelta(days=1), job))
    return min(runs, key=lambda run: run[0])


def next_refresh(now: datetime) -> datetime:
    """The start of the hour of the next scheduled refresh (the page says "between HH:00 and
    HH:59 UTC": Vercel Hobby may fire any time in that hour)."""
    return next_run(now, REFRESHES)[0]
