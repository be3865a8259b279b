"""core.web.routes.pages: the index page, with its "For you" and "More like" sections."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import SPEECH


def test_the_page_shows_for_you_and_more_like_this(liking: TestClient) -> None:
    page = liking.get("/").text
    assert '<h2 id="similar">For you</h2>' in page
    assert 'href="?like=2411.' in page  # every card
    assert "/rss/for-you" in page
    assert "/rss/for-you" in liking.get("/opml").text
    more = liking.get(f"/?like={SPEECH[2]}").text
    assert '<h2 id="similar">More like <i>' in more
    assert "Similar to <a" in more


def test_the_page_says_a_liked_paper_not_stored_yet_is_fetched_by_the_next_refresh(liking: TestClient) -> None:
    page = liking.get("/?like=arXiv:1707.08567v1")
    assert page.status_code == 200
    assert "1707.08567 is not stored yet; the next refresh fetches it." in page.text
