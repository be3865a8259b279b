"""core.response_cache: rendered answers reused only while the store's version holds."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from core.config import Config
from core.refresh import refresh
from core.response_cache import Rendered, ResponseCache
from core.settings import Settings
from core.store import Store
from core.store.upstash import UpstashStore
from core.web import create_app
from tests.arxiv_fake import COMBINED, FakeArxiv, read
from tests.conftest import cache_directives
from tests.papers import make_paper
from tests.upstash_shim import UpstashShim


def rendered(size: int) -> Rendered:
    return Rendered(b"x" * size, '"tag"', None)


def test_an_entry_serves_only_its_version() -> None:
    cache = ResponseCache()
    cache.put("/rss", "v1", rendered(10))
    assert cache.get("/rss", "v1") == rendered(10)
    assert cache.get("/rss", "v2") is None
    assert cache.get("/atom", "v1") is None


def test_the_least_recently_used_go_first_beyond_the_byte_limit() -> None:
    cache = ResponseCache(max_bytes=100)
    for key in "abc":
        cache.put(key, "v", rendered(40))
    assert (len(cache), cache.size) == (2, 80)
    assert cache.get("a", "v") is None
    cache.get("b", "v")  # b is now the most recent
    cache.put("d", "v", rendered(40))
    assert cache.get("b", "v") is not None
    assert cache.get("c", "v") is None
    cache.put("huge", "v", rendered(101))  # larger than the whole cache: not kept
    assert cache.get("huge", "v") is None
    cache.put("b", "v2", rendered(10))  # replacing an entry frees its bytes
    assert cache.size == 50


def test_every_save_is_seen_by_the_next_request(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    client = TestClient(create_app(settings, store))
    empty = client.get("/rss")
    assert empty.content == client.get("/rss").content
    refresh(config, settings, store)
    first = client.get("/rss")
    assert b"<item>" in first.content
    assert b"2411.18077v2" not in client.get("/rss/cs.CL").content
    arxiv_server.serve(read(COMBINED).replace(b"oai:arXiv.org:2411.18077v1", b"oai:arXiv.org:2411.18077v2"))
    refresh(config, settings, store)
    assert b"2411.18077v2" in client.get("/rss/cs.CL").content
    # A save of the papers alone (no state) is seen too; so is a save of the state alone.
    query = "/json?keywords=LLM%20agents"
    assert "Only paper about LLM agents" not in client.get(query).text
    store.save_papers([make_paper("Only paper about LLM agents", listed_in=["cs.AI"])])
    assert [item["title"] for item in client.get(query).json()["items"]] == ["Only paper about LLM agents"]
    page = client.get("/").text
    store.save_state(store.load_state().model_copy(update={"message": "state only"}))
    assert client.get("/").text != page


def test_a_repeated_request_costs_one_round_trip(
    arxiv_server: FakeArxiv, settings: Settings, upstash: UpstashShim, config: Config
) -> None:
    store = UpstashStore(upstash.url, upstash.token)
    refresh(config, settings, store)
    client = TestClient(create_app(settings, store))
    first = client.get("/rss?limit=100")
    upstash.reset_counts()
    again = client.get("/rss?limit=100")
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert (upstash.round_trips, dict(upstash.commands)) == (1, {"MGET": 1})
    assert client.get("/rss?limit=100", headers={"If-None-Match": first.headers["etag"]}).status_code == 304


def test_a_failing_store_is_answered_with_the_last_rendered_bytes(
    arxiv_server: FakeArxiv, settings: Settings, config: Config, store: Store, request: pytest.FixtureRequest
) -> None:
    """stale-if-error: what was rendered stays available; only what never was gets the 503."""
    refresh(config, settings, store)
    if isinstance(store, UpstashStore):  # the same data, with a timeout short enough to wait for
        store = UpstashStore(store.url, "test-token", timeout_s=0.3)
    client = TestClient(create_app(settings, store))
    paths = ("/rss", "/", "/json/cs.AI", "/rss?q=abs:agent")
    before = {path: client.get(path) for path in paths}
    _break(store, request)
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content == before[path].content, path
        assert response.headers["etag"] == before[path].headers["etag"]
        assert "unavailable" in response.headers["x-stale"]
        directives = cache_directives(response.headers["cache-control"])  # short-lived: the fresh one follows
        assert int(directives["max-age"]) <= 60
        assert int(directives["s-maxage"]) <= 60
    never_rendered = client.get("/atom/cs.CL")
    assert never_rendered.status_code == 503
    assert client.get("/health").status_code == 503  # health tells the truth


def _break(store: Store, request: pytest.FixtureRequest) -> None:
    """The store stops answering: SQLite's tables vanish behind its back, Upstash stalls."""
    if isinstance(store, UpstashStore):
        shim: UpstashShim = request.getfixturevalue("upstash")
        shim.delay_s = 30.0  # far past the store's timeout
        request.addfinalizer(lambda: setattr(shim, "delay_s", 0.0))
        return
    with sqlite3.connect(store.path) as conn:  # type: ignore[attr-defined]
        conn.execute("ALTER TABLE state RENAME TO state_gone")
        conn.execute("ALTER TABLE papers RENAME TO papers_gone")
