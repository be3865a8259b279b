"""core.web.app: the feeds, pages and errors through the real app (and once through uvicorn)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from core.config import Config, load_config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.store.sqlite import SqliteStore
from core.web.app import COSTLY_RENDERS, create_app
from tests.arxiv_fake import FakeArxiv
from tests.conftest import TEST_CONFIG
from tests.feed_rules import atom_problems, rss_problems
from tests.uvicorn_server import serve


def entries(response: httpx.Response) -> list[feedparser.FeedParserDict]:
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    etree.fromstring(response.content)
    return list(parsed.entries)


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
    assert sorted(i.id.rsplit("/", 1)[1] for i in items) == ["2411.18077", "2411.18424"]
    assert all(" = kv cache 1 (abstract)" in i.summary or " = kv cache 1.5 (title" in i.summary for i in items)
    # 2411.15785 is a replacement: only shown when asked for.
    items = entries(served.get("/rss", params={"keywords": "kv cache", "type": "new,cross,replace"}))
    assert sorted(i.id.rsplit("/", 1)[1] for i in items) == ["2411.15785", "2411.18077", "2411.18424"]


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


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"min_score": "abc"}, "min_score"),
        ({"min_score": "-1"}, "min_score"),
        ({"min_score": "nan"}, "min_score"),
        ({"min_score": "inf"}, "min_score"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "9" * 40}, "limit"),
        ({"type": "old"}, "type"),
        ({"keywords": "x" * 3000}, "keywords"),  # over 2,000 characters, under the 8 KB of a 414
        ({"exclude": ",".join(f"a{i}" for i in range(60))}, "exclude"),
    ],
)
def test_malformed_parameters_are_a_422_naming_them(served: TestClient, params: dict[str, str], name: str) -> None:
    response = served.get("/rss", params=params)
    assert response.status_code == 422
    body = response.json()
    assert f"parameter '{name}'" in body["error"]
    assert body["stage"] == "query"
    assert body["hint"]  # every error says how to fix it
    assert "Traceback" not in response.text


@pytest.mark.parametrize("hostile", ["(.*)+", "[", "\\", "a\x00b\x1f", "<script>alert(1)</script>", "' OR 1=1 --"])
def test_hostile_keywords_give_a_valid_feed(served: TestClient, hostile: str) -> None:
    response = served.get("/rss", params={"keywords": hostile, "min_score": "0"})
    assert response.status_code == 200
    entries(response)
    assert b"<script>" not in response.content


def test_empty_store_serves_valid_empty_feeds_and_says_why(client: TestClient) -> None:
    for path in ("/rss", "/atom", "/rss/cs.AI"):
        assert entries(client.get(path)) == []
    page = client.get("/").text
    assert "No papers yet: no refresh has run" in page


def test_health_reports_the_last_refresh(served: TestClient, store: Store) -> None:
    body = served.get("/health").json()
    assert body["status"] == "ok"
    assert body["store"] == {"backend": store.name, "ok": True}
    assert body["papers"] == 367
    assert body["refresh"]["outcome"] == "ok"
    assert body["refresh"]["last_success_at"]
    assert "etag" not in body["refresh"]


def test_config_shows_settings_without_secrets(tmp_path: Path, settings: Settings, store: Store) -> None:
    secret = dataclasses.replace(settings, cron_secret="hunter2-very-secret")
    with TestClient(create_app(secret, store)) as client:
        response = client.get("/config")
    assert response.status_code == 200
    body = response.json()
    assert body["config"]["categories"] == ["cs.AI", "cs.LG", "cs.CL"]
    assert body["settings"]["cron_secret"] == "set"
    assert "hunter2" not in response.text


def test_store_down_gives_503_with_retry_after(tmp_path: Path, settings: Settings) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with TestClient(create_app(settings, SqliteStore(blocker / "db.sqlite3"))) as client:
        for path in ("/rss", "/atom/cs.AI", "/health"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["retry-after"] == "60"
            assert "Traceback" not in response.text
        assert client.get("/health").json()["store"]["ok"] is False


@pytest.fixture
def uvicorn_url(settings: Settings, store: Store) -> Iterator[str]:
    with serve(create_app(settings, store)) as url:
        yield url


@pytest.mark.slow
def test_served_by_uvicorn_on_a_real_port(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config, uvicorn_url: str
) -> None:
    refresh(config, settings, store)
    response = httpx.get(uvicorn_url + "/rss/cs.CL")
    assert response.status_code == 200
    items = entries(response)
    assert items
    atom_self = etree.fromstring(response.content).find("channel/{http://www.w3.org/2005/Atom}link[@rel='self']")
    assert atom_self is not None
    assert atom_self.get("href") == uvicorn_url + "/rss/cs.CL"


def test_filtered_renders_queue_while_cached_feeds_answer(served: TestClient) -> None:
    """An instance renders at most COSTLY_RENDERS filtered feeds at once; the rest wait their turn."""
    assert served.get("/rss").status_code == 200  # rendered and kept
    costly = served.app.state.ctx.costly  # type: ignore[attr-defined]
    for _ in range(COSTLY_RENDERS):  # every render slot busy, as with slow filtered feeds running
        assert costly.acquire(timeout=1)
    result: dict[str, int] = {}
    waiting = threading.Thread(target=lambda: result.update(status=served.get("/rss?q=abs:agent").status_code))
    waiting.start()
    try:
        assert served.get("/rss").status_code == 200  # the cached feed does not wait
        waiting.join(timeout=0.3)
        assert waiting.is_alive()  # the filtered one does
    finally:
        for _ in range(COSTLY_RENDERS):
            costly.release()
    waiting.join(timeout=30)
    assert result == {"status": 200}


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


SPEECH = ["2411.18138", "2411.18320", "2411.18497"]  # three speech papers of the recorded day


@pytest.fixture
def liking(served: TestClient, settings: Settings, store: Store) -> TestClient:
    """The served refresh, with config.json liking three speech papers and a topic liking one
    (a second refresh resolves the likes: arXiv answers 304, the papers are stored)."""
    config = {**TEST_CONFIG, "like": SPEECH, "topics": [{"name": "agents", "keywords": ["agent"], "like": [SPEECH[0]]}]}
    settings.config_path.write_text(json.dumps(config))
    refresh(load_config(settings.config_path), settings, store)
    return TestClient(create_app(settings, store))


def test_for_you_feeds_rank_papers_like_the_liked_ones(liking: TestClient) -> None:
    rss = entries(liking.get("/rss/for-you"))
    assert len(rss) == 50
    links = [e.link for e in rss]
    assert not {f"https://arxiv.org/abs/{i}" for i in SPEECH} & set(links)  # the liked are left out
    top = rss[:10]
    assert sum("speech" in (e.title + e.summary).lower() for e in top) >= 4
    assert "similar to 2411.18" in top[0].summary
    assert rss_problems(liking.get("/rss/for-you").content) == []
    assert atom_problems(liking.get("/atom/for-you").content) == []
    feed = liking.get("/json/for-you").json()
    assert [item["url"] for item in feed["items"]] == links
    fewer = entries(liking.get("/rss/for-you?limit=5&exclude=speech"))
    assert len(fewer) == 5
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
    unknown = liking.get("/rss?like=0000.00000")  # the loopback API has no such paper
    assert unknown.status_code == 422
    assert "arXiv has no paper 0000.00000" in unknown.json()["error"]


def test_for_you_without_likes_says_how_to_add_them(served: TestClient) -> None:
    nothing_liked = served.get("/rss/for-you")
    assert nothing_liked.status_code == 404
    assert '"like"' in nothing_liked.json()["hint"]


def test_the_page_shows_for_you_and_more_like_this(liking: TestClient) -> None:
    page = liking.get("/").text
    assert '<h2 id="similar">For you</h2>' in page
    assert 'href="?like=2411.' in page  # every card
    assert "/rss/for-you" in page
    assert "/rss/for-you" in liking.get("/opml").text
    more = liking.get(f"/?like={SPEECH[2]}").text
    assert '<h2 id="similar">More like <i>' in more
    assert "Similar to <a" in more
