"""Upstash faults, against the real client, the REST shim and a real redis-server.

Wrong token, a slow store past the timeout, and Redis stopped in the middle of a refresh:
each gives a clear error (503 on the wire) and loses nothing.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.config import Config
from core.errors import StoreError
from core.models import Paper, Summary
from core.refresh import refresh
from core.settings import Settings
from core.store import open_store
from core.store.upstash import UpstashStore
from core.web.app import create_app
from tests.arxiv_fake import COMBINED, FakeArxiv, read
from tests.loopback import Request
from tests.papers import make_paper, stored
from tests.redis_server import RedisServer
from tests.upstash_shim import UpstashShim


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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_writes_are_split_into_bounded_batches_in_order() -> None:
    from core.store.upstash import _sized_batches

    items = ["x" * 10] * 7 + ["y" * 50, "z"]
    batches = _sized_batches(items, len, limit=30)
    assert [len(b) for b in batches] == [3, 3, 1, 1, 1]
    assert all(sum(map(len, b)) <= 30 for b in batches if len(b) > 1)
    assert [i for b in batches for i in b] == items


def test_big_saves_go_in_several_requests_and_read_back_in_order(shim: UpstashShim) -> None:
    from tests.papers import make_paper

    store = UpstashStore(shim.url, shim.token)
    papers = [make_paper(f"Paper {i}", "word " * 2000, id=f"2411.{i:05d}", listed_in=["cs.AI"]) for i in range(600)]
    shim.reset_counts()
    store.save_papers(papers)  # about 6 MB per list: more than one request may carry
    assert shim.round_trips >= 4
    assert [p.id for p in store.load_papers("cs.AI")] == [p.id for p in papers]
    assert [p.id for p in store.load_papers(None, limit=3)] == [p.id for p in papers[:3]]
    store.save_papers([])
    assert store.load_papers() == []
    assert store.load_status()[1] == 0


def synthetic_papers(count: int, day: datetime) -> list[Paper]:
    """Papers of a realistic size (a 1.5 KB abstract each), listed under cs.AI or cs.LG."""
    words = [
        "we",
        "propose",
        "a",
        "method",
        "for",
        "large",
        "language",
        "model",
        "agents",
        "and",
        "evaluate",
        "it",
        "on",
        "benchmarks",
    ]
    return [
        make_paper(
            f"Paper {n} on " + " ".join(words[n % 7 : n % 7 + 5]),
            abstract=" ".join(words[(n + k) % len(words)] for k in range(220)),
            id=f"2411.{n:05d}",
            announced=day,
            categories=["cs.AI" if n % 2 else "cs.LG"],
            listed_in=["cs.AI" if n % 2 else "cs.LG"],
        )
        for n in range(count)
    ]


@pytest.mark.slow
def test_a_store_past_10_mb_still_saves_and_serves(shim: UpstashShim, settings: Settings) -> None:
    """6,000 papers (over 10 MB of JSON) — one whole-list read would pass Upstash's 10 MB limit."""
    store = UpstashStore(shim.url, shim.token)
    papers = synthetic_papers(6_000, datetime(2024, 11, 28, tzinfo=UTC))
    assert sum(len(p.model_dump_json()) for p in papers) > 10_000_000
    store.save_papers(papers)
    assert [p.id for p in store.load_papers()] == [p.id for p in papers]
    assert len(store.load_papers("cs.AI")) == 3_000
    with TestClient(create_app(settings, store)) as client:
        assert client.get("/rss?q=abs:agents&min_score=0").status_code == 200
        assert client.get("/rss/cs.LG?limit=200&min_score=0").text.count("<item>") == 200


def test_a_save_writes_only_new_or_changed_papers(shim: UpstashShim) -> None:
    store = UpstashStore(shim.url, shim.token)
    day = datetime(2024, 11, 28, tzinfo=UTC)
    papers = synthetic_papers(1_000, day)
    store.save_papers(papers)
    shim.reset_counts()
    store.save_papers(papers)  # nothing changed: only the order is written again
    unchanged = shim.bytes_in
    assert unchanged < 100_000, unchanged  # names in two lists, not papers (1,000 papers: 1.7 MB)
    changed = [papers[0].model_copy(update={"title": "Revised"}), *papers[1:], *synthetic_papers(1_010, day)[1_000:]]
    shim.reset_counts()
    store.save_papers(changed[:-5] + changed[-5:])
    assert shim.bytes_in < unchanged + 11 * 3_000  # the 1 revised and 10 new papers
    assert stored(store, papers[0].id).title == "Revised"  # type: ignore[union-attr]
    store.save_papers(changed[500:])  # 500 papers leave the window
    assert stored(store, papers[0].id) is None
    store.save_papers(changed[500:])  # versions no generation uses go one save later
    assert len(store.redis.call("KEYS", "arb:paper:*")) == len(store.redis.call("KEYS", "arb:entry:*")) == 510


def test_big_vectors_and_summaries_go_and_come_in_requests_under_10_mb(shim: UpstashShim) -> None:
    """1,000 vectors of 4,096 dimensions (22 MB) and 200 summaries at the reply cap (13 MB)."""
    store = UpstashStore(shim.url, shim.token)
    vectors = {f"m:4096:2411.{n:05d}v1": base64.b64encode(bytes([n % 256]) * 4 * 4096).decode() for n in range(1_000)}
    store.save_vectors(vectors)
    assert store.load_vectors(list(vectors)) == vectors
    made = datetime(2024, 11, 28, tzinfo=UTC)
    summary = Summary(
        markdown="x" * 32_000, html="<p>" + "x" * 32_000 + "</p>", model="m", provider="p", language="en", created=made
    )
    summaries = {f"2411.{n:05d}v1:en:m:p1": summary for n in range(200)}
    store.save_summaries(summaries)
    assert store.load_summaries(list(summaries)) == summaries
    assert shim.max_request_bytes == 10_000_000  # every request and answer above passed the limit
