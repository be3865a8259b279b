"""core.web.snapshot: every stored paper read once per store version, its indexes built once,
and one snapshot per render."""

from __future__ import annotations

import dataclasses
import gc
import json

from fastapi.testclient import TestClient

from core.config import Config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.store.upstash import UpstashStore
from core.web.app import create_app
from core.web.snapshot import PaperCache, Snapshot
from tests.arxiv_fake import FakeArxiv
from tests.conftest import TEST_CONFIG
from tests.upstash_shim import UpstashShim
from tests.web.conftest import SPEECH


def test_one_read_per_version(arxiv_server: FakeArxiv, settings: Settings, config: Config, store: Store) -> None:
    refresh(config, settings, store)
    cache = PaperCache()
    snapshot = cache.load(store, store.load_version())
    assert snapshot.papers == store.load_papers()
    assert cache.load(store, store.load_version()) is snapshot
    assert cache.reads == 1
    store.save_state(snapshot.state.model_copy(update={"message": "a new refresh"}))
    new_version = store.load_version()
    assert new_version != snapshot.version
    assert cache.load(store, new_version).state.message == "a new refresh"
    assert cache.reads == 2


def test_a_versions_papers_are_kept_out_of_the_cycle_collectors_scans(
    arxiv_server: FakeArxiv, settings: Settings, config: Config, store: Store
) -> None:
    """About fifteen containers a paper, none in a cycle: scanning them made a third of a first
    filtered request's time at 30,000 stored papers (bench/scale.py)."""
    refresh(config, settings, store)
    frozen = gc.get_freeze_count()
    papers = PaperCache().load(store, store.load_version()).papers
    assert len(papers) > 300
    assert gc.get_freeze_count() - frozen > 5 * len(papers)
    assert gc.isenabled()


def test_the_words_are_indexed_once_per_version(
    arxiv_server: FakeArxiv, settings: Settings, config: Config, store: Store
) -> None:
    refresh(config, settings, store)
    cache = PaperCache()
    index = cache.load(store, store.load_version()).text_index
    assert cache.load(store, store.load_version()).text_index is index
    store.save_state(store.load_state().model_copy(update={"message": "a new refresh"}))
    assert cache.load(store, store.load_version()).text_index is not index


def test_liked_papers_come_from_the_refresh_or_the_stored_papers(
    liking: TestClient, arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    snapshot = PaperCache().load(store, store.load_version())
    asked = len(arxiv_server.requests)
    configured = snapshot.liked(SPEECH)
    assert [p.id for p in configured.papers] == SPEECH
    similar = [s for p in snapshot.papers if (s := configured.likeness(p)) is not None]
    assert similar
    assert {s.id for s in similar} <= set(SPEECH)
    other = next(p for p in snapshot.papers if p.id not in SPEECH)
    stored = snapshot.liked([other.id])  # not configured, but stored
    assert [p.id for p in stored.papers] == [other.id]
    like_other = [s for p in snapshot.papers if (s := stored.likeness(p)) is not None]
    assert like_other
    assert {s.id for s in like_other} == {other.id}
    assert len(arxiv_server.requests) == asked  # neither asked arXiv
    assert configured.notes == stored.notes == []


class CountedLoads(PaperCache):
    """The app's paper cache, counting how often a render asks it for a snapshot."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, store: Store, version: str) -> Snapshot:
        self.loads += 1
        return super().load(store, version)


def test_a_render_loads_one_snapshot(liking: TestClient) -> None:
    """A filtered feed ranked by likeness needs the papers, their words, the liked papers and
    their similarity index: all come from the one snapshot its render loads."""
    counted = CountedLoads()
    app = liking.app
    app.state.ctx = dataclasses.replace(app.state.ctx, papers=counted)  # type: ignore[attr-defined]
    paths = (
        f"/rss/cs.CL?keywords=speech&like={SPEECH[1]}",
        "/atom/topic/agents",
        "/json/for-you",
        f"/?like={SPEECH[2]}",
    )
    for path in paths:
        before = counted.loads
        assert liking.get(path).status_code == 200, path
        assert counted.loads - before == 1, path
    assert counted.reads == 1


def test_feeds_the_word_index_cannot_narrow_cost_one_command_once_the_papers_are_read(
    arxiv_server: FakeArxiv, settings: Settings, config: Config, upstash: UpstashShim, redis_server: object
) -> None:
    """Upstash counts bandwidth: a feed that may show any stored paper (a filter on the stored
    scores, a ranking by similarity) reads the whole store once per version, not each time.
    (Feeds the word index narrows read their candidates: tests/web/test_words.py.)"""
    redis_server.flush()  # type: ignore[attr-defined]
    store = UpstashStore(upstash.url, upstash.token)
    settings.config_path.write_text(json.dumps(TEST_CONFIG))
    refresh(config, settings, store)
    with TestClient(create_app(settings, store)) as client:
        upstash.reset_counts()
        assert client.get("/rss?exclude=llm&min_score=0").status_code == 200
        first = upstash.bytes_out
        assert first > 500_000  # the whole store, once
        for path in ("/atom?type=cross", "/json?exclude=survey&min_score=0&limit=5", "/rss/cs.CL?min_score=2"):
            upstash.reset_counts()
            assert client.get(path).status_code == 200, path
            assert upstash.command_count <= 1, path  # at most the version check (once a second)
            assert upstash.bytes_out < 10_000, path
