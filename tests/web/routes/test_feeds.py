"""core.web.routes.feeds: every feed, filtered, per category and topic, ranked by likeness, through the real app."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
from fastapi.testclient import TestClient

from core.config import load_config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.store.sqlite import SqliteStore
from core.store.upstash import UpstashStore
from core.store.words import WordsHead
from core.web.app import create_app
from tests.arxiv_fake import API_TWO, FakeArxiv
from tests.conftest import TEST_CONFIG
from tests.feed_rules import atom_problems, rss_problems
from tests.web.conftest import SPEECH, entries


def test_rss_of_all_followed_categories(served: TestClient) -> None:
    response = served.get("/rss")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/rss+xml; charset=utf-8"
    items = entries(response)
    assert 0 < len(items) <= 50
    for item in items:
        assert {t.term for t in item.tags} & {"cs.AI", "cs.LG", "cs.CL"}
        assert "survey" not in (item.title + item.summary).lower()
        assert item.id.startswith("https://arxiv.org/abs/")
    assert len({item.id for item in items}) == len(items)


def test_per_category_feeds(served: TestClient) -> None:
    rss = entries(served.get("/rss/cs.CL"))
    atom_response = served.get("/atom/cs.CL")
    assert atom_response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    atom = entries(atom_response)
    assert rss
    assert all("cs.CL" in {t.term for t in item.tags} for item in rss)
    assert [i.id for i in rss] == [i.id for i in atom]
    assert entries(served.get("/atom"))


def test_keywords_filter_matches_phrases_across_hyphens(served: TestClient) -> None:
    items = entries(served.get("/rss", params={"keywords": "kv cache", "min_score": "0.5"}))
    assert sorted(i.link.rsplit("/", 1)[1] for i in items) == ["2411.18077", "2411.18424"]
    assert all(" = kv cache 1 (abstract)" in i.summary or " = kv cache 1.5 (title" in i.summary for i in items)
    # 2411.15785 is a replacement: only shown when asked for.
    items = entries(served.get("/rss", params={"keywords": "kv cache", "type": "new,cross,replace"}))
    assert sorted(i.link.rsplit("/", 1)[1] for i in items) == ["2411.15785", "2411.18077", "2411.18424"]


def test_exclude_limit_and_type(served: TestClient) -> None:
    everything = entries(served.get("/rss", params={"limit": "500"}))
    assert len(everything) > 50  # the cap is 200, above config's 50
    limited = entries(served.get("/rss", params={"limit": "3"}))
    assert [i.id for i in limited] == [i.id for i in everything[:3]]
    excluded = entries(served.get("/rss", params={"exclude": "agent,agents"}))
    assert excluded
    assert all(" agent" not in (i.title + i.summary).lower() for i in excluded)
    replaced = entries(served.get("/rss", params={"type": "replace", "min_score": "0"}))
    assert replaced
    assert all("Announce type:</b> replace" in i.summary for i in replaced)


def test_same_request_same_etag_and_304(served: TestClient) -> None:
    first = served.get("/rss/cs.LG")
    etag = first.headers["etag"]
    assert served.get("/rss/cs.LG").content == first.content
    again = served.get("/rss/cs.LG", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("category", ["cs.XX", "cs.CV", "cs..AI", "cs.AI%00", "x" * 300])
def test_unknown_category_is_a_404_listing_the_valid_ones(served: TestClient, category: str) -> None:
    response = served.get(f"/rss/{category}")
    assert response.status_code == 404
    body = response.json()
    assert body["categories"] == ["cs.AI", "cs.LG", "cs.CL"]
    assert "Traceback" not in response.text


def test_known_but_unfollowed_category_says_so(served: TestClient) -> None:
    assert "is not followed" in served.get("/atom/cs.CV").json()["error"]
    assert "did you mean 'cs.AI'" in served.get("/rss/cs.ai").json()["error"]


@pytest.mark.parametrize("hostile", ["(.*)+", "[", "\\", "a\x00b\x1f", "<script>alert(1)</script>", "' OR 1=1 --"])
def test_hostile_keywords_give_a_valid_feed(served: TestClient, hostile: str) -> None:
    response = served.get("/rss", params={"keywords": hostile, "min_score": "0"})
    assert response.status_code == 200
    entries(response)
    assert b"<script>" not in response.content


def test_words_copied_from_a_feed_find_their_papers(served: TestClient) -> None:
    """What a reader sees (Unicode, accents) is what matches, from ?keywords= and ?q= alike."""
    shown = entries(served.get("/rss?q=au:sedlacek"))
    assert [e.link for e in shown] == ["https://arxiv.org/abs/2411.18294"]
    assert "Šimon Sedláček" in shown[0].author
    for query in ("keywords=présidents", "keywords=presidents", "q=présidents", "q=ti:presidents"):
        links = {e.link for e in entries(served.get(f"/rss?{query}"))}
        assert "https://arxiv.org/abs/2411.18468" in links, query


def test_every_served_feed_is_valid(served: TestClient) -> None:
    """RFC 4287 and RSS 2.0 rules (tests/feed_rules.py) over what the app serves, filtered and
    empty feeds included; the W3C Feed Validator agrees (see docs/reliability.md)."""
    for path in ("", "/cs.CL", "?q=au:sedlacek", "?keywords=nothing-matches-this", "?type=replace&limit=3"):
        assert atom_problems(served.get(f"/atom{path}").content) == [], path
        assert rss_problems(served.get(f"/rss{path}").content) == [], path


def test_for_you_feeds_rank_papers_like_the_liked_ones(liking: TestClient) -> None:
    rss = entries(liking.get("/rss/for-you"))
    assert 5 <= len(rss) <= 15  # only the really alike (core.text.similarity.FLOOR), not 50
    assert all("% alike)" in e.summary for e in rss)
    links = [e.link for e in rss]
    assert not {f"https://arxiv.org/abs/{i}" for i in SPEECH} & set(links)  # the liked are left out
    top = rss[:10]
    assert sum("speech" in (e.title + e.summary).lower() for e in top) >= 4
    assert "similar to 2411.18" in top[0].summary
    assert rss_problems(liking.get("/rss/for-you").content) == []
    assert atom_problems(liking.get("/atom/for-you").content) == []
    feed = liking.get("/json/for-you").json()
    assert [item["url"] for item in feed["items"]] == links
    assert len(entries(liking.get("/rss/for-you?limit=2"))) == 2
    fewer = entries(liking.get("/rss/for-you?exclude=speech"))
    assert 0 < len(fewer) < len(rss)
    assert all("speech" not in e.title.lower() for e in fewer)


def test_like_ranks_any_feed_by_similarity_too(liking: TestClient) -> None:
    plain = [e.link for e in entries(liking.get("/rss/cs.CL?min_score=0"))]
    ranked = entries(liking.get(f"/rss/cs.CL?min_score=0&like={SPEECH[1]}"))
    assert [e.link for e in ranked] != plain
    assert "similar to 2411.18320" in ranked[0].summary
    assert f"https://arxiv.org/abs/{SPEECH[1]}" not in [e.link for e in ranked]
    topic = entries(liking.get("/rss/topic/agents"))  # the topic's own like list
    assert any("similar to 2411.18138" in e.summary for e in topic)


def test_like_errors_are_clear(liking: TestClient) -> None:
    bad = liking.get("/rss?like=not-an-id")
    assert bad.status_code == 422
    assert bad.json()["error"] == "parameter 'like': 'not-an-id' is not an arXiv id"


def description(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(feedparser.parse(response.content).feed.description)


def test_a_like_of_a_paper_not_stored_asks_arxiv_nothing_and_the_next_refresh_fetches_it(
    liking: TestClient, arxiv_server: FakeArxiv, settings: Settings, store: Store
) -> None:
    for asked_for in ("1707.08567,0000.00000", "0000.00000,1707.08567"):  # in whichever order they are asked
        arxiv_server.api_answers[asked_for] = API_TWO  # knows 1707.08567, not 0000.00000
    asked = len(arxiv_server.api_requests)
    wanted = "/rss/cs.CL?min_score=0&like=https://arxiv.org/abs/1707.08567v1,arXiv:0000.00000"
    said = description(liking.get(wanted))
    assert len(arxiv_server.api_requests) == asked  # a reader's request never reaches arXiv
    assert "Note: 1707.08567 is not stored yet; the next refresh fetches it" in said
    assert "Note: 0000.00000 is not stored yet" in said
    assert set(store.load_pending_likes()) == {"1707.08567", "0000.00000"}
    refresh(load_config(settings.config_path), settings, store)
    by_id = [r for r in arxiv_server.api_requests[asked:] if "1707.08567" in r.path]
    assert len(by_id) == 1  # both asked by the refresh, in one id_list request
    asked = len(arxiv_server.api_requests)
    after = TestClient(create_app(settings, store))
    ranked = after.get(wanted)
    said = description(ranked)
    assert "1707.08567" not in said  # stored now: it ranks the feed
    assert "Note: arXiv has no paper 0000.00000; it is left out" in said
    # Stored now, it ranks the feed; but nothing of the day is really like a workshop's
    # proceedings on information theory (core.text.similarity.FLOOR), and the page says so.
    assert not any("similar to 1707.08567" in e.summary for e in entries(ranked))
    page = after.get("/?like=1707.08567").text
    assert "More like <i>Proceedings of Workshop AEW10" in page
    assert "No stored paper is like it yet" in page
    assert len(arxiv_server.api_requests) == asked
    assert store.load_pending_likes() == []


def test_a_topic_liking_a_paper_arxiv_lacks_is_served_without_it(
    served: TestClient, arxiv_server: FakeArxiv, settings: Settings, store: Store
) -> None:
    config = {**TEST_CONFIG, "topics": [{"name": "agents", "keywords": ["agent"], "like": ["0000.00000", SPEECH[0]]}]}
    settings.config_path.write_text(json.dumps(config))
    refresh(load_config(settings.config_path), settings, store)  # arXiv has no 0000.00000
    app = TestClient(create_app(settings, store))
    asked = len(arxiv_server.api_requests)
    topic = app.get("/rss/topic/agents")
    assert "Note: arXiv has no paper 0000.00000; it is left out" in description(topic)
    assert any(f"similar to {SPEECH[0]}" in e.summary for e in entries(topic))
    assert app.get("/rss/for-you").status_code == 200
    assert len(arxiv_server.api_requests) == asked


def test_for_you_without_likes_says_how_to_add_them(served: TestClient) -> None:
    nothing_liked = served.get("/rss/for-you")
    assert nothing_liked.status_code == 404
    assert '"like"' in nothing_liked.json()["hint"]


def test_empty_store_serves_valid_empty_feeds_and_says_why(client: TestClient) -> None:
    for path in ("/rss", "/atom", "/rss/cs.AI"):
        assert entries(client.get(path)) == []
    page = client.get("/").text
    assert "No papers yet: no refresh has run" in page


def test_each_feed_has_its_own_guids_and_formats_share_them(liking: TestClient) -> None:
    """Readers key items by guid: one feed's RSS, Atom and JSON agree, two feeds differ."""
    rss = feedparser.parse(liking.get("/rss/cs.CL").content).entries
    atom = feedparser.parse(liking.get("/atom/cs.CL").content).entries
    items = liking.get("/json/cs.CL").json()["items"]
    assert [e.id for e in rss] == [e.id for e in atom] == [i["id"] for i in items]
    assert rss[0].id == rss[0].link + "#cs.CL"
    assert rss[0].guidislink is False  # isPermaLink="false": the link is the abstract
    everything = feedparser.parse(liking.get("/rss").content).entries
    assert all(e.id == e.link for e in everything)  # the plain abstract URL, as before
    built = feedparser.parse(liking.get("/rss?keywords=speech&min_score=0").content).entries
    assert built
    assert not {e.id for e in built} & {e.id for e in everything}
    shorter = feedparser.parse(liking.get("/rss?limit=5").content).entries
    assert [e.id for e in shorter] == [e.id for e in everything[:5]]  # a limit is the same feed


