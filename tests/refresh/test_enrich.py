"""core.refresh.enrich: metadata from the arXiv API, against recorded real API answers on loopback
(their reading and batching are tests/arxiv/test_api.py's)."""

from __future__ import annotations

from core.arxiv.client import ArxivClient
from core.config import parse_config
from core.models import Metadata
from core.refresh import refresh
from core.refresh.enrich import enrich_papers
from core.render.feeds import render_item_html
from core.settings import Settings
from core.store.sqlite import SqliteStore
from tests.arxiv_fake import API_TWO, API_ZERO, FakeArxiv, read
from tests.conftest import TEST_CONFIG
from tests.papers import make_paper


def api_settings(fake: FakeArxiv, interval: float = 0.0) -> Settings:
    return Settings(arxiv_api_base=fake.server.url + "/api/query", arxiv_min_interval_s=interval)


def test_connection_refused_means_no_metadata_not_an_error() -> None:
    settings = Settings(arxiv_api_base="http://127.0.0.1:9/api/query", arxiv_min_interval_s=0)
    papers = [make_paper("AEW10", id="1707.08567")]
    with ArxivClient(settings, sleep=lambda _: None) as client:
        assert enrich_papers(papers, papers, client, "http://127.0.0.1:9/api/query", limit=10) == papers


def test_enrichment_reaches_the_item_and_is_not_asked_twice(arxiv_server: FakeArxiv) -> None:
    papers = [make_paper("AEW10", id="1707.08567"), make_paper("Old", id="astro-ph/0601001", categories=["astro-ph"])]
    arxiv_server.api_answers["1707.08567,astro-ph/0601001"] = API_TWO
    base = arxiv_server.server.url + "/api/query"
    with ArxivClient(api_settings(arxiv_server)) as client:
        enriched = enrich_papers(papers, papers, client, base, limit=10)
        assert enriched[0].metadata is not None
        assert enriched[0].metadata.primary_category == "cs.IT"
        assert enriched[1].metadata is None
        again = enrich_papers(enriched, enriched[:1], client, base, limit=10)
    assert again == enriched
    assert len(arxiv_server.api_requests) == 1
    meta = Metadata(primary_category="cs.LG", venue="ICLR 2026", code_links=["https://github.com/a/b"], comment="x <y>")
    html = render_item_html(make_paper(metadata=meta))
    assert "<b>Venue:</b> ICLR 2026" in html
    assert '<b>Code:</b> <a href="https://github.com/a/b">' in html
    assert "x &lt;y&gt;" in html


def test_a_refresh_asks_the_api_only_for_shown_papers(arxiv_server: FakeArxiv, settings: Settings) -> None:
    store = SqliteStore(settings.data_dir / "enrich.sqlite3")
    config = parse_config({**TEST_CONFIG, "max_papers": 5})
    refresh(config, settings, store)
    asked = [i for r in arxiv_server.api_requests for i in r.path.split("id_list=")[1].split("&")[0].split("%2C")]
    kept = [p.id for p in store.load_papers() if p.match.score >= 1 and p.match.excluded_by is None]
    assert asked
    assert set(asked) <= {p.id for p in store.load_papers()}
    assert len(asked) <= len(kept)
    off = parse_config({**TEST_CONFIG, "enrich": False})
    arxiv_server.api_requests.clear()
    arxiv_server.serve(read(API_ZERO))  # any change: a new refresh
    refresh(off, settings, SqliteStore(settings.data_dir / "off.sqlite3"))
    assert arxiv_server.api_requests == []


def test_an_answer_about_papers_not_asked_for_changes_none_of_them(arxiv_server: FakeArxiv) -> None:
    """The API answers for 1707.08567 when asked about 0808.05394 alone (its recorded answer
    holds both): the paper not asked about (already enriched, or not shown) keeps what it had."""
    asked, other = make_paper("Asked", id="0808.05394"), make_paper("AEW10", id="1707.08567")
    arxiv_server.api_answers["0808.05394"] = API_TWO
    with ArxivClient(api_settings(arxiv_server)) as client:
        enriched = enrich_papers([asked, other], [asked], client, arxiv_server.server.url + "/api/query", limit=10)
    assert enriched[1] == other
