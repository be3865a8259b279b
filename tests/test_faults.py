"""The fault matrix of docs/reliability.md: every fault the refresh can meet, and what is
stored and served afterwards.

Each case starts from the same last good refresh of the recorded arXiv feed (a copy of one
SQLite file), injects one fault through a real server on loopback (arXiv, DashScope, the
store's own SQL) or by killing the process, and checks the papers, the state, the feed the
app serves and the lock. The Upstash store's faults are in test_store_upstash.py.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from core.arxiv.rss import feed_url
from core.config import Config, parse_config
from core.errors import AppError, FeedError, FetchError, StoreError
from core.refresh import refresh, summarize_stored
from core.settings import Settings
from core.store import Store
from core.store.sqlite import SqliteStore
from core.store.upstash import UpstashStore
from core.summarize import open_summarizer
from core.web.app import create_app
from tests.arxiv_fake import COMBINED, EMPTY_WEEKDAY, ERROR_FEED, FakeArxiv, read
from tests.conftest import TEST_CONFIG, no_wait, process_env
from tests.dashscope_fake import JSON, FakeDashScope
from tests.loopback import Reply
from tests.papers import stored
from tests.upstash_shim import UpstashShim
from tests.waiting import wait_until

ROOT = Path(__file__).parents[1]
REVISED = read(COMBINED).replace(b"oai:arXiv.org:2411.18077v1", b"oai:arXiv.org:2411.18077v2")
SUMMARIES = {"max_papers": 1, "concurrency": 1, "time_budget_s": 60, "request_timeout_s": 0.5, "language": "en"}


@pytest.fixture
def good_store(refreshed_sqlite: Path, tmp_path: Path, settings: Settings) -> SqliteStore:
    """The session's one good refresh, copied for this case."""
    copy = tmp_path / "store.sqlite3"
    # SQLite's backup API: the file alone may lack what is still in the write-ahead log.
    with closing(sqlite3.connect(refreshed_sqlite)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    store = SqliteStore(copy)
    # As if that refresh had asked this test's arXiv (its ETag is only sent to the same URL).
    url = feed_url(settings.arxiv_rss_base, TEST_CONFIG["categories"])
    store.save_state(store.load_state().model_copy(update={"feed_url": url}))
    return store


def served_ids(settings: Settings, store: Store) -> list[str]:
    with TestClient(create_app(settings, store)) as client:
        response = client.get("/rss")
    assert response.status_code == 200
    return [entry.id for entry in feedparser.parse(response.content).entries]


# --- arXiv ----------------------------------------------------------------------------------

HTML_ERROR = Reply(200, b"<html><body><h1>Service Unavailable</h1></body></html>", {"Content-Type": "text/html"})
ARXIV_FAULTS = [
    pytest.param([Reply(200, REVISED, delay_s=1.0)] * 3, {"arxiv_timeout_s": 0.2}, FetchError, id="timeout"),
    pytest.param([], {"arxiv_rss_base": "http://127.0.0.1:9/rss"}, FetchError, id="connection-refused"),
    pytest.param([Reply(503, b"busy", {"Retry-After": "1"})] * 3, {}, FetchError, id="503-retry-after"),
    pytest.param([Reply(429, b"slow down")] * 3, {}, FetchError, id="429"),
    pytest.param([Reply(503, b"", {"Retry-After": "86400"})], {}, FetchError, id="503-retry-tomorrow"),
    pytest.param([HTML_ERROR], {}, FeedError, id="html-200"),
    pytest.param([Reply(200, REVISED[:50_000])], {}, FeedError, id="truncated-xml"),
    pytest.param([Reply(200, read(ERROR_FEED))], {}, FeedError, id="error-feed"),
]


@pytest.mark.parametrize(("replies", "changes", "error"), ARXIV_FAULTS)
def test_arxiv_faults_keep_the_last_good_feed(
    arxiv_server: FakeArxiv,
    settings: Settings,
    good_store: SqliteStore,
    replies: list[Reply],
    changes: dict[str, Any],
    error: type[AppError],
) -> None:
    config = parse_config(TEST_CONFIG)
    before, good, shown = good_store.load_papers(), good_store.load_state(), served_ids(settings, good_store)
    arxiv_server.serve(REVISED)
    arxiv_server.queue(*replies)
    with pytest.raises(error):
        refresh(config, dataclasses.replace(settings, **changes), good_store, sleep=no_wait)
    assert good_store.load_papers() == before
    state = good_store.load_state()
    assert (state.outcome, state.last_success_at, state.etag) == ("error", good.last_success_at, good.etag)
    assert state.message.startswith("arxiv: ")
    assert served_ids(settings, good_store) == shown
    assert good_store.lock_holder() is None


@pytest.mark.parametrize(
    ("replies", "outcome"),
    [
        pytest.param([Reply(200, read(EMPTY_WEEKDAY))], "quiet", id="empty-weekday"),
        pytest.param([], "not-modified", id="304"),
    ],
)
def test_quiet_answers_change_nothing(
    arxiv_server: FakeArxiv, settings: Settings, good_store: SqliteStore, replies: list[Reply], outcome: str
) -> None:
    before, shown = good_store.load_papers(), served_ids(settings, good_store)
    arxiv_server.queue(*replies)
    assert refresh(parse_config(TEST_CONFIG), settings, good_store).outcome == outcome
    assert good_store.load_papers() == before
    assert good_store.load_state().outcome == outcome
    assert served_ids(settings, good_store) == shown


@pytest.mark.slow
@pytest.mark.parametrize(
    "replies",
    [
        pytest.param([Reply(503, b"busy", {"Retry-After": "1"})], id="503-then-ok"),
        pytest.param([Reply(429, b"slow down"), Reply(502, b"bad gateway")], id="429-502-then-ok"),
        pytest.param([Reply(200, REVISED, delay_s=1.0)], id="timeout-then-ok"),
    ],
)
def test_passing_faults_are_retried_and_the_feed_updated(
    arxiv_server: FakeArxiv, settings: Settings, good_store: SqliteStore, replies: list[Reply]
) -> None:
    arxiv_server.serve(REVISED)
    arxiv_server.queue(*replies)
    report = refresh(
        parse_config(TEST_CONFIG), dataclasses.replace(settings, arxiv_timeout_s=0.5), good_store, sleep=no_wait
    )
    assert (report.outcome, report.updated) == ("ok", 1)
    assert len(arxiv_server.requests) == len(replies) + 1
    revised = stored(good_store, "2411.18077")
    assert revised is not None
    assert revised.version == 2
    assert good_store.load_state().etag == arxiv_server.etag


# --- the store ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_sqlite_write_failing_halfway_rolls_back(
    arxiv_server: FakeArxiv, settings: Settings, good_store: SqliteStore
) -> None:
    """SQLite itself fails the 100th row of the new set (a trigger standing in for a full disk)."""
    before, good, shown = good_store.load_papers(), good_store.load_state(), served_ids(settings, good_store)
    fail = "CREATE TRIGGER full_disk BEFORE INSERT ON entries WHEN (SELECT count(*) FROM entries) >= 100 "
    fail += "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    with sqlite3.connect(good_store.path) as conn:
        conn.execute(fail)
    arxiv_server.serve(REVISED)
    with pytest.raises(StoreError, match="database or disk is full"):
        refresh(parse_config(TEST_CONFIG), settings, good_store)
    assert good_store.load_papers() == before
    state = good_store.load_state()
    assert (state.outcome, state.etag, state.last_success_at) == ("error", good.etag, good.last_success_at)
    assert served_ids(settings, good_store) == shown
    assert good_store.lock_holder() is None
    with sqlite3.connect(good_store.path) as conn:
        conn.execute("DROP TRIGGER full_disk")
    assert refresh(parse_config(TEST_CONFIG), settings, good_store).updated == 1  # the old ETag: fetched again


