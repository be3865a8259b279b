"""Upstash faults, against the real client, the REST shim and a real redis-server.

Wrong token, a slow store past the timeout, and Redis stopped in the middle of a refresh:
each gives a clear error (503 on the wire) and loses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.config import Config
from core.errors import StoreError
from core.refresh import refresh
from core.settings import Settings
from core.store import open_store
from core.store.upstash import UpstashStore
from core.web import create_app
from tests.arxiv_fake import COMBINED, FakeArxiv, read
from tests.loopback import Request
from tests.redis_server import RedisServer
from tests.upstash_shim import UpstashShim


@pytest.fixture
def shim(upstash: UpstashShim, redis_server: RedisServer) -> Iterator[UpstashShim]:
    redis_server.flush()
    upstash.reset_counts()
    yield upstash
    upstash.delay_s = 0.0
    upstash.fault = None


def assert_store_error_on_the_wire(settings: Settings, store: UpstashStore) -> None:
    with TestClient(create_app(settings, store)) as client:
        for path in ("/rss", "/atom/cs.AI", "/", "/health"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["retry-after"] == "60"
            assert "Traceback" not in response.text
            assert "test-token" not in response.text
        body = client.get("/rss").json()
        assert body["stage"] == "store"
        assert "Upstash" in body["error"]


def test_a_wrong_token_is_a_clear_error_and_touches_nothing(
    shim: UpstashShim, settings: Settings, config: Config, arxiv_server: FakeArxiv
) -> None:
    good = UpstashStore(shim.url, shim.token)
    refresh(config, settings, good)
    before = good.load_papers()
    bad = UpstashStore(shim.url, "not-the-token")
    with pytest.raises(StoreError, match="WRONGPASS"):
        bad.load_papers()
    with pytest.raises(StoreError):
        refresh(config, settings, bad)
    assert len(arxiv_server.requests) == 1  # the failed refresh never reached arXiv
    assert_store_error_on_the_wire(settings, bad)
    assert good.load_papers() == before


def test_a_slow_store_times_out_and_loses_nothing(shim: UpstashShim, settings: Settings, config: Config) -> None:
    good = UpstashStore(shim.url, shim.token)
    refresh(config, settings, good)
    before = good.load_papers()
    shim.delay_s = 1.0
    slow = UpstashStore(shim.url, shim.token, timeout_s=0.2)
    with pytest.raises(StoreError, match="ReadTimeout"):
        slow.load_papers("cs.AI")
    with pytest.raises(StoreError, match="Timeout"):
        refresh(config, settings, slow)
    assert_store_error_on_the_wire(settings, slow)
    shim.delay_s = 0.0
    assert good.load_papers() == before


def test_store_timeout_s_bounds_every_upstash_call(shim: UpstashShim, settings: Settings) -> None:
    """STORE_TIMEOUT_S reaches the HTTP client: an Upstash that stalls 20 s answers 503 in about 0.3 s."""
    env = {"UPSTASH_REDIS_REST_URL": shim.url, "UPSTASH_REDIS_REST_TOKEN": shim.token, "STORE_TIMEOUT_S": "0.3"}
    store = open_store(Settings.from_env(env))
    shim.delay_s = 20.0
    with TestClient(create_app(settings, store)) as client:
        started = time.monotonic()
        response = client.get("/rss")
        elapsed = time.monotonic() - started
    shim.delay_s = 0.0
    assert response.status_code == 503
    assert "Timeout" in response.json()["error"]
    assert elapsed < 5.0, f"the 0.3 s timeout did not apply: {elapsed:.1f} s"


@pytest.fixture
def persistent(tmp_path: Path) -> Iterator[tuple[RedisServer, UpstashShim]]:
    server = RedisServer(tmp_path / "redis", persistent=True).start()
    shim = UpstashShim(server.port)
    with shim.server:
        yield server, shim
    server.stop()


@pytest.mark.parametrize(
    ("endpoint", "failure"),
    [
        pytest.param("/pipeline", "write of new papers", id="while-writing-the-new-generation"),
        pytest.param("/multi-exec", "switch to the new papers", id="at-the-generation-switch"),
    ],
)
def test_redis_stopped_mid_refresh_keeps_the_last_good_feed(
    persistent: tuple[RedisServer, UpstashShim],
    settings: Settings,
    config: Config,
    arxiv_server: FakeArxiv,
    endpoint: str,
    failure: str,
) -> None:
    server, shim = persistent
    store = UpstashStore(shim.url, shim.token)
    refresh(config, settings, store)
    before, state = store.load_papers(), store.load_state()

    # A new day with a revised paper; Redis goes down in the middle of saving it.
    arxiv_server.serve(read(COMBINED).replace(b"oai:arXiv.org:2411.18077v1", b"oai:arXiv.org:2411.18077v2"))

    def stop_at(request: Request) -> None:
        if request.path.startswith(endpoint):
            server.stop()

    shim.fault = stop_at
    with pytest.raises(StoreError, match=failure):
        refresh(config, settings, store)
    shim.fault = None
    assert_store_error_on_the_wire(settings, store)

    server.start()  # same port, same append-only file
    assert store.load_papers() == before
    assert store.load_state() == state  # the failed refresh could not record itself either
    deadline_lock = store.acquire_lock("probe", 1)
    assert not deadline_lock  # the dead refresh's lock is still there: it expires, it is not stolen


def test_writes_are_split_into_bounded_chunks_and_batches_in_order() -> None:
    from core.store.upstash import _batches

    lists = {"a": ["x" * 10] * 7, "b": ["y" * 10] * 2, "empty": []}
    batches = _batches(lists, chunk_bytes=30, batch_bytes=60)
    pushes = [(key, len(chunk)) for batch in batches for key, chunk in batch]
    assert pushes == [("a", 3), ("a", 3), ("a", 1), ("b", 2)]
    assert all(sum(len(i) for _, chunk in batch for i in chunk) <= 60 for batch in batches)
    rebuilt: dict[str, list[str]] = {}
    for batch in batches:
        for key, chunk in batch:
            rebuilt.setdefault(key, []).extend(chunk)
    assert rebuilt == {"a": lists["a"], "b": lists["b"]}


def test_big_saves_go_in_several_requests_and_read_back_in_order(shim: UpstashShim) -> None:
    from tests.papers import make_paper

    store = UpstashStore(shim.url, shim.token)
    papers = [make_paper(f"Paper {i}", "word " * 2000, id=f"2411.{i:05d}", feeds=["cs.AI"]) for i in range(600)]
    shim.reset_counts()
    store.save_papers(papers)  # about 6 MB per list: more than one request may carry
    assert shim.round_trips >= 4
    assert [p.id for p in store.load_papers("cs.AI")] == [p.id for p in papers]
    assert [p.id for p in store.load_papers(None, limit=3)] == [p.id for p in papers[:3]]
    store.save_papers([])
    assert store.load_papers() == []
    assert store.count_papers() == 0
