"""core.render.feeds: valid, deterministic RSS 2.0 and Atom 1.0 from real papers."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
import pytest
from lxml import etree

from core.arxiv.rss import parse_feed
from core.models import KeywordHit, Match, Paper
from core.render.feeds import build_feed, render_feed
from core.text.matching import Matcher, match_papers
from tests.arxiv_fake import COMBINED, read
from tests.feed_rules import atom_problems, rss_problems
from tests.papers import make_paper

UPDATED = datetime(2024, 11, 28, 14, 47, tzinfo=UTC)
NS = {"dc": "http://purl.org/dc/elements/1.1/", "atom": "http://www.w3.org/2005/Atom"}


@pytest.fixture(scope="module")
def papers() -> list[Paper]:
    real = [p for p in parse_feed(read(COMBINED)).papers if "cs.CL" in p.categories][:40]
    return match_papers(real, Matcher.build(["LLM", "language model"]))


def render(papers: list[Paper], fmt: str, updated: datetime | None = UPDATED) -> bytes:
    feed = build_feed(
        papers,
        title="Radar: cs.CL",
        description="ranked",
        link="http://127.0.0.1/",
        self_url="http://127.0.0.1/rss/cs.CL?keywords=llm&min_score=1",
        updated=updated,
    )
    return render_feed(feed, fmt)  # type: ignore[arg-type]


def test_rss_is_valid_and_complete(papers: list[Paper]) -> None:
    body = render(papers, "rss")
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    assert parsed.version == "rss20"
    assert len(parsed.entries) == len(papers)
    root = etree.fromstring(body)
    items = root.findall("channel/item")
    first, paper = items[0], papers[0]
    guid = first.find("guid")
    assert guid is not None
    assert (guid.text, guid.get("isPermaLink")) == (f"https://arxiv.org/abs/{paper.id}", "true")
    assert [e.text for e in first.findall("dc:creator", NS)] == paper.authors
    assert [e.text for e in first.findall("category")] == paper.categories
    assert first.findtext("pubDate") == "Thu, 28 Nov 2024 05:00:00 +0000"
    assert first.findtext("title") == paper.title
    assert root.findtext("channel/lastBuildDate") == "Thu, 28 Nov 2024 14:47:00 +0000"
    assert root.findtext("channel/link") == "http://127.0.0.1/"
    self_link = root.find("channel/atom:link[@rel='self']", NS)
    assert self_link is not None
    assert self_link.get("href") == "http://127.0.0.1/rss/cs.CL?keywords=llm&min_score=1"


def test_atom_is_valid_and_complete(papers: list[Paper]) -> None:
    body = render(papers, "atom")
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    assert parsed.version == "atom10"
    entry, paper = parsed.entries[0], papers[0]
    assert entry.id == paper.abs_url
    assert [a.name for a in entry.authors] == paper.authors
    assert [t.term for t in entry.tags] == paper.categories
    assert entry.content[0].type == "text/html"
    assert paper.abstract[:80] in entry.content[0].value
    root = etree.fromstring(body)
    assert root.findtext("atom:updated", namespaces=NS) == "2024-11-28T14:47:00+00:00"


def test_item_html_explains_why_the_paper_is_there() -> None:
    paper = make_paper(
        "Tiny LLM",
        "We study an LLM.",
        authors=["Ada L.", "Alan T."],
        categories=["cs.CL", "cs.AI"],
        match=Match(hits=[KeywordHit(keyword="LLM", in_title=True, in_abstract=True)], score=1.5),
    )
    html = feedparser.parse(render([paper], "rss")).entries[0].summary
    assert "Ada L., Alan T." in html
    assert "cs.CL, cs.AI" in html
    assert "<b>Why it is here:</b> score 1.5 = LLM 1.5 (title, abstract)" in html
    assert "Announce type:</b> new" in html
    assert "We study an LLM." in html
    assert 'href="https://arxiv.org/pdf/2411.00001v1"' in html


def test_same_data_gives_the_same_bytes(papers: list[Paper]) -> None:
    for fmt in ("rss", "atom"):
        assert render(papers, fmt) == render(papers, fmt)
        assert render(papers, fmt) != render(papers, fmt, datetime(2024, 11, 29, tzinfo=UTC))


def test_an_empty_feed_is_valid() -> None:
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(render([], fmt, updated=None))
        assert not parsed.bozo
        assert parsed.entries == []


def test_hostile_text_is_escaped() -> None:
    """(XML-illegal characters are cleaned where texts come in: each inflow's tests render its
    texts with tests.feed_rules.illegal_in_feeds.)"""
    paper = make_paper(
        "Evil <script>alert(1)</script> title",
        "Abstract with </p><img src=x onerror=alert(1)> and ]]> too.",
        authors=["<b>Mallory</b>"],
    )
    for fmt in ("rss", "atom"):
        body = render([paper], fmt)
        etree.fromstring(body)  # well-formed XML
        entry = feedparser.parse(body).entries[0]
        content = entry.summary if fmt == "rss" else entry.content[0].value
        assert "<script>" not in content
        assert "<img" not in content
        assert "&lt;img src=x onerror=alert(1)&gt;" in content


@pytest.mark.slow
def test_bytes_do_not_depend_on_the_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Serverless instances must agree on a feed's ETag: no set or dict ordering may leak in."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys; from datetime import datetime, UTC; from core.render.feeds import build_feed, render_feed;"
        "from tests.papers import make_paper;"
        "f = build_feed([make_paper(categories=['cs.AI', 'cs.LG', 'stat.ML'], authors=['A', 'B'])], title='t',"
        " description='d', link='http://x/', self_url='http://x/rss', updated=datetime(2024, 1, 1, tzinfo=UTC),"
        " icon_url='http://x/i.png');"
        "sys.stdout.buffer.write(render_feed(f, sys.argv[1]))"
    )
    root = Path(__file__).parents[2]
    for fmt in ("rss", "atom", "json"):
        outputs = {
            subprocess.run(
                [sys.executable, "-c", script, fmt],
                cwd=root,
                env={**os.environ, "PYTHONHASHSEED": seed},
                capture_output=True,
                check=True,
            ).stdout
            for seed in ("1", "2", "3")
        }
        assert len(outputs) == 1, fmt


def test_an_empty_feed_before_any_refresh_is_not_dated_1970() -> None:
    feed = build_feed([], title="t", description="d", link="http://x/", self_url="http://x/rss", updated=None)
    for fmt in ("rss", "atom"):
        body = render_feed(feed, fmt)  # type: ignore[arg-type]
        assert b"1970" not in body
        assert body == render_feed(feed, fmt)  # type: ignore[arg-type]


def test_atom_entries_have_one_alternate_link_and_the_pdf_as_an_enclosure(papers: list[Paper]) -> None:
    """RFC 4287: a link without rel is an alternate; two alternates of one type are invalid."""
    atom = etree.fromstring(render(papers[:20], "atom"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for entry in atom.findall("a:entry", ns):
        links = entry.findall("a:link", ns)
        assert all(link.get("rel") for link in links)
        alternates = [link for link in links if link.get("rel") == "alternate"]
        assert [(a.get("type"), a.get("href")) for a in alternates] == [
            ("text/html", entry.findtext("a:id", namespaces=ns))
        ]
        (pdf,) = [link for link in links if link.get("rel") == "enclosure"]
        assert pdf.get("type") == "application/pdf"
        assert "/pdf/" in pdf.get("href", "")
    parsed = feedparser.parse(render(papers[:5], "atom"))
    assert all("/abs/" in entry.link for entry in parsed.entries)  # readers open the abstract


def test_rss_names_every_author_in_one_creator_as_arxiv_does(papers: list[Paper]) -> None:
    """feedparser (and newsboat) show the last dc:creator only: one, with every name."""
    several = next(p for p in papers if len(p.authors) >= 3)
    rss = render([several], "rss")
    creators = etree.fromstring(rss).findall(".//{http://purl.org/dc/elements/1.1/}creator")
    assert [c.text for c in creators] == [", ".join(several.authors)]
    assert feedparser.parse(rss).entries[0].author == ", ".join(several.authors)


def test_authors_are_shown_in_unicode_in_every_format() -> None:
    from core.config import parse_config
    from core.models import RefreshState
    from core.refresh.rank import rank_for_config
    from core.render.digest import render_digest

    raw = make_paper("Quantum", authors=["Michal Hajdu\\v{s}ek", "Fran\\c{c}ois B\\'enard", "Ada Lovelace"])
    (paper,) = rank_for_config([raw], parse_config({"categories": ["cs.AI"], "min_score": 0}))
    shown = ["Michal Hajdušek", "François Bénard", "Ada Lovelace"]
    assert paper.display_authors == shown
    assert paper.authors == raw.authors  # the stored data keeps arXiv's original
    rss, atom = render([paper], "rss"), render([paper], "atom")
    json_feed = render([paper], "json")
    assert feedparser.parse(rss).entries[0].author == ", ".join(shown)
    assert [a.name for a in feedparser.parse(atom).entries[0].authors] == shown
    assert "Hajdušek" in json_feed.decode()
    digest = render_digest([paper], parse_config({"min_score": 0}), RefreshState())
    assert "Michal Hajdušek" in digest
    for body in (rss.decode(), atom.decode(), json_feed.decode(), digest):
        assert "\\v{s}" not in body
        assert "\\\\v{s}" not in body


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feeds_are_valid_by_their_specifications(papers: list[Paper], fmt: str) -> None:
    """RFC 4287 (a RELAX NG grammar and the rules it cannot see) and RSS 2.0, on real papers,
    on an empty feed and on hostile text."""
    check = atom_problems if fmt == "atom" else rss_problems
    hostile = make_paper("Evil <script>", "x & y ]]> z", authors=["<b>Eve</b>"], categories=["cs.AI", "<i>"])
    for shown in (papers, [], [hostile]):
        assert check(render(shown, fmt)) == []
    assert check(render([], fmt, updated=None)) == []


def test_the_atom_rules_catch_what_readers_trip_on() -> None:
    """The checks can fail: two alternate links (links without rel), a missing updated, an id
    that is not an IRI, a date without a zone."""
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>t</title><updated>2024-11-28T05:00:00Z</updated>'
        '<link rel="self" href="http://x/atom"/><author><name>a</name></author>'
        '<entry><id>{id}</id><title>p</title>{updated}<link href="http://x/abs"/><link href="http://x/pdf"/></entry></feed>'
    )
    good = atom.format(id="http://x/abs", updated="<updated>2024-11-28T05:00:00Z</updated>")
    assert atom_problems(good.replace('<link href="http://x/pdf"/>', "").encode()) == []
    problems = "\n".join(atom_problems(good.encode()))
    assert "2 alternate links" in problems
    assert "grammar" in "\n".join(atom_problems(atom.format(id="http://x/abs", updated="").encode()))
    assert "not an absolute IRI" in "\n".join(
        atom_problems(atom.format(id="abs-1", updated="<updated>2024-11-28T05:00:00Z</updated>").encode())
    )
    assert "grammar" in "\n".join(
        atom_problems(atom.format(id="http://x/abs", updated="<updated>2024-11-28 05:00</updated>").encode())
    )


def test_the_rss_rules_catch_what_readers_trip_on() -> None:
    rss = (
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">'
        "<channel><title>t</title><link>http://x/</link><description>d</description>"
        '<atom:link href="http://x/rss" rel="self"/>{item}</channel></rss>'
    )
    good = "<item><title>p</title><guid>http://x/abs</guid><pubDate>Thu, 28 Nov 2024 05:00:00 +0000</pubDate></item>"
    assert rss_problems(rss.format(item=good).encode()) == []
    for bad, problem in [
        (good.replace("</title>", "</title><dc:creator>A</dc:creator><dc:creator>B</dc:creator>"), "more than once"),
        (good.replace("2024", "24"), "four-digit year"),
        (good + good, "appears 2 times"),
        (good.replace("http://x/abs", "abs-1"), "not a URL"),
    ]:
        assert problem in "\n".join(rss_problems(rss.format(item=bad).encode()))
