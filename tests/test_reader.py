"""Reader-facing formats through the app: JSON Feed 1.1, OPML, the digest, feed polish, LaTeX."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import jsonschema
from fastapi.testclient import TestClient
from lxml import etree

from core.store import Store
from core.text.latex import latex_to_unicode
from tests.papers import make_paper

SCHEMA = json.loads((Path(__file__).parent / "data" / "jsonfeed-1.1.schema.json").read_text())
ROOT = Path(__file__).parents[1]


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
        i["url"].rsplit("/", 1)[1]: i["title"] for i in everything["items"] if i["url"].rsplit("/", 1)[1] in converted
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
