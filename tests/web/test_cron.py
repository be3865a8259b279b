"""The cron endpoints and HTTP caching, through the real app (and the Vercel entry point)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from core.config import Config
from core.settings import Settings
from core.store import Store
from core.store.sqlite import SqliteStore
from core.web.app import create_app
from core.web.cron import MARGIN_S
from core.web.http_cache import NO_STORE
from tests.arxiv_fake import FakeArxiv
from tests.conftest import process_env
from tests.loopback import Reply, free_port
from tests.uvicorn_server import serve, wait_for_health
from tests.waiting import wait_until

SECRET = "cron-secret-for-tests-0123456789"


@pytest.fixture
def cron_client(settings: Settings, store: Store) -> TestClient:
    return TestClient(create_app(dataclasses.replace(settings, cron_secret=SECRET), store))


@pytest.mark.slow
def test_cron_refresh_needs_the_bearer_secret(cron_client: TestClient, arxiv_server: FakeArxiv) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET}, {"Authorization": "Bearer "}):
        response = cron_client.get("/api/cron/refresh", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["cache-control"] == "no-store"
        assert SECRET not in response.text
    assert arxiv_server.requests == []
    response = cron_client.get("/api/cron/refresh", headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    report = response.json()
    assert (report["job"], report["outcome"], report["new"], report["stored"]) == ("refresh", "ok", 367, 367)
    assert report["seconds"] > 0
    assert report["queued_summaries"] == 0
    assert "no DASHSCOPE_API_KEY" in report["summaries"]["message"]


@pytest.mark.slow
def test_a_hung_arxiv_cannot_keep_the_cron_past_the_functions_limit(
    settings: Settings, store: Store, arxiv_server: FakeArxiv
) -> None:
    """arXiv trickling its answer for minutes, a function limit 2 s past the margin: the run
    stops in time, answers a JSON error and records the failure."""
    arxiv_server.queue(*[Reply(200, b"<rss>" + b" " * 10_000, trickle_s=0.1)] * 3)
    limit = dataclasses.replace(settings, cron_secret=SECRET, function_max_s=MARGIN_S + 2, arxiv_timeout_s=30)
    client = TestClient(create_app(limit, store))
    started = time.monotonic()
    response = client.get("/api/cron/refresh", headers={"Authorization": f"Bearer {SECRET}"})
    assert time.monotonic() - started < 2 + 3  # the 2 s left, and one read's grace
    assert response.status_code == 502
    assert response.json()["stage"] == "arxiv"
    state = store.load_state()
    assert state.outcome == "error"
    assert "ReadTimeout" in state.message or "no time left" in state.message


def test_cron_refuses_without_a_configured_secret(client: TestClient, arxiv_server: FakeArxiv) -> None:
    response = client.get("/api/cron/refresh", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 503
    assert "CRON_SECRET is not set" in response.json()["error"]
    assert arxiv_server.requests == []


@pytest.mark.slow
def test_a_second_cron_call_while_one_runs_is_refused(
    cron_client: TestClient, arxiv_server: FakeArxiv, store: Store
) -> None:
    arxiv_server.latency_s = 1.5  # the first refresh is still fetching when the second arrives
    results: list[int] = []
    first = threading.Thread(
        target=lambda: results.append(
            cron_client.get("/api/cron/refresh", headers={"Authorization": f"Bearer {SECRET}"}).status_code
        )
    )
    first.start()
    wait_until(lambda: arxiv_server.requests, "the first refresh reached arXiv")
    second = cron_client.get("/api/cron/refresh", headers={"Authorization": f"Bearer {SECRET}"})
    first.join()
    assert second.status_code == 409
    assert "another refresh is running" in second.json()["error"]
    assert results == [200]


def test_cron_summarize_endpoint(cron_client: TestClient, arxiv_server: FakeArxiv) -> None:
    assert cron_client.get("/api/cron/summarize").status_code == 401
    response = cron_client.get("/api/cron/summarize", headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 200
    assert response.json()["job"] == "summarize"


@pytest.mark.slow
def test_the_vercel_entry_point_runs_under_uvicorn(
    tmp_path: Path, arxiv_server: FakeArxiv, settings: Settings, config: Config
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.index:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=Path(__file__).parents[2],
        env=process_env(settings, CRON_SECRET=SECRET),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, process)
        health = httpx.get(base + "/health")
        assert health.json()["papers"] == 0
        cron = httpx.get(base + "/api/cron/refresh", headers={"Authorization": f"Bearer {SECRET}"}, timeout=60)
        assert cron.json()["stored"] == 367
        assert httpx.get(base + "/rss/cs.CL").status_code == 200
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.slow
def test_the_first_visitor_sees_progress_at_once_while_the_first_refresh_runs(
    arxiv_server: FakeArxiv, settings: Settings, tmp_path: Path
) -> None:
    """Not a blank page for up to 100 s: the page streams its head before the refresh has
    fetched anything, a line of progress as it goes, and a reload to the papers at the end."""
    arxiv_server.latency_s = 2.0  # arXiv takes its time
    store = SqliteStore(tmp_path / "first.sqlite3")
    app = create_app(dataclasses.replace(settings, first_visit_refresh=True), store)
    with serve(app) as url:
        started = time.monotonic()
        with httpx.stream("GET", url + "/", timeout=60) as response:
            chunks = response.iter_text()
            head = next(chunks)
            assert time.monotonic() - started < 1.5  # before arXiv has answered
            assert "fetching arXiv's announcements now" in head
            assert store.load_status()[1] == 0
            rest = "".join(chunks)
    assert response.headers["cache-control"] == NO_STORE
    assert "done: the papers are stored" in rest
    assert rest.endswith('<meta http-equiv="refresh" content="1"><p><a href="/">Show the papers</a></p></html>\n')
    assert store.load_status()[1] > 0
