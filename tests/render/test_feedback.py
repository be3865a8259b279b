"""core.render.feedback: the feedback pages escape what arXiv sent, and items carry their links."""

from __future__ import annotations

from core.render.feedback import ItemLinks, ask_page, done_page
from core.render.feeds import build_feed
from core.render.pages import render_feedback_page
from tests.papers import HOSTILE_TITLE, make_paper


def test_the_pages_escape_a_hostile_title_and_post_only_from_their_form() -> None:
    url = "https://example.org/feedback/2411.00001/like?sig=abc&x=1"
    for page in (
        ask_page("2411.00001", HOSTILE_TITLE, "like", url, None),
        done_page("2411.00001", HOSTILE_TITLE, "like", url, "https://example.org/?learned=v#learned"),
    ):
        html = render_feedback_page(page, "https://example.org/", "/icon.png", "/app.css")
        assert "<script>" not in html
        assert "&lt;script&gt;" in html
        assert html.count("<form") == 1
        assert 'method="post" action="https://example.org/feedback/2411.00001/like?sig=abc&amp;x=1"' in html


def test_feed_items_carry_their_links_only_when_given() -> None:
    papers = [make_paper("A paper", id="2411.00001")]
    plain = build_feed(papers, title="t", description="d", link="/", self_url="/rss", updated=None)
    assert "Not for me" not in plain.items[0].content_html
    assert "feedback" not in plain.items[0].extra
    links = ItemLinks("https://x/feedback/2411.00001/like?sig=a&b", "https://x/feedback/2411.00001/dislike?sig=c")
    linked = build_feed(
        papers, title="t", description="d", link="/", self_url="/rss", updated=None, links=lambda p: links
    )
    assert '<a href="https://x/feedback/2411.00001/like?sig=a&amp;b">Like</a>' in linked.items[0].content_html
    assert linked.items[0].extra["feedback"] == {"like": links.like, "dislike": links.dislike}
