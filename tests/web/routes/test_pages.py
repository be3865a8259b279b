"""core.web.routes.pages: the index page, with its "For you" and "More like" sections."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from lxml import etree

from tests.web.conftest import SPEECH


def test_the_page_shows_for_you_and_more_like_this(liking: TestClient) -> None:
    page = liking.get("/").text
    assert '<h2 id="similar">For you</h2>' in page
    assert 'href="?like=2411.' in page  # every card
    assert "/rss/for-you" in page
    assert "/rss/for-you" in liking.get("/opml").text
    more = liking.get(f"/?like={SPEECH[0]}").text
    assert '<h2 id="similar">More like <i>' in more
    assert "Similar to <a" in more
    section = more[more.index('id="similar"') : more.index('id="papers"')]
    assert 'class="score alike"' in section  # on its own scale, not "score 1.32"
    assert re.search(r">\d+% alike</span>", section)
    assert not re.search(r">score \d", section)


def test_a_paper_like_nothing_stored_says_so(liking: TestClient) -> None:
    """An EEG paper among the day's cs papers: none is really like it."""
    page = liking.get("/?like=2411.17721").text
    assert "No stored paper is like it yet: none is 10% alike or more alike." in page
    assert 'id="similar-paper-' not in page


def test_the_digest_has_a_section_per_topic_and_for_you(liking: TestClient) -> None:
    text = liking.get("/digest").text
    assert text.startswith("# Test radar\n\n")
    topic, for_you = text.index("\n## 🏷️ Topic: agents\n"), text.index("\n## ✨ For you\n")
    assert text.index("\n## 📚 Papers\n") < topic < for_you < text.index("\n## 🔍 Keywords\n")
    assert "\n### 1. [" in text[topic:for_you]
    assert "% alike 2411.18" in text[for_you:]


def test_opml_lists_for_you_and_the_topics(liking: TestClient) -> None:
    root = etree.fromstring(liking.get("/opml").content)
    urls = [o.get("xmlUrl") for o in root.findall(".//outline[@type='rss']")]
    assert urls == [f"http://testserver/rss{suffix}" for suffix in ("", "/for-you", "/topic/agents")]


def test_the_page_says_a_liked_paper_not_stored_yet_is_fetched_by_the_next_refresh(liking: TestClient) -> None:
    page = liking.get("/?like=arXiv:1707.08567v1")
    assert page.status_code == 200
    assert "1707.08567 is not stored yet; the next refresh fetches it." in page.text
