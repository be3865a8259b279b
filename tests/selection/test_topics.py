"""core.selection.topics and ?q=: named topic feeds end to end through the app."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from core.config import parse_config
from core.errors import ConfigError
from core.models import Entry, Match
from core.refresh.rank import store_order
from core.selection.query import FeedQuery
from core.selection.select import kept_by_config
from core.selection.topics import shown_ids, topic_query
from core.settings import Settings
from core.store import Store
from core.web.app import create_app
from tests.conftest import TEST_CONFIG, restore_refreshed
from tests.papers import make_paper

TOPICS = [
    {"name": "kv", "title": "KV caches", "query": 'abs:"kv cache" OR ti:"kv cache"', "max_papers": 10},
    {"name": "rl-agents", "categories": ["cs.AI"], "keywords": ["reinforcement learning", "agent"], "min_score": 1},
]


@pytest.fixture
def topic_client(settings: Settings, store: Store, config_path: Path, request: pytest.FixtureRequest) -> TestClient:
    """The session's refreshed papers, served under a config.json with topics (topics are
    chosen when a feed is requested, so the stored papers are the same)."""
    config_path.write_text(json.dumps({**TEST_CONFIG, "topics": TOPICS}))
    restore_refreshed(store, request)
    return TestClient(create_app(settings, store))


def ids(response: object) -> list[str]:
    feed = feedparser.parse(response.content)  # type: ignore[attr-defined]
    assert not feed.bozo
    return sorted(e.link.rsplit("/", 1)[1] for e in feed.entries)


def test_topic_feeds_in_every_format(topic_client: TestClient) -> None:
    assert ids(topic_client.get("/rss/topic/kv")) == ["2411.18077", "2411.18424"]
    assert ids(topic_client.get("/atom/topic/kv")) == ["2411.18077", "2411.18424"]
    document = topic_client.get("/json/topic/kv").json()
    assert document["title"] == "Test radar: KV caches"
    assert sorted(i["url"].rsplit("/", 1)[1] for i in document["items"]) == ["2411.18077", "2411.18424"]
    # The topic's query plus the request's filters on top.
    assert ids(topic_client.get("/rss/topic/kv", params={"type": "new,replace"})) == [
        "2411.15785",
        "2411.18077",
        "2411.18424",
    ]


def test_a_topic_feed_uses_the_query_parsed_on_load() -> None:
    kv = parse_config({**TEST_CONFIG, "topics": TOPICS}).topics[0]
    assert kv.parsed_query is not None
    assert topic_query(kv).q is kv.parsed_query  # not parsed again per request
    asked = FeedQuery.from_params(q="ti:agent")
    assert topic_query(kv, asked).q is asked.q  # a request's q replaces the topic's


def test_keyword_topic_limited_to_its_categories(topic_client: TestClient) -> None:
    feed = feedparser.parse(topic_client.get("/rss/topic/rl-agents").content)
    assert feed.entries
    for entry in feed.entries:
        assert "cs.AI" in {t.term for t in entry.tags}
        assert "Why it is here:</b> score" in entry.summary


def test_unknown_topic_is_a_404_listing_topics(topic_client: TestClient) -> None:
    response = topic_client.get("/rss/topic/nope")
    assert response.status_code == 404
    assert response.json()["topics"] == ["kv", "rl-agents"]


def test_topics_are_on_the_index_page_and_in_opml(topic_client: TestClient) -> None:
    page = topic_client.get("/").text
    assert "Topic: KV caches" in page
    assert "http://testserver/json/topic/rl-agents" in page
    urls = [
        o.get("xmlUrl") for o in etree.fromstring(topic_client.get("/opml").content).findall(".//outline[@type='rss']")
    ]
    assert urls[-2:] == ["http://testserver/rss/topic/kv", "http://testserver/rss/topic/rl-agents"]


def test_q_on_every_feed_explains_why(topic_client: TestClient) -> None:
    response = topic_client.get("/rss/cs.DC", params={"q": 'abs:"kv cache"'})
    assert response.status_code == 404  # cs.DC is not followed
    response = topic_client.get("/rss", params={"q": 'abs:"kv cache" ANDNOT ti:"kv cache"'})
    assert ids(response) == ["2411.18424"]
    entry = feedparser.parse(response.content).entries[0]
    assert "score 1 = abs:kv cache 1 (abstract)" in entry.summary
    authors = topic_client.get("/json", params={"q": "au:Erdayandi", "min_score": "0"}).json()
    assert authors["items"] == []  # cs.GT/cs.CR paper: not in the followed categories


@pytest.mark.parametrize(
    ("q", "position"),
    [("ti:(llm", "position 4"), ('"kv', "position 1"), ("a AND", "ends too early"), ("cat:bogus", "position 5")],
)
def test_a_bad_q_is_a_422_with_the_position(topic_client: TestClient, q: str, position: str) -> None:
    response = topic_client.get("/atom", params={"q": q})
    assert response.status_code == 422
    assert position in response.json()["error"]
    assert response.json()["error"].startswith("parameter 'q': ")


@pytest.mark.parametrize(
    ("topics", "message"),
    [
        ([{"name": "x", "query": "ti:(llm"}], r"key 'topics\[0\].query': .*position"),
        ([{"name": "x"}], "needs a query or keywords"),
        ([{"name": "x", "keywords": ["a"]}, {"name": "x", "keywords": ["b"]}], "share a name"),
        ([{"name": "x", "keywords": ["a"], "categories": ["cs.CV"]}], "'cs.CV', which categories does not follow"),
        ([{"name": "Bad Name", "keywords": ["a"]}], r"topics\[0\].name"),
        ([{"name": "x", "keywords": ["a"], "qurey": "a"}], r"unknown key 'topics\[0\].qurey' \(did you mean 'query'"),
    ],
)
def test_topic_config_errors(topics: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({**TEST_CONFIG, "topics": topics})


def test_the_shown_ids_of_a_stored_order_are_the_papers_config_keeps_then_each_topics_best() -> None:
    """``shown_ids`` finds config.json's own papers by a binary search of the stored order:
    the same ones, in the same order, as asking each paper."""
    config = parse_config({**TEST_CONFIG, "keywords": ["agent"], "min_score": 1.0, "topics": TOPICS[:1]})
    day = datetime(2024, 11, 28, 5, tzinfo=UTC)
    papers = [
        make_paper(f"Paper {n}", id=f"2411.{n:05d}", announced=day - timedelta(days=n % 3)).model_copy(
            update={"match": Match(score=(n * 7) % 5 * 0.5), "topics": {"kv": float(n % 4)} if n % 2 else {}}
        )
        for n in range(40)
    ]
    ordered = store_order([*map(Entry.of, papers)], config)
    kept = [e.id for e in ordered if kept_by_config(e, config)]
    assert 0 < len(kept) < len(ordered)
    shown = shown_ids(ordered, config)
    assert shown[: len(kept)] == kept
    best_kv = sorted(((e.topics["kv"], e.announced, e.id) for e in ordered if "kv" in e.topics), reverse=True)
    assert shown[len(kept) :] == [i for _, _, i in best_kv[:10] if i not in kept]
    assert shown_ids(ordered, config, per_feed=3)[:3] == kept[:3]