@pytest.mark.parametrize("query", ["LLM\x01", 'ti:"language\x0cmodel"', "abs:LLM\x7f\x1b"])
def test_control_characters_in_a_query_never_reach_the_feed(served: TestClient, query: str) -> None:
    """A request's query is an inflow too: its terms are cleaned as they are parsed, and reach
    the feed (why a paper is there) as the clean words they match by."""
    clean = query.replace("\x01", "").replace("\x0c", " ").replace("\x7f\x1b", "")
    for fmt in ("rss", "atom", "json"):
        response = served.get(f"/{fmt}", params={"q": query})
        assert response.status_code == 200, fmt
        assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\\u00[01]", response.content), fmt
    shown = entries(served.get("/rss", params={"q": query}))
    assert shown
    assert [e.link for e in shown] == [e.link for e in entries(served.get("/rss", params={"q": clean}))]
    assert rss_problems(served.get("/rss", params={"q": query}).content) == []


class _SqliteSavedDuringRead(SqliteStore):
    """The SQLite store as a feed request reads it while the refresh (another connection)
    saves: ``save`` lands right after the request's first read of the word index's postings."""

    save: Callable[[], object] | None = None

    def load_postings(self, head: WordsHead, tokens: Sequence[str]) -> dict[tuple[str, str], str]:
        found = super().load_postings(head, tokens)
        _save_once(self)
        return found


