"""core.refresh.embeddings: the optional model of the for-you feed, against a loopback DashScope that
speaks the OpenAI-compatible /embeddings protocol (at most 10 inputs a call, as text-embedding-v4)."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import time
from array import array
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from core.config import EmbeddingsConfig, load_config, parse_config
from core.errors import LLMError
from core.refresh import refresh
from core.refresh.embeddings import Embedder, decode, embed_papers, encode, most_like, vector_key
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


@pytest.mark.parametrize("flaw", ["NaN", "Infinity", "short"])
def test_a_vector_that_is_not_dimensions_finite_numbers_is_a_malformed_reply(
    dashscope: FakeDashScope, flaw: str
) -> None:
    embedder = Embedder("sk-test", EmbeddingsConfig(base_url=dashscope.compatible_base, dimensions=512))
    dashscope.embedding_flaws.append(flaw)
    with pytest.raises(LLMError) as malformed:
        embedder.embed(["speech recognition models", "quantum lattice gauge"])
    assert malformed.value.kind == "transient"
    assert "malformed reply (vector 1 is not 512 finite numbers)" in malformed.value.message
    assert [len(v) for v in embedder.embed(["speech recognition models"])[0]] == [512]  # the next reply is good


def sound(data: str, dimensions: int) -> bool:
    """A cached vector that is ``dimensions`` finite numbers."""
    vector = decode(data)
    return len(vector) == dimensions and all(math.isfinite(x) for x in vector)


@pytest.mark.parametrize("flaw", ["NaN", "Infinity", "short"])
def test_nothing_of_a_malformed_reply_is_cached_and_the_next_run_makes_it(
    dashscope: FakeDashScope, settings: Settings, flaw: str
) -> None:
    store = SqliteStore(settings.data_dir / "malformed.sqlite3")
    config = parse_config({"similarity": embedding_config(dashscope)})
    keyed = dataclasses.replace(settings, api_keys={"DASHSCOPE_API_KEY": "sk-test"})
    papers = [make_paper(f"Paper {n} about speech", id=f"2411.{n:05d}") for n in range(23)]
    keys = [vector_key(config.similarity.embeddings, p) for p in papers]
    dashscope.embedding_flaws.extend([None, flaw])  # the second reply is spoiled
    failed = embed_papers(papers, config, keyed, store, NOW)
    assert not failed.complete
    assert "the embeddings endpoint failed" in failed.message
    assert "malformed reply" in failed.message
    assert sorted(store.load_vectors(keys)) == keys[:10]  # the first reply only, not one of the second's
    again = embed_papers(papers, config, keyed, store, NOW)
    assert (again.complete, again.calls) == (True, 2)
    assert all(sound(v, 256) for v in store.load_vectors(keys).values())


def test_a_poisoned_vector_cached_before_replies_were_checked_is_made_again(
    dashscope: FakeDashScope, settings: Settings
) -> None:
    store = SqliteStore(settings.data_dir / "poisoned.sqlite3")
    config = parse_config({"similarity": embedding_config(dashscope)})
    keyed = dataclasses.replace(settings, api_keys={"DASHSCOPE_API_KEY": "sk-test"})
    papers = [make_paper("Speech", id="2411.00001"), make_paper("Lattice", id="2411.00002")]
    keys = [vector_key(config.similarity.embeddings, p) for p in papers]
    # As the old code cached them: NaN everywhere (a NaN norm passed ``or 1.0``), and 3 numbers.
    nan, short = array("f", [math.nan] * 256), array("f", [0.6, 0.8, 0.0])
    store.save_vectors(
        {keys[0]: base64.b64encode(nan.tobytes()).decode(), keys[1]: base64.b64encode(short.tobytes()).decode()}
    )
    made = embed_papers(papers, config, keyed, store, NOW)
    assert (made.complete, made.calls) == (True, 1)
    assert all(len(v) == 256 and all(map(math.isfinite, v)) for v in made.vectors.values())
    assert all(sound(v, 256) for v in store.load_vectors(keys).values())


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


def test_an_embeddings_call_cannot_run_past_the_deadline(dashscope: FakeDashScope, settings: Settings) -> None:
    """A call started just before the stop time gets what is left, not its 30 s timeout (it
    used to: a slow endpoint ran the cron past Vercel's 300 s kill)."""
    store = SqliteStore(settings.data_dir / "slow.sqlite3")
    config = parse_config({"similarity": embedding_config(dashscope)})
    keyed = dataclasses.replace(settings, api_keys={"DASHSCOPE_API_KEY": "sk-test"})
    dashscope.latency_s = 6.0  # the stand-in answers after 6 s; the run stops in 1 s
    started = time.monotonic()
    embedded = embed_papers([make_paper("Speech", id="2411.00001")], config, keyed, store, NOW, started + 1.0)
    assert time.monotonic() - started < 3.0
    assert not embedded.complete
    assert embedded.message == "the run's time budget ran out"
    assert dashscope.embedding_calls == [1]  # the call was made, and cut at the deadline


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


def test_most_like_never_reports_a_similarity_that_is_not_a_finite_number() -> None:
    liked = [make_paper("Poisoned", id="a"), make_paper("Short", id="b"), make_paper("Speech", id="c")]
    paper = make_paper("Speech too", id="d")
    vectors = {
        "a": array("f", [math.nan, 0.0]),
        "b": array("f", [1.0]),  # of another length: its cosine would be over the first number only
        "c": decode(encode([0.6, 0.8])),
        "d": decode(encode([0.8, 0.6])),
    }
    found = most_like(paper, liked, vectors)
    assert found is not None
    assert (found.id, found.similarity) == ("c", pytest.approx(0.96, abs=1e-3))
    assert most_like(paper, liked[:2], vectors) is None


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
    first = stored[body["items"][0]["url"].rsplit("/", 1)[1]]
    assert first.for_you is not None
    assert f"similar to {first.for_you.id}" in body["items"][0]["content_html"]
    ranked = sorted((p for p in stored.values() if p.for_you and p.id not in SPEECH), key=lambda p: -p.for_you.points)  # type: ignore[union-attr]
    assert body["items"][0]["url"].endswith(ranked[0].id)
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


@pytest.mark.slow
def test_an_endpoint_answering_nan_infinity_or_short_vectors_empties_no_feed_and_poisons_no_day(
    dashscope: FakeDashScope, served: TestClient, settings: Settings, store: Store
) -> None:
    """One refresh each with a NaN, an Infinity and a 3-number vector (of 512 dimensions) in its
    third reply: the lexical model serves, the state says why, every paper stays in the feeds, and
    nothing poisoned is cached; the next day the endpoint works and ranks the for-you feed."""
    config = {**TEST_CONFIG, "like": SPEECH, "similarity": embedding_config(dashscope, dimensions=512)}
    keyed = dataclasses.replace(settings, api_keys={"DASHSCOPE_API_KEY": "sk-test"})
    stored_ids = [p.id for p in store.load_papers()]
    rss_items = served.get("/rss").text.count("<item>")
    for flaw in ("NaN", "Infinity", "short"):
        dashscope.embedding_flaws.extend([None, None, flaw])
        refresh(parse_config(config), keyed, store)
        likes = store.load_state().likes
        assert likes.model == "lexical"
        assert "lexical model, because the embeddings endpoint failed" in likes.message
        assert "malformed reply (vector 9 is not 512 finite numbers)" in likes.message
        assert [p.id for p in store.load_papers()] == stored_ids
        assert store.load_status()[1] == len(stored_ids)
        with TestClient(create_app(keyed, store)) as client:
            assert client.get("/rss").text.count("<item>") == rss_items
            assert client.get("/json/for-you?limit=5").json()["items"]
    keys = [vector_key(parse_config(config).similarity.embeddings, p) for p in store.load_papers()]
    cached = store.load_vectors(keys)
    assert len(cached) == 3 * 2 * 10  # two good replies a day, never the spoiled third
    assert all(sound(v, 512) for v in cached.values())
    refresh(parse_config(config), keyed, store)  # the next day: the endpoint works
    likes = store.load_state().likes
    assert likes.model == "embeddings"
    assert [p.id for p in store.load_papers()] == stored_ids
    assert all(sound(v, 512) for v in store.load_vectors(keys).values())
    with TestClient(create_app(keyed, store)) as client:
        body = client.get("/json/for-you?limit=5").json()
    assert "similar to" in body["items"][0]["content_html"]
    assert sum(1 for p in store.load_papers() if p.for_you) > len(stored_ids) // 2
