"""core.web.response_cache: rendered answers reused only while the store's version holds."""

from __future__ import annotations

import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from core.config import Config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.store.upstash import UpstashStore
from core.web.app import create_app
from core.web.response_cache import ENTRY_BYTES, Rendered, ResponseCache, cost
from tests.arxiv_fake import COMBINED, FakeArxiv, read
from tests.papers import make_paper
from tests.upstash_shim import UpstashShim
from tests.waiting import ManualClock


def rendered(size: int, version: str = "v") -> Rendered:
    return Rendered(b"x" * size, '"tag"', None, version)


def test_an_entry_serves_only_its_version() -> None:
    cache = ResponseCache()
    cache.put("/rss", rendered(10, "v1"))
    assert cache.get("/rss", "v1") == rendered(10, "v1")
    assert cache.get("/rss", "v2") is None
    assert cache.get("/atom", "v1") is None


def test_an_answer_is_kept_gzip_compressed_and_counted_at_that_size() -> None:
    """What eight filtered feeds kept cost is what their compressed bytes cost (bench/concurrent_memory.py)."""
    item = "<item><title>Paper {n} on speech</title><link>https://arxiv.org/abs/2411.{n:05d}</link></item>"
    body = "".join(item.format(n=n) for n in range(3000)).encode()
    kept = Rendered.of(body, None, "v")
    assert kept.body() == body
    assert cost(kept) < len(body) / 3
    assert Rendered.of(body, None, "v") == kept  # the same bytes on every instance (no timestamp in the header)


def test_the_least_recently_used_go_first_beyond_the_byte_limit() -> None:
    cache = ResponseCache(max_bytes=100 + 2 * ENTRY_BYTES)  # an entry costs its body and ENTRY_BYTES
    for key in "abc":
        cache.put(key, rendered(40))
    assert (len(cache), cache.size) == (2, 80 + 2 * ENTRY_BYTES)
    assert cache.get("a", "v") is None
    cache.get("b", "v")  # b is now the most recent
    cache.put("d", rendered(40))
    assert cache.get("b", "v") is not None
    assert cache.get("c", "v") is None
    cache.put("huge", rendered(101 + ENTRY_BYTES))  # larger than the whole cache: not kept
    assert cache.get("huge", "v") is None
    cache.put("b", rendered(10, "v2"))  # replacing an entry frees its bytes
    assert cache.size == 50 + 2 * ENTRY_BYTES


def test_urls_padded_with_junk_parameters_cannot_grow_it_past_its_bound() -> None:
    """8,000 URLs with 7 KB of junk parameters each once held 58 MB in a cache that counted
    only bodies. Entries are kept under a digest of their key and counted with their share of
    bookkeeping, so what the cache holds stays near its bound, whatever the URLs."""
    bound = 2**20
    cache = ResponseCache(max_bytes=bound)
    junk = "&x=" + "j" * 7_000
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for n in range(8_000):
            key = (f"http://127.0.0.1/rss?min_score={n}{junk}", None)
            cache.put(key, Rendered(b"<rss/>" * 20, f'"{n}"', None, "v"))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.size <= bound
    assert len(cache) < 8_000  # the bound counts the keys too: old entries went
    assert held < 2 * bound  # 56 MB of URLs kept before
    last = (f"http://127.0.0.1/rss?min_score=7999{junk}", None)
    assert cache.get(last, "v") is not None


@pytest.mark.slow
def test_every_save_is_seen_within_a_second(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    """The version is checked at most once a second per instance; any save shows after that."""
    clock = ManualClock()
    client = TestClient(create_app(settings, store, clock=clock))
    empty = client.get("/rss")
    assert empty.content == client.get("/rss").content
    refresh(config, settings, store)
    assert client.get("/rss").content == empty.content  # within the second: the kept answer
    clock.advance(1.0)
    first = client.get("/rss")
    assert b"<item>" in first.content
    assert b"2411.18077v2" not in client.get("/rss/cs.CL").content
    arxiv_server.serve(read(COMBINED).replace(b"oai:arXiv.org:2411.18077v1", b"oai:arXiv.org:2411.18077v2"))
    refresh(config, settings, store)
    clock.advance(1.0)
    assert b"2411.18077v2" in client.get("/rss/cs.CL").content
    # A save of the papers alone (no state) is seen too; so is a save of the state alone.
    query = "/json?keywords=LLM%20agents"
    assert "Only paper about LLM agents" not in client.get(query).text
    store.save_papers([make_paper("Only paper about LLM agents", listed_in=["cs.AI"])])
    clock.advance(1.0)
    assert [item["title"] for item in client.get(query).json()["items"]] == ["Only paper about LLM agents"]
    page = client.get("/").text
    store.save_state(store.load_state().model_copy(update={"message": "state only"}))
    clock.advance(1.0)
    assert client.get("/").text != page


@pytest.mark.slow
def test_concurrent_misses_of_one_url_render_once(
    arxiv_server: FakeArxiv, settings: Settings, shim: UpstashShim, config: Config
) -> None:
    store = UpstashStore(shim.url, shim.token)
    refresh(config, settings, store)
    client = TestClient(create_app(settings, store))
    client.get("/health")  # the app is up
    shim.reset_counts()
    shim.delay_s = 0.2  # every store read takes a while: the misses overlap
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: client.get("/rss/cs.CL?limit=7"), range(8)))
    finally:
        shim.delay_s = 0.0
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert shim.commands["LRANGE"] == 1  # the feed was read (and rendered) once
