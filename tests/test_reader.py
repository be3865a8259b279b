"""Reader-facing formats through the app: JSON Feed 1.1, OPML, the digest, feed polish, LaTeX."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import feedparser
import jsonschema
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from markdown_it import MarkdownIt

from core.config import Config
from core.digest import escape_markdown, render_digest
from core.models import KeywordHit, Match, RefreshState, Summary
from core.pages import highlight
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.text import latex_to_unicode
from tests.arxiv_fake import FakeArxiv
from tests.conftest import process_env
from tests.papers import make_paper

SCHEMA = json.loads((Path(__file__).parent / "data" / "jsonfeed-1.1.schema.json").read_text())
ROOT = Path(__file__).parents[1]


@pytest.fixture
def served(arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config, client: TestClient) -> TestClient:
    refresh(config, settings, store)
    return client


def test_json_feed_validates_and_matches_rss(served: TestClient) -> None:
    for path in ("/json", "/json/cs.CL", "/json?keywords=kv%20cache&type=new,replace&min_score=0.5"):
        response = served.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/feed+json; charset=utf-8"
        document = response.json()
        jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
        rss = feedparser.parse(served.get(path.replace("/json", "/rss", 1)).content)
        assert [item["id"] for item in document["items"]] == [e.id for e in rss.entries]
        assert document["feed_url"].endswith(path.replace(" ", "%20"))
    item = served.get("/json/cs.CL").json()["items"][0]
    assert item["attachments"][0]["mime_type"] == "application/pdf"
    assert item["_arxiv"]["score"] > 0
    assert item["_arxiv"]["matched"]
    assert served.get("/json/cs.XX").status_code == 404
    assert served.get("/json?min_score=x").status_code == 422


def test_opml_lists_every_feed(served: TestClient) -> None:
    response = served.get("/opml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/x-opml")
    root = etree.fromstring(response.content)
    assert root.get("version") == "2.0"
    outlines = root.findall(".//outline[@type='rss']")
    urls = [o.get("xmlUrl") for o in outlines]
    assert urls == [f"http://testserver/rss{suffix}" for suffix in ("", "/cs.AI", "/cs.LG", "/cs.CL")]
    for url in urls:
        assert not feedparser.parse(served.get(url).content).bozo


def test_rss_and_atom_polish(served: TestClient) -> None:
    rss = etree.fromstring(served.get("/rss/cs.CL?limit=5").content)
    channel = rss.find("channel")
    assert channel is not None
    assert channel.findtext("ttl") == "360"
    assert [d.text for d in channel.findall("skipDays/day")] == ["Saturday", "Sunday"]
    assert channel.findtext("image/url") == "http://testserver/static/icon.png"
    assert served.get("/static/icon.png").content.startswith(b"\x89PNG")
    enclosure = channel.find("item/enclosure")
    assert enclosure is not None
    assert enclosure.get("type") == "application/pdf"
    assert enclosure.get("url", "").startswith("https://arxiv.org/pdf/")
    atom = feedparser.parse(served.get("/atom/cs.CL?limit=5").content)
    assert atom.feed.icon == "http://testserver/static/icon.png"
    assert any(link.rel == "enclosure" for link in atom.entries[0].links)


def test_latex_becomes_unicode_in_feeds_but_stays_in_the_data(served: TestClient, store: Store) -> None:
    converted = {p.id: p for p in store.load_papers() if p.title_text != p.title}
    assert converted  # real cs papers have LaTeX in their titles
    assert all("$" in p.title or "\\" in p.title for p in converted.values())  # the data keeps the original
    everything = served.get("/json", params={"min_score": "0", "limit": "200", "type": "new,cross,replace"}).json()
    shown = {
        i["id"].rsplit("/", 1)[1]: i["title"] for i in everything["items"] if i["id"].rsplit("/", 1)[1] in converted
    }
    assert shown
    assert all(title == converted[pid].title_text for pid, title in shown.items())
    paper = make_paper(
        r"Complexity $\mathcal{O}(n^2)$ of \emph{Schr\"odinger} solvers", r"We get 5% faster $\alpha$-rates."
    )
    assert latex_to_unicode(paper.title) == "Complexity 𝒪(n^2) of Schrödinger solvers"
    assert latex_to_unicode(paper.abstract) == "We get 5% faster α-rates."
    assert latex_to_unicode("no LaTeX here, 5% only") == "no LaTeX here, 5% only"
    assert latex_to_unicode(r"broken \frac{") == r"broken \frac{"


def test_highlight_escapes_and_marks() -> None:
    paper = make_paper(match=Match(hits=[KeywordHit(keyword="kv cache", in_title=True)], score=1.5))
    marked = str(highlight("Fast <b>KV-cache</b> & KV cache", paper))
    assert marked == "Fast &lt;b&gt;<mark>KV-cache</mark>&lt;/b&gt; &amp; <mark>KV cache</mark>"
    from core.querylang import evaluate, parse_query

    queried = make_paper("KV cache for LLM serving", authors=["Ada Lovelace"])
    hits = evaluate(parse_query('ti:"kv cache" au:lovelace cat:cs.AI'), queried)
    assert hits is not None
    shown = queried.model_copy(update={"match": Match(hits=hits, score=2.5)})
    assert str(highlight(shown.title, shown)) == "<mark>KV cache</mark> for LLM serving"


def test_digest_has_one_section_per_paper(served: TestClient, store: Store, config: Config) -> None:
    response = served.get("/digest.md")
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    text = response.text
    tokens = MarkdownIt("commonmark").parse(text)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h3"]
    assert len(headings) == 50
    assert headings[0].startswith("1. [")
    assert "- **Total papers**: 50" in text
    assert "- **Categories monitored**: cs.AI, cs.LG, cs.CL" in text
    assert "## 🔍 Keywords" in text
    assert "## ⏰ Schedule" in text
    assert "**arXiv ID**: [" in text


def test_digest_escapes_titles_and_folds_summaries() -> None:
    summary = Summary(
        markdown="## Main\n<script>x</script>",
        model="qwen-long",
        provider="dashscope",
        language="en",
        created=make_paper().announced,
    )
    paper = make_paper("A *bold* [claim] about #hashtags_and_more", "Short.", summary=summary)
    from core.config import parse_config

    text = render_digest([paper], parse_config({"keywords": ["claim"]}), RefreshState())
    assert r"A \*bold\* \[claim\] about \#hashtags\_and\_more" in text
    assert escape_markdown("a|b") == r"a\|b"
    assert "<details>\n<summary>🤖 AI summary (qwen-long)</summary>" in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text
    assert "- **Last updated**: never" in text


def test_digest_command_writes_a_file(
    arxiv_server: FakeArxiv, settings: Settings, config_path: Path, tmp_path: Path
) -> None:
    env = process_env(settings)
    assert (
        subprocess.run([sys.executable, "-m", "core", "refresh"], cwd=ROOT, env=env, capture_output=True).returncode
        == 0
    )
    out = tmp_path / "digest.md"
    result = subprocess.run(
        [sys.executable, "-m", "core", "digest", "-o", str(out)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().count("\n### ") == 50