class _UpstashSavedDuringRead(UpstashStore):
    """The same for Upstash: another client's save lands after the first read of postings."""

    save: Callable[[], object] | None = None

    def load_postings(self, head: WordsHead, tokens: Sequence[str]) -> dict[tuple[str, str], str]:
        found = super().load_postings(head, tokens)
        _save_once(self)
        return found


def _save_once(store: _SqliteSavedDuringRead | _UpstashSavedDuringRead) -> None:
    if store.save is not None:
        save, store.save = store.save, None
        save()


def test_a_save_landing_while_a_filtered_feed_is_read_is_never_masked(
    served: TestClient, settings: Settings, store: Store, request: pytest.FixtureRequest
) -> None:
    """A filtered feed read from the index of one save must not be kept as the answer of the
    next save's data: the next request would be served the old feed until the save after."""
    raced: _SqliteSavedDuringRead | _UpstashSavedDuringRead
    if isinstance(store, SqliteStore):
        raced = _SqliteSavedDuringRead(store.path)
    else:
        assert isinstance(store, UpstashStore)
        raced = _UpstashSavedDuringRead(store.url, request.getfixturevalue("upstash").token)
    path = "/rss?q=abs:agent&limit=5"
    stored = store.load_papers()
    first = entries(served.get(path))[0].link.rsplit("/", 1)[1]
    agent = next(p for p in stored if p.id == first)  # a copy announced a day later comes first
    newer = agent.model_copy(update={"id": "2412.00001", "announced": agent.announced + timedelta(days=1)})
    raced.save = lambda: store.save_papers([newer, *stored])  # the refresh's save, from its own client
    with TestClient(create_app(settings, raced)) as client:
        client.get(path)  # read while the save lands
        assert raced.save is None
        client.app.state.ctx.versions.forget()  # type: ignore[attr-defined]
        after = client.get(path)
    with TestClient(create_app(settings, store)) as fresh:
        expected = fresh.get(path)
    assert entries(expected)[0].link.endswith("2412.00001")
    assert entries(after)[0].link.endswith("2412.00001")
    assert after.text == expected.text


