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
