"""core.web.paper_cache: filtered and topic feeds read every stored paper once per store version."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from core.config import Config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.store.upstash import UpstashStore
from core.web.app import create_app
from core.web.paper_cache import PaperCache
from tests.arxiv_fake import FakeArxiv
from tests.conftest import TEST_CONFIG
from tests.upstash_shim import UpstashShim


def test_one_read_per_version(arxiv_server: FakeArxiv, settings: Settings, config: Config, store: Store) -> None:
    refresh(config, settings, store)
    cache = PaperCache()
    state, papers, version = cache.load(store, store.load_version())
    assert papers == store.load_papers()
    assert cache.load(store, store.load_version())[1] is papers
    assert cache.reads == 1
    store.save_state(state.model_copy(update={"message": "a new refresh"}))
    new_version = store.load_version()
    assert new_version != version
    assert cache.load(store, new_version)[0].message == "a new refresh"
    assert cache.reads == 2


def test_filtered_feeds_cost_one_command_once_the_papers_are_read(
    arxiv_server: FakeArxiv, settings: Settings, config: Config, upstash: UpstashShim, redis_server: object
) -> None:
    """Upstash counts bandwidth: a filtered or topic feed must not read the whole store each time."""
    redis_server.flush()  # type: ignore[attr-defined]
    store = UpstashStore(upstash.url, upstash.token)
    topics = {**TEST_CONFIG, "topics": [{"name": "rl", "query": 'ti:"reinforcement learning"'}]}
    settings.config_path.write_text(json.dumps(topics))
    refresh(config, settings, store)
    with TestClient(create_app(settings, store)) as client:
        upstash.reset_counts()
        assert client.get("/rss?q=abs:agent").status_code == 200
        first = upstash.bytes_out
        assert first > 500_000  # the whole store, once
        for path in ("/atom/cs.CL?keywords=kv%20cache", "/json/topic/rl", "/rss?exclude=llm&min_score=0"):
            upstash.reset_counts()
            assert client.get(path).status_code == 200, path
            assert upstash.command_count <= 1, path  # at most the version check (once a second)
            assert upstash.bytes_out < 10_000, path