@pytest.mark.slow  # a store of 5,000 papers, saved twice
def test_a_topic_of_many_words_over_a_large_store_is_served_as_without_the_index(
    settings: Settings, refreshed_sqlite: Path
) -> None:
    """A topic's own words are config.json's, not the request's: the index must not refuse a
    plain topic feed that reading every paper serves (the request's terms are what it may cost)."""
    day = SqliteStore(refreshed_sqlite).load_papers()
    store = SqliteStore(settings.data_dir / "large.sqlite3")
    copies = -(-5_001 // len(day))  # 400 terms x 5,001 papers is over MAX_MATCH_WORK
    store.save_papers(
        [p.model_copy(update={"id": f"25{k:02d}.{i:05d}"}) for k in range(copies) for i, p in enumerate(day)]
    )
    keywords = ["agent", "language model", *(f"unusedword{n}" for n in range(198))]
    topic = {"name": "many", "keywords": keywords, "exclude_keywords": [f"unusedexclusion{n}" for n in range(200)]}
    settings.config_path.write_text(json.dumps({**TEST_CONFIG, "topics": [topic]}))
    with TestClient(create_app(settings, store)) as client:
        indexed = client.get("/rss/topic/many")
    with store._connect() as conn:  # the same store without its index: every paper is read
        conn.execute("DELETE FROM state WHERE key = 'words'")
    with TestClient(create_app(settings, store)) as client:
        whole = client.get("/rss/topic/many")
    assert whole.status_code == 200
    assert entries(whole)
    assert indexed.status_code == 200, indexed.text
    assert indexed.text == whole.text
