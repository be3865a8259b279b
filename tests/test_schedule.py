"""core.schedule: the cron times, as vercel.json declares them and the page tells them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from core.schedule import JOBS, SCHEDULE_TEXT, next_refresh, next_run

VERCEL_JSON = Path(__file__).parents[1] / "vercel.json"


def test_vercel_json_declares_the_crons_of_core_schedule() -> None:
    crons = json.loads(VERCEL_JSON.read_text())["crons"]
    assert [(c["path"], c["schedule"]) for c in crons] == [(job.path, job.cron) for job in JOBS]


def test_every_refresh_starts_after_arxivs_winter_rebuild_and_a_second_one_follows() -> None:
    """Hobby crons fire anywhere inside the hour: a 05:xx schedule could fire at 05:00, the
    minute arXiv's winter rebuild lands."""
    refreshes = [job for job in JOBS if job.name == "refresh"]
    assert len(refreshes) == 2
    assert all(job.hour >= 6 for job in refreshes)
    (summarize,) = [job for job in JOBS if job.name == "summarize"]
    assert refreshes[0].hour < summarize.hour  # the summaries the morning run left queued
    assert SCHEDULE_TEXT == "Refreshed every day between 06:00 and 06:59 UTC and again between 13:00 and 13:59 UTC"


def test_the_next_run_and_the_next_refresh() -> None:
    assert next_run(datetime(2026, 12, 4, 5, 59, tzinfo=UTC)) == (datetime(2026, 12, 4, 6, tzinfo=UTC), JOBS[0])
    assert next_run(datetime(2026, 12, 4, 6, 0, tzinfo=UTC))[1].name == "summarize"
    assert next_refresh(datetime(2026, 12, 4, 6, 30, tzinfo=UTC)) == datetime(2026, 12, 4, 13, tzinfo=UTC)
    assert next_refresh(datetime(2026, 12, 4, 13, 0, tzinfo=UTC)) == datetime(2026, 12, 5, 6, tzinfo=UTC)


def test_the_page_and_the_digest_say_what_really_happens(served: TestClient) -> None:
    page = re.sub(r"<[^>]+>", "", served.get("/").text)  # the words, without the spans keeping them unbroken
    assert re.search(r"next refresh \d{4}-\d\d-\d\d between (06|13):00 and \1:59 UTC", page)
    assert SCHEDULE_TEXT in served.get("/digest.md").text
