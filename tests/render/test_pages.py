"""core.render.pages: the index page, its highlighting and what it lists."""

from __future__ import annotations

from fastapi.testclient import TestClient

from core.models import KeywordHit, Match
from core.render.pages import highlight
from tests.papers import make_paper


def test_highlight_escapes_and_marks() -> None:
    paper = make_paper(match=Match(hits=[KeywordHit(keyword="kv cache", in_title=True)], score=1.5))
    marked = str(highlight("Fast <b>KV-cache</b> & KV cache", paper))
    assert marked == "Fast &lt;b&gt;<mark>KV-cache</mark>&lt;/b&gt; &amp; <mark>KV cache</mark>"
    from core.text.matching import evaluate
    from core.text.querylang import parse_query

    queried = make_paper("KV cache for LLM serving", authors=["Ada Lovelace"])
    hits = evaluate(parse_query('ti:"kv cache" au:lovelace cat:cs.AI'), queried)
    assert hits is not None
    shown = queried.model_copy(update={"match": Match(hits=hits, score=2.5)})
    assert str(highlight(shown.title, shown)) == "<mark>KV cache</mark> for LLM serving"


def test_highlight_marks_accented_words_a_folded_keyword_found() -> None:
    paper = make_paper(match=Match(hits=[KeywordHit(keyword="schrodinger", in_title=True)], score=1.5))
    assert str(highlight("The Schrödinger bridge", paper)) == "The <mark>Schrödinger</mark> bridge"
    # Decomposed text (o + combining diaeresis) folds to other positions: matched unfolded, not misplaced.
    assert "<mark>" not in str(highlight("The Schro\u0308dinger bridge", paper))


def test_index_lists_every_feed_and_the_papers(served: TestClient) -> None:
    response = served.get("/")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    for path in ("/rss", "/atom", "/rss/cs.AI", "/atom/cs.AI", "/rss/cs.LG", "/rss/cs.CL"):
        assert f"http://testserver{path}" in page
    assert page.count('<article class="paper"') == 50
    assert "2411.18077" in page