# --- the LLM --------------------------------------------------------------------------------


def summarize(settings: Settings, store: Store, dashscope: FakeDashScope) -> tuple[Config, Any]:
    config = parse_config({**TEST_CONFIG, "summary": SUMMARIES})
    keyed = dataclasses.replace(settings, dashscope_api_key="sk-test", dashscope_base_url=dashscope.native_base)
    return config, summarize_stored(config, keyed, store, open_summarizer(config.summary, keyed), sleep=no_wait)


def native(body: object, status: int = 200) -> Reply:
    return Reply(status, json.dumps(body).encode(), JSON)


LLM_FAULTS = [
    pytest.param({"latency_s": 2.0}, [], "failed", id="timeout"),
    pytest.param({"always": "Throttling.RateQuota"}, [], "queued", id="rate-limit"),
    pytest.param({"always": "InternalError"}, [], "failed", id="5xx"),
    pytest.param({"reject_containing": "arXiv: "}, [], "rejected", id="content-rejection"),
    pytest.param({}, [Reply(200, b"<html>gateway</html>", {"Content-Type": "text/html"})] * 3, "failed", id="html"),
    pytest.param({}, [Reply(200, b'{"output": {"choi', JSON)] * 3, "failed", id="truncated-json"),
    pytest.param({}, [native({"output": {}, "usage": {}, "request_id": "x"})] * 3, "failed", id="no-choices"),
    pytest.param({}, [native({"output": None, "usage": None})] * 3, "failed", id="null-output"),
    pytest.param(
        {},
        [native({"output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": ""}}]}})]
        * 3,
        "failed",
        id="empty-summary",
    ),
    pytest.param({}, [native(["not", "an", "object"])] * 3, "failed", id="json-array"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("knobs", "raw", "counted"), LLM_FAULTS)
