"""core.refresh.embeddings: the optional model of the for-you feed, against a loopback DashScope that
speaks the OpenAI-compatible /embeddings protocol (at most 10 inputs a call, as text-embedding-v4)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from core.config import EmbeddingsConfig, load_config, parse_config
from core.errors import LLMError
from core.refresh import refresh
from core.refresh.embeddings import Embedder, decode, embed_papers, encode, most_like
from core.settings import Settings
from core.store import Store
from core.store.sqlite import SqliteStore
from core.web.app import create_app
from tests.arxiv_fake import COMBINED, FakeArxiv, next_day, read
from tests.conftest import TEST_CONFIG
from tests.dashscope_fake import FakeDashScope
from tests.papers import corrupt_stored, make_paper

NOW = datetime(2024, 11, 28, 15, tzinfo=UTC)
SPEECH = ["2411.18138", "2411.18320", "2411.18497"]


def embedding_config(fake: FakeDashScope, **extra: object) -> dict[str, object]:
    return {"model": "embeddings", "embeddings": {"base_url": fake.compatible_base, "dimensions": 256, **extra}}


def test_the_embedder_speaks_the_openai_compatible_protocol(dashscope: FakeDashScope) -> None:
    embedder = Embedder("sk-test", EmbeddingsConfig(base_url=dashscope.compatible_base, dimensions=64))
    vectors, tokens = embedder.embed(["speech recognition models", "quantum lattice gauge"])
    assert [len(v) for v in vectors] == [64, 64]
    assert tokens == 6
    with pytest.raises(LLMError) as too_many:
        embedder.embed([f"text {n}" for n in range(11)])
    assert too_many.value.kind == "invalid"
    assert "should not be larger than 10" in too_many.value.message
    wrong = Embedder("sk-wrong", EmbeddingsConfig(base_url=dashscope.compatible_base))
    with pytest.raises(LLMError) as refused:
        wrong.embed(["x"])
    assert refused.value.kind == "auth"


def test_vectors_round_trip_as_unit_float32() -> None:
    back = decode(encode([3.0, 4.0]))
    assert list(back) == pytest.approx([0.6, 0.8])


def test_each_paper_is_embedded_once_in_batches_of_ten(dashscope: FakeDashScope, settings: Settings) -> None:
    store = SqliteStore(settings.data_dir / "vectors.sqlite3")
    config = parse_config({"similarity": embedding_config(dashscope)})
    keyed = dataclasses.replace(settings, api_keys={"DASHSCOPE_API_KEY": "sk-test"})
    papers = [make_paper(f"Paper {n} about speech", id=f"2411.{n:05d}") for n in range(23)]
    first = embed_papers(papers, config, keyed, store, NOW)
    assert first.complete
    assert dashscope.embedding_calls == [10, 10, 3]
    again = embed_papers(papers, config, keyed, store, NOW)
    assert again.complete
    assert again.calls == 0  # cached per (id, version, model, dimensions)
    assert dashscope.embedding_calls == [10, 10, 3]
    revised = embed_papers([papers[0].model_copy(update={"version": 2})], config, keyed, store, NOW)
    assert revised.calls == 1
    assert store.add_usage(NOW.strftime("%Y-%m-%d"), 0, 0)[0] == 4  # counted in the daily budget


def test_no_key_a_failing_endpoint_or_a_spent_budget_say_why(dashscope: FakeDashScope, settings: Settings) -> None:
    store = SqliteStore(settings.data_dir / "failing.sqlite3")
    papers = [make_paper("Speech", id="2411.00001")]
    config = parse_config({"similarity": embedding_config(dashscope)})
    assert "no DASHSCOPE_API_KEY" in embed_papers(papers, config, settings, store, NOW).message
    keyed = dataclasses.replace(settings, api_keys={"DASHSCOPE_API_KEY": "sk-test"})
    dashscope.embedding_error = "InternalError"
    failed = embed_papers(papers, config, keyed, store, NOW)
    assert not failed.complete
    assert "the embeddings endpoint failed" in failed.message
    dashscope.embedding_error = None
    spent = parse_config({"similarity": embedding_config(dashscope), "summary": {"daily_budget": {"calls": 0}}})
    assert "daily budget" in embed_papers(papers, spent, keyed, store, NOW).message


def test_most_like_names_the_closest_liked_paper() -> None:
    liked = [make_paper("Speech", id="a"), make_paper("Lattice", id="b")]
    paper = make_paper("Speech too", id="c")
    vectors = {"a": decode(encode([1.0, 0.0])), "b": decode(encode([0.0, 1.0])), "c": decode(encode([0.9, 0.1]))}
    found = most_like(paper, liked, vectors)
    assert found is not None
    assert (found.id, found.similarity) == ("a", pytest.approx(0.9939, abs=1e-3))


@pytest.mark.slow
def test_the_for_you_feed_ranks_by_embeddings_and_falls_back_to_the_lexical_model(
    dashscope: FakeDashScope, served: TestClient, settings: Settings, store: Store
) -> None:
    config = {**TEST_CONFIG, "like": SPEECH, "similarity": embedding_config(dashscope)}
    settings.config_path.write_text(json.dumps(config))
    keyed = dataclasses.replace(settings, api_keys={"DASHSCOPE_API_KEY": "sk-test"})
    refresh(load_config(settings.config_path), keyed, store)
    likes = store.load_state().likes
    assert likes.model == "embeddings"
    assert "for you: embeddings (text-embedding-v4" in likes.message
    stored = {p.id: p for p in store.load_papers()}
    with TestClient(create_app(keyed, store)) as client:
        body = client.get("/json/for-you?limit=5").json()
    first = stored[body["items"][0]["id"].rsplit("/", 1)[1]]
    assert first.for_you is not None
    assert f"similar to {first.for_you.id}" in body["items"][0]["content_html"]
    ranked = sorted((p for p in stored.values() if p.for_you and p.id not in SPEECH), key=lambda p: -p.for_you.points)  # type: ignore[union-attr]
    assert body["items"][0]["id"].endswith(ranked[0].id)
    # The endpoint fails: the lexical model serves, and the state says why.
    dashscope.embedding_error = "InternalError"
    revised = dataclasses.replace(keyed, api_keys={"DASHSCOPE_API_KEY": "sk-test"})
    store.save_vectors({})  # nothing to forget: a new dimension makes every vector missing
    config["similarity"] = embedding_config(dashscope, dimensions=128)
    settings.config_path.write_text(json.dumps(config))
    refresh(load_config(settings.config_path), revised, store)
    likes = store.load_state().likes
    assert likes.model == "lexical"
    assert "lexical model, because the embeddings endpoint failed" in likes.message
    assert all(p.for_you is None for p in store.load_papers())
    with TestClient(create_app(revised, store)) as client:
        assert "similar to 2411.18" in client.get("/rss/for-you").text


@pytest.mark.slow
def test_matches_by_embeddings_are_made_for_new_papers_only_while_the_likes_stay(
    arxiv_server: FakeArxiv, dashscope: FakeDashScope, settings: Settings, store: Store
) -> None:
    """A next-day refresh reads whole and matches only the new papers; a paper it did not read
    (made unreadable behind the store's back) keeps its match. New embedding settings match
    every paper again."""
    config = {**TEST_CONFIG, "like": SPEECH, "similarity": embedding_config(dashscope)}
    keyed = dataclasses.replace(settings, api_keys={"DASHSCOPE_API_KEY": "sk-test"})
    refresh(parse_config(config), keyed, store, now=NOW)
    assert store.load_state().likes.basis
    first = store.load_index()
    untouched = next(e for e in reversed(first) if e.for_you and e.id.startswith("2411.1"))
    unlike = {e.id.replace("2411.1", "2412.1") for e in first if not e.for_you and e.id.startswith("2411.1")}
    corrupt_stored(store, untouched.id)
    arxiv_server.serve(next_day(read(COMBINED)))
    refresh(parse_config(config), keyed, store, now=NOW + timedelta(days=1))
    index = store.load_index()
    assert untouched in index
    new = [e for e in index if e.id.startswith("2412.1")]
    assert len(new) == 249
    assert {e.id for e in new if not e.for_you} <= unlike  # matched as the same papers were the day before
    assert "(text-embedding-v4, 25 calls)" in store.load_state().likes.message  # the 249 new papers
    config["similarity"] = embedding_config(dashscope, dimensions=128)
    refresh(parse_config(config), keyed, store, now=NOW + timedelta(days=1))
    assert "(text-embedding-v4, 62 calls)" in store.load_state().likes.message  # all 615 readable, and the liked
    assert sum(1 for p in store.load_papers() if p.for_you) > 550
