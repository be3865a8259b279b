"""core.web.routes.feedback: "Like" / "Not for me" from a feed item, through the real app and a real store.

A GET shows a form and changes nothing; the POST records and answers 303; a forged or missing
signature is a 403 that changes nothing; undo forgets; the for-you feed follows at once.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from core.models import Feedback
from core.settings import Settings
from core.store import Store
from core.web.app import create_app
from core.web.signing import feedback_key, sign
from tests.web.conftest import SPEECH, entries

SECRET = "a-feedback-secret-for-tests"
LIKED = SPEECH  # three speech papers of the recorded day, liked from a feed here (config.json likes none)


@pytest.fixture
def app(served: TestClient, settings: Settings, store: Store) -> TestClient:
    """The served refresh (no liked papers in config.json), with a FEEDBACK_SECRET set."""
    return TestClient(create_app(replace(settings, feedback_secret=SECRET), store), follow_redirects=False)


def links_of(client: TestClient, paper_id: str) -> dict[str, str]:
    """The feedback links a JSON feed gives the paper (a feed that keeps every stored paper)."""
    feed = client.get("/json", params={"limit": "200", "min_score": "0"}).json()
    for item in feed["items"]:
        if item["_arxiv"]["id"].startswith(paper_id + "v"):
            links: dict[str, str] = item["_arxiv"]["feedback"]
            return links
    raise AssertionError(f"{paper_id} is not in the feed")


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_every_item_of_every_format_carries_signed_links(app: TestClient) -> None:
    rss = entries(app.get("/rss"))
    atom = entries(app.get("/atom"))
    assert rss
    assert atom
    for item in [*rss, *atom]:
        paper_id = item.link.rsplit("/abs/", 1)[1]
        like = f"/feedback/{paper_id}/like?sig={sign(SECRET.encode(), paper_id, 'like')}"
        assert like in item.summary + "".join(c.value for c in item.get("content", []))
    item = app.get("/json").json()["items"][0]
    paper_id = item["url"].rsplit("/abs/", 1)[1]
    assert path_of(item["_arxiv"]["feedback"]["dislike"]) == (
        f"/feedback/{paper_id}/dislike?sig={sign(SECRET.encode(), paper_id, 'dislike')}"
    )
    assert "Not for me</a>" in item["content_html"]


def test_no_secret_no_links_and_cron_secret_is_derived_not_reused(served: TestClient, settings: Settings) -> None:
    assert "/feedback/" not in served.get("/rss").text
    derived = replace(settings, cron_secret="the-cron-secret")
    key = feedback_key(derived)
    assert key is not None
    assert key != b"the-cron-secret"
    store = served.app.state.ctx.store  # type: ignore[attr-defined]
    text = TestClient(create_app(derived, store)).get("/rss").text
    assert "/feedback/" in text
    assert "the-cron-secret" not in text


def test_a_get_shows_a_form_and_changes_nothing(app: TestClient, store: Store) -> None:
    version = store.load_version()
    url = path_of(links_of(app, LIKED[0])["like"])
    for _ in range(2):  # a reader prefetching, a link scanner: nothing happens
        page = app.get(url)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert re.search(r"Add ‘.+’ to what you like\?", page.text)
        assert f'<form method="post" action="http://testserver{url.replace("&", "&amp;")}">' in page.text
    assert app.head(url).status_code == 200
    assert store.load_feedback() == Feedback()
    assert store.load_version() == version


def test_without_a_secret_a_link_is_not_found_and_changes_nothing(served: TestClient, store: Store) -> None:
    url = f"/feedback/{LIKED[0]}/like?sig={sign(SECRET.encode(), LIKED[0], 'like')}"
    for response in (served.get(url), served.post(url)):
        assert response.status_code == 404
        assert "FEEDBACK_SECRET" in response.text
    assert store.load_feedback() == Feedback()


def test_a_post_records_answers_303_and_the_page_offers_undo(app: TestClient, store: Store) -> None:
    url = path_of(links_of(app, LIKED[0])["like"])
    posted = app.post(url)
    assert posted.status_code == 303
    assert path_of(posted.headers["location"]) == url
    (opinion,) = store.load_feedback().opinions
    assert (opinion.id, opinion.action) == (LIKED[0], "like")
    page = app.get(url)
    learned = re.search(r'href="http://testserver/\?learned=(\w+)#learned"', page.text)
    assert learned is not None
    assert learned.group(1) == store.load_feedback().version  # a URL no cache holds from before
    shown = app.get(f"/?learned={learned.group(1)}")
    assert shown.status_code == 200
    assert 'id="learned"' in shown.text
    assert "You like ‘" in page.text
    assert 'name="undo" value="1"' in page.text
    assert ">Undo</button>" in page.text
    undone = app.post(url, content=b"undo=1", headers={"content-type": "application/x-www-form-urlencoded"})
    assert undone.status_code == 303
    assert store.load_feedback().opinions == []
    assert "to what you like?" in app.get(url).text
    assert app.post(url, content=b"undo=1&" + b"x" * 5000).status_code == 413  # no form is that long
    assert store.load_feedback().opinions == []


@pytest.mark.parametrize("forge", ["missing", "garbled", "another action", "another paper"])
def test_a_forged_or_missing_signature_is_403_and_changes_nothing(app: TestClient, store: Store, forge: str) -> None:
    good = sign(SECRET.encode(), LIKED[0], "like")
    url = {
        "missing": f"/feedback/{LIKED[0]}/like",
        "garbled": f"/feedback/{LIKED[0]}/like?sig={good[:-2]}xx",
        "another action": f"/feedback/{LIKED[0]}/dislike?sig={good}",
        "another paper": f"/feedback/{LIKED[1]}/like?sig={good}",
    }[forge]
    version = store.load_version()
    for response in (app.get(url), app.post(url)):
        assert response.status_code == 403
        assert "not signed by this site" in response.text
        assert "Traceback" not in response.text
    assert store.load_feedback() == Feedback()
    assert store.load_version() == version


def test_for_you_follows_three_likes_given_from_the_feed(app: TestClient, store: Store) -> None:
    before = app.get("/json/for-you")  # subscribed to before the first Like: a valid feed, empty
    assert before.status_code == 200
    assert before.json()["items"] == []
    assert 'press "Like" on an item' in before.json()["description"]
    assert "/rss/for-you" in app.get("/opml").text
    seen = []
    for paper_id in LIKED:
        assert app.post(path_of(links_of(app, paper_id)["like"])).status_code == 303
        response = app.get("/json/for-you")  # the very next request: no wait for the version check
        assert response.status_code == 200
        seen.append(
            (
                response.headers["etag"],
                [i["content_html"].split("similar to ")[1][:10] for i in response.json()["items"]],
            )
        )
    assert seen[0][0] != seen[1][0]
    assert "s-maxage=60," in response.headers["cache-control"]  # a CDN keeps it a minute, not fifteen
    assert "s-maxage=900" in app.get("/json").headers["cache-control"]  # feeds a Like does not change
    assert set(seen[0][1]) == {LIKED[0]}
    assert LIKED[1] in seen[1][1]  # the second like brought papers like it at once
    # (the third brings none over the similarity floor on the recorded day)
    items = entries(app.get("/rss/for-you?limit=10"))
    ids = [i.link.rsplit("/abs/", 1)[1] for i in items]
    assert len(ids) >= 5
    assert not set(ids) & set(LIKED)  # the liked papers are not listed
    speechy = [i for i in items if re.search(r"speech|audio|spoken|acoustic|voice|speaker", i.title + i.summary, re.I)]
    assert len(speechy) >= len(items) - 1, [i.title for i in items]
    page = app.get("/").text
    assert "Because you liked" in page
    assert 'id="learned"' in page
    assert page.count("from a feed") == 3


def test_a_dislike_lowers_its_neighbours_and_leaves_the_feed(app: TestClient, store: Store) -> None:
    for paper_id in LIKED:
        app.post(path_of(links_of(app, paper_id)["like"]))
    before = app.get("/json/for-you?limit=50").json()["items"]
    scores = {i["_arxiv"]["id"].split("v")[0]: i["_arxiv"]["score"] for i in before}
    top = before[0]["_arxiv"]["id"].split("v")[0]
    assert app.post(path_of(links_of(app, top)["dislike"])).status_code == 303
    after = app.get("/json/for-you?limit=50").json()["items"]
    assert top not in {i["_arxiv"]["id"].split("v")[0] for i in after}
    pulled = [i for i in after if "not for you" in i["content_html"]]
    assert pulled
    for item in pulled:
        paper_id = item["_arxiv"]["id"].split("v")[0]
        if paper_id in scores:
            assert item["_arxiv"]["score"] < scores[paper_id]
        assert f"for being like {top}" in item["content_html"]
    # undo from the page's "What it learned": the paper is back
    assert 'class="inline"' in app.get("/").text
    undo = path_of(links_of(app, top)["dislike"])
    app.post(undo, content=b"undo=1", headers={"content-type": "application/x-www-form-urlencoded"})
    assert top in {i["_arxiv"]["id"].split("v")[0] for i in app.get("/json/for-you?limit=50").json()["items"]}