def test_llm_faults_lose_no_paper_and_a_later_run_catches_up(
    settings: Settings,
    good_store: SqliteStore,
    dashscope: FakeDashScope,
    knobs: dict[str, Any],
    raw: list[Reply],
    counted: str,
) -> None:
    before, shown = [p.id for p in good_store.load_papers()], served_ids(settings, good_store)
    for name, value in knobs.items():
        setattr(dashscope, name, value)
    dashscope.raw.extend(raw)
    config, report = summarize(settings, good_store, dashscope)
    assert report.made == 0
    assert getattr(report, counted) >= 1
    assert [p.id for p in good_store.load_papers()] == before
    assert served_ids(settings, good_store) == shown
    assert good_store.lock_holder() is None
    # DashScope is well again: the next run summarises what the fault left (a rejection stays).
    for name in knobs:
        setattr(dashscope, name, FakeDashScope().__dict__[name])
    dashscope.raw.clear()
    _, again = summarize(settings, good_store, dashscope)
    if counted == "rejected":
        assert again.made == 0
    else:
        assert again.made == config.summary.max_papers
        assert sum(p.summary is not None for p in good_store.load_papers()) == config.summary.max_papers


# --- the process killed ---------------------------------------------------------------------


def cli_env(settings: Settings, store: Store, upstash: UpstashShim | None, **extra: str) -> dict[str, str]:
    env = process_env(settings, **extra)
    if isinstance(store, UpstashStore):
        assert upstash is not None
        env |= {"UPSTASH_REDIS_REST_URL": upstash.url, "UPSTASH_REDIS_REST_TOKEN": upstash.token}
    else:
        assert isinstance(store, SqliteStore)
        env["DATA_DIR"] = str(store.path.parent)
    return env


def kill_when(process: subprocess.Popen[bytes], reached: Any) -> None:
    def still_running_and_reached() -> bool:
        assert process.poll() is None, "the refresh ended before the kill"
        return bool(reached())

    wait_until(still_running_and_reached, "the refresh reached the point to kill it at", timeout_s=30)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.fixture
def shim_or_none(request: pytest.FixtureRequest, store: Store) -> UpstashShim | None:
    return request.getfixturevalue("upstash") if isinstance(store, UpstashStore) else None


@pytest.mark.slow
def test_killed_while_fetching_the_next_run_recovers(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config, shim_or_none: UpstashShim | None
) -> None:
    if isinstance(store, SqliteStore):
        store = SqliteStore(settings.data_dir / "arxiv-rss-bot.sqlite3")  # the file the CLI opens
    refresh(config, settings, store)
    before = store.load_papers()
    arxiv_server.serve(REVISED)
    arxiv_server.queue(Reply(200, REVISED, delay_s=60))  # the CLI waits on this answer
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "refresh"], cwd=ROOT, env=cli_env(settings, store, shim_or_none)
    )
    kill_when(process, lambda: len(arxiv_server.requests) == 2)
    assert process.returncode == -signal.SIGKILL
    assert store.lock_holder() is not None  # the dead refresh's lock is still there...
    assert store.load_papers() == before
    report = refresh(config, settings, store)  # ...and the next run takes it over at once
    assert (report.outcome, report.updated) == ("ok", 1)
    assert store.lock_holder() is None


@pytest.mark.slow
def test_killed_while_summarising_the_papers_are_saved_and_summaries_resume(
    arxiv_server: FakeArxiv, settings: Settings, tmp_path: Path, dashscope: FakeDashScope
) -> None:
    config = parse_config({**TEST_CONFIG, "summary": SUMMARIES | {"request_timeout_s": 120}})
    settings.config_path.write_text(config.model_dump_json())
    store = SqliteStore(settings.data_dir / "arxiv-rss-bot.sqlite3")
    dashscope.latency_s = 60
    env = cli_env(settings, store, None, DASHSCOPE_API_KEY="sk-test", DASHSCOPE_BASE_URL=dashscope.native_base)
    process = subprocess.Popen([sys.executable, "-m", "core", "refresh"], cwd=ROOT, env=env)
    kill_when(process, lambda: len(dashscope.calls) == 1)
    assert store.load_status()[1] == 367  # saved before the first summary was asked for
    assert store.load_state().outcome == "ok"
    dashscope.latency_s = 0
    _, report = summarize(settings, store, dashscope)
    assert report.made == 1
    assert refresh(config, settings, store).outcome == "not-modified"
