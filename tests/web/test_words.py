"""core.web.words: the store's word index as filtered feeds read it, what an instance keeps of
it, and the feeds it answers."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.config import Config
from core.models import Paper
from core.selection.indexed import find, search_of
from core.selection.query import FeedQuery
from core.selection.select import as_seen_in, select_papers
from core.settings import Settings
from core.store import Store
from core.store.sqlite import SqliteStore
from core.store.upstash import WORDS, UpstashStore
from core.web.app import create_app
from core.web.words import SegmentCache, WordIndex
from tests.conftest import TEST_CONFIG, restore_refreshed
from tests.upstash_shim import UpstashShim
from tests.web.conftest import entries

REQUESTS: list[dict[str, Any]] = [
    {"q": "abs:agent OR ti:diffusion"},
    {"q": 'abs:"language model" ANDNOT au:smith', "limit": 7},
    {"keywords": "llm,speech", "exclude": "survey", "type": "new,cross"},
]


def _revise_some(store: Store) -> list[Paper]:
    """A second save changing a few papers' titles and dropping a few: two segments, with dead
    members in the first."""
    papers = store.load_papers()
    revised = [
        p.model_copy(update={"title": f"Agent {p.title}", "title_text": f"Agent {p.display_title}"}) for p in papers[:5]
    ]
    kept = [*revised, *papers[5:-20]]
    store.save_papers(kept)
    return kept


@pytest.mark.parametrize("category", [None, "cs.CL"])
def test_a_feed_read_through_the_stores_index_is_the_feed(
    settings: Settings, config: Config, store: Store, category: str | None, request: pytest.FixtureRequest
) -> None:
    restore_refreshed(store, request)
    stored = _revise_some(store)
    reader = WordIndex().reader(store, store.load_version())
    assert reader is not None
    assert len(reader.head.segments) == 2
    assert reader.head.dead
    listed = [p for p in stored if category in p.listed_in] if category else stored
    for params in REQUESTS:
        query = FeedQuery.from_params(**params)

        def select(papers: list[Paper], query: FeedQuery = query) -> list[Paper]:
            return select_papers(as_seen_in(papers, category) if category else papers, config, query)

        search = search_of(query, config)
        assert search is not None
        within = (f"f:{category}",) if category else ()
        found = find(replace(search, within=within, crossed=bool(category)), reader, select)
        assert found == select(listed), params
        assert found, params


def test_what_an_instance_read_of_a_segment_it_reads_no_more(
    settings: Settings, shim: UpstashShim, request: pytest.FixtureRequest
) -> None:
    """A segment never changes: its postings are read once per word, across store versions."""
    store = UpstashStore(shim.url, shim.token)
    restore_refreshed(store, request)
    with TestClient(create_app(settings, store)) as client:
        shim.reset_counts()
        assert client.get("/rss?q=abs:agent").status_code == 200
        assert shim.commands["HMGET"] >= 1
        shim.reset_counts()
        assert client.get("/atom?q=abs:agent&limit=3").status_code == 200
        assert shim.commands["HMGET"] == 0
        store.save_state(store.load_state().model_copy(update={"message": "a new version"}))
        client.app.state.ctx.versions.forget()  # type: ignore[attr-defined]
        shim.reset_counts()
        assert client.get("/json?q=abs:agent").status_code == 200
        assert shim.commands["HMGET"] == 0


def test_postings_kept_are_bounded(settings: Settings, request: pytest.FixtureRequest) -> None:
    store = SqliteStore(settings.data_dir / "bounded.sqlite3")
    restore_refreshed(store, request)
    head = store.load_words()
    cache = SegmentCache(remember=200)
    for word in ("learning", "model", "language", "agent", "speech"):
        cache.postings(store, head, [f"w:{word}"])
    assert 0 < cache.kept.size <= 200 or len(cache.kept) == 1


def test_a_filtered_feed_reads_its_candidates_not_the_store(
    settings: Settings, shim: UpstashShim, request: pytest.FixtureRequest
) -> None:
    """Upstash counts bandwidth, and every cold instance makes a first filtered request: it
    reads the postings of its words and the papers it shows, not every stored paper."""
    store = UpstashStore(shim.url, shim.token)
    topics = {**TEST_CONFIG, "topics": [{"name": "rl", "query": 'ti:"reinforcement learning"'}]}
    settings.config_path.write_text(json.dumps(topics))
    restore_refreshed(store, request)
    shim.reset_counts()
    store.load_papers()
    whole = shim.bytes_out
    assert whole > 500_000
    with TestClient(create_app(settings, store)) as client:
        for path in ("/rss?q=abs:agent", "/atom/cs.CL?keywords=kv%20cache", "/json/topic/rl", "/rss?q=abs:model"):
            shim.reset_counts()
            response = client.get(path)
            assert response.status_code == 200, path
            assert shim.bytes_out < whole / 4, (path, shim.bytes_out, whole)
        assert len(entries(client.get("/rss?q=abs:model&limit=40"))) == 40


def test_a_store_the_index_does_not_cover_serves_the_same_feeds(
    settings: Settings, store: Store, request: pytest.FixtureRequest
) -> None:
    """A store written before the index (or a save killed before it was written): every paper
    is read, as before, until the next save indexes them."""
    restore_refreshed(store, request)
    paths = ("/rss?q=abs:agent%20OR%20ti:speech", "/atom/cs.CL?keywords=llm,kv%20cache&limit=5")
    with TestClient(create_app(settings, store)) as client:
        indexed = [client.get(p).text for p in paths]
    if isinstance(store, SqliteStore):
        with store._connect() as conn:
            conn.execute("DELETE FROM state WHERE key = 'words'")
    else:
        assert isinstance(store, UpstashStore)
        store.redis.call("DEL", WORDS)
    assert WordIndex().reader(store, store.load_version()) is None
    with TestClient(create_app(settings, store)) as client:
        assert [client.get(p).text for p in paths] == indexed
        assert client.app.state.ctx.papers.reads == 1  # type: ignore[attr-defined]
