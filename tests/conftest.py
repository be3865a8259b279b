"""Shared fixtures: a fake arXiv on loopback, settings pointing at it, a store, the app."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.config import Config, parse_config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.store.sqlite import SqliteStore
from core.store.upstash import UpstashStore
from core.web.app import create_app
from tests.arxiv_fake import FakeArxiv
from tests.dashscope_fake import FakeDashScope
from tests.redis_server import RedisServer, Resp
from tests.upstash_shim import UpstashShim

TEST_CONFIG = {
    "title": "Test radar",
    "categories": ["cs.AI", "cs.LG", "cs.CL"],
    "keywords": ["large language model", "LLM", "reinforcement learning", "RL", "kv cache"],
    "exclude_keywords": ["survey"],
    "max_papers": 50,
    "min_score": 1,
    "days_back": 7,
    "announce_types": ["new", "cross"],
}


def cache_directives(header: str) -> dict[str, str]:
    """Cache-Control as a dict: "public, max-age=60" -> {"public": "", "max-age": "60"}."""
    pairs = (part.strip().partition("=") for part in header.split(","))
    return {name.lower(): value for name, _, value in pairs if name}


def no_wait(seconds: float) -> None:
    """A ``sleep`` for the code under test: backoffs are asked for and pass at once."""


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``python -m core`` or uvicorn subprocess: these settings, arXiv
    requests unspaced, and none of this machine's store settings or LLM keys."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("UPSTASH", "KV_", "DASHSCOPE")) and not k.endswith("_API_KEY")
    }
    return {
        **clean,
        "CONFIG_PATH": str(settings.config_path),
        "DATA_DIR": str(settings.data_dir),
        "ARXIV_RSS_BASE": settings.arxiv_rss_base,
        "ARXIV_API_BASE": settings.arxiv_api_base,
        "ARXIV_PDF_BASE": settings.arxiv_pdf_base,
        "ARXIV_MIN_INTERVAL_S": "0",
        **extra,
    }


@pytest.fixture
def arxiv_server() -> Iterator[FakeArxiv]:
    fake = FakeArxiv()
    with fake.server:
        yield fake


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TEST_CONFIG))
    return path


@pytest.fixture
def config() -> Config:
    return parse_config(TEST_CONFIG)


@pytest.fixture
def settings(tmp_path: Path, arxiv_server: FakeArxiv, config_path: Path) -> Settings:
    return Settings.from_env(
        {
            "CONFIG_PATH": str(config_path),
            "DATA_DIR": str(tmp_path / "data"),
            "ARXIV_RSS_BASE": arxiv_server.rss_base,
            "ARXIV_API_BASE": arxiv_server.server.url + "/api/query",
            "ARXIV_PDF_BASE": arxiv_server.server.url + "/pdf",
            "ARXIV_MIN_INTERVAL_S": "0.05",
        }
    )


@pytest.fixture
def dashscope() -> Iterator[FakeDashScope]:
    fake = FakeDashScope()
    with fake.server:
        yield fake


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def upstash(redis_server: RedisServer) -> Iterator[UpstashShim]:
    shim = UpstashShim(redis_server.port)
    with shim.server:
        yield shim


@pytest.fixture
def shim(upstash: UpstashShim, redis_server: RedisServer) -> Iterator[UpstashShim]:
    """The session's Upstash shim over an empty Redis, with its counters, latency and faults reset."""
    redis_server.flush()
    upstash.reset_counts()
    yield upstash
    upstash.delay_s = 0.0
    upstash.fault = None
    upstash.max_request_bytes, upstash.max_record_bytes = 10_000_000, 100_000_000


@pytest.fixture(params=["sqlite", "upstash"])
def store(request: pytest.FixtureRequest, settings: Settings) -> Store:
    """Every test that uses a store runs once with each backend."""
    if request.param == "sqlite":
        return SqliteStore(settings.data_dir / "test.sqlite3")
    shim: UpstashShim = request.getfixturevalue("upstash")
    request.getfixturevalue("redis_server").flush()
    shim.delay_s = 0.0
    shim.reset_counts()
    return UpstashStore(shim.url, shim.token, timeout_s=5.0)


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def refreshed_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One refresh of the recorded feed with TEST_CONFIG, made once a session (a SQLite file)."""
    data = tmp_path_factory.mktemp("refreshed")
    fake = FakeArxiv()
    with fake.server:
        env = {
            "ARXIV_RSS_BASE": fake.rss_base,
            "ARXIV_API_BASE": fake.server.url + "/api/query",
            "ARXIV_MIN_INTERVAL_S": "0",  # the loopback arXiv needs no spacing
            "DATA_DIR": str(data),
        }
        refresh(parse_config(TEST_CONFIG), Settings.from_env(env), SqliteStore(data / "refreshed.sqlite3"))
    return data / "refreshed.sqlite3"


@pytest.fixture(scope="session")
def refreshed_redis(refreshed_sqlite: Path, redis_server: RedisServer, upstash: UpstashShim) -> dict[bytes, bytes]:
    """The same refresh in Upstash's layout: every key, as DUMP gives it, to RESTORE per test."""
    redis_server.flush()
    UpstashStore(upstash.url, upstash.token).save_state(SqliteStore(refreshed_sqlite).load_state())
    UpstashStore(upstash.url, upstash.token).save_papers(SqliteStore(refreshed_sqlite).load_papers())
    conn = Resp(redis_server.port)
    try:
        return {key: conn.call("DUMP", key) for key in conn.call("KEYS", "*")}
    finally:
        conn.close()


def restore_refreshed(store: Store, request: pytest.FixtureRequest) -> None:
    """Put the session's one refresh into this test's (empty) store."""
    if isinstance(store, SqliteStore):
        source = request.getfixturevalue("refreshed_sqlite")
        store.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(store.path)) as dst:
            src.backup(dst)
        return
    dump: dict[bytes, bytes] = request.getfixturevalue("refreshed_redis")
    conn = Resp(request.getfixturevalue("redis_server").port)
    try:
        for key, value in dump.items():
            conn.call("RESTORE", key, 0, value, "REPLACE")
    finally:
        conn.close()


@pytest.fixture
def served(store: Store, client: TestClient, request: pytest.FixtureRequest) -> TestClient:
    """The app over a store holding one good refresh of the recorded feed (each backend)."""
    restore_refreshed(store, request)
    return client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The everyday subset (``-m "not slow"``) runs the pipeline tests on SQLite; their Upstash
    twins run in the full suite. The store's own tests (test_store*.py) keep both backends."""
    for item in items:
        params = getattr(item, "callspec", None)
        if params is not None and params.params.get("store") == "upstash" and "test_store" not in item.nodeid:
            item.add_marker(pytest.mark.slow)
