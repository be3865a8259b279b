"""The product in real clients: headless Chromium on the index page, newsboat on the feeds.

Chromium (Debian's package) is driven by Playwright; `make test` installs both programs.
Set UPDATE_SCREENSHOTS=1 to refresh the screenshots under docs/ that the README shows.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from core.config import parse_config
from core.refresh import refresh
from core.settings import Settings
from core.store.sqlite import SqliteStore
from core.summarize import open_summarizer
from core.web.app import create_app
from tests.arxiv_fake import FakeArxiv
from tests.conftest import TEST_CONFIG
from tests.dashscope_fake import FakeDashScope
from tests.papers import HOSTILE_TITLE, hostile_paper
from tests.uvicorn_server import serve

pytestmark = pytest.mark.slow  # `pytest -m "not slow"` skips these

DOCS = Path(__file__).parents[1] / "docs"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KV_CACHE_IDS = ["2411.15785", "2411.18077", "2411.18424"]


@pytest.fixture
def live(arxiv_server: FakeArxiv, settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The app under uvicorn with the recorded feed refreshed and five AI summaries made."""
    config = parse_config({**TEST_CONFIG, "summary": {"max_papers": 5, "language": "en"}})
    fake = FakeDashScope()
    with fake.server:
        keyed = dataclasses.replace(settings, dashscope_api_key=fake.api_key, dashscope_base_url=fake.native_base)
        store = SqliteStore(tmp_path / "live.sqlite3")
        refresh(config, keyed, store, summarizer=open_summarizer(config.summary, keyed))
    settings.config_path.write_text(config.model_dump_json())
    with serve(create_app(keyed, store)) as url:
        yield url


LIKED = ["2411.18138", "2411.18320", "2411.18497"]  # three speech papers of the recorded day


@pytest.fixture
def live_liking(arxiv_server: FakeArxiv, settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The app under uvicorn with liked papers and a topic, as a user who imports the OPML has."""
    config = parse_config({**TEST_CONFIG, "like": LIKED, "topics": [{"name": "agents", "keywords": ["agent"]}]})
    store = SqliteStore(tmp_path / "liking.sqlite3")
    refresh(config, settings, store)
    refresh(config, settings, store)  # resolves the likes from the stored papers (arXiv answers 304)
    settings.config_path.write_text(config.model_dump_json())
    with serve(create_app(settings, store)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def screenshot_path(name: str, tmp_path: Path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        return DOCS / name
    return tmp_path / name


def csp_violations(page: Page) -> list[str]:
    """Console reports of anything the page's Content-Security-Policy blocked."""
    blocked: list[str] = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    return blocked


def test_index_page_in_chromium(live: str, browser: Browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    blocked = csp_violations(page)
    page.goto(live + "/")
    cards = page.locator("article.paper")
    assert cards.count() == 50
    first = cards.first
    assert first.locator("h3 a").inner_text()
    assert first.locator(".tag").count() >= 1
    assert "score" in first.locator(".score").inner_text()
    assert first.locator("mark").count() >= 1
    assert "Following cs.AI, cs.LG, cs.CL" in page.locator("#status").inner_text()
    assert "next refresh" in page.locator("#status").inner_text()
    assert page.locator("#summaries").inner_text() == "summaries by qwen-long (dashscope, region cn)"
    # The papers lead: the first card starts in the first screen, subscribing is one row above.
    assert first.bounding_box()["y"] < 450  # type: ignore[index]
    assert page.locator("#subscribe a").count() == 3
    assert not page.locator("#builder").is_visible()  # folded, one click away
    page.screenshot(path=screenshot_path("index-desktop.png", tmp_path))

    # Open an AI summary.
    summary = page.locator("details.summary").first
    assert not summary.locator(".ai").is_visible()
    summary.locator("summary").click()
    assert summary.locator(".ai h2").first.inner_text() == "Main contributions and what is new"

    # Build a filtered feed and fetch what it points at.
    page.click("#build > summary")
    page.fill("input[name=keywords]", "kv cache")
    page.fill("input[name=min_score]", "0.5")
    page.check("input[name=type][value=replace]")
    page.select_option("select[name=format]", "atom")
    page.click("#builder button[type=submit]")
    expect(page.locator("#built-preview")).to_have_text("This feed keeps 3 of the current papers.")
    built = page.locator("#built-url").input_value()
    assert built.startswith(live + "/atom?")
    feed = feedparser.parse(httpx.get(built).content)
    assert not feed.bozo
    assert sorted(e.link.rsplit("/", 1)[1] for e in feed.entries) == KV_CACHE_IDS
    assert blocked == []  # the style sheet, the script and its fetch all run under the policy
    page.close()


def test_hostile_paper_runs_no_script_in_chromium(settings: Settings, browser: Browser, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "hostile.sqlite3")
    store.save_papers([hostile_paper()])
    with serve(create_app(settings, store)) as url:
        page = browser.new_page()
        page.goto(url + "/")
        page.locator("details.summary summary").click()
        assert "[click](javascript:window.pwned=4)" in page.locator("details.summary").inner_text()  # left as text
        hrefs = page.evaluate("[...document.querySelectorAll('a[href]')].map((a) => a.protocol)")
        assert set(hrefs) <= {"http:", "https:"}
        assert page.locator("article.paper").count() == 1
        assert HOSTILE_TITLE in page.locator("article.paper h3").inner_text()
        assert page.evaluate("window.pwned") is None
        page.close()


def test_index_page_on_a_phone_in_dark_mode(live: str, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark", device_scale_factor=2)
    page = context.new_page()
    page.goto(live + "/")
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"), "the page scrolls sideways"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 20, 22)"
    path = screenshot_path("index-phone-dark.png", tmp_path)
    page.screenshot(path=path)
    assert path.read_bytes().startswith(b"\x89PNG")
    # The subscribe row fits on one line, and the first paper is on the first screen.
    row = page.locator("#subscribe").bounding_box()
    link = page.locator("#subscribe a").first.bounding_box()
    assert row is not None
    assert link is not None
    assert row["height"] < 2 * link["height"] + 8, "the subscribe row wraps"
    assert page.locator("article.paper").first.bounding_box()["y"] < 700  # type: ignore[index]
    context.close()


def test_newsboat_subscribes_and_stores_the_items(live: str, tmp_path: Path) -> None:
    entries = feedparser.parse(httpx.get(live + "/rss/cs.CL").content).entries
    expected = {e.title for e in entries}
    authors = {e.link: e.author for e in entries}  # every name, in one dc:creator
    assert len(expected) > 5
    config = tmp_path / "config"
    config.write_text("")
    for feeds in (["rss"], ["atom"], ["rss", "atom"]):
        urls, cache = tmp_path / f"urls-{len(feeds)}{feeds[0]}", tmp_path / f"cache-{len(feeds)}{feeds[0]}.db"
        urls.write_text("".join(f"{live}/{fmt}/cs.CL\n" for fmt in feeds))
        base = ["newsboat", "-u", str(urls), "-c", str(cache), "-C", str(config)]
        reload = subprocess.run([*base, "-x", "reload"], capture_output=True, text=True, timeout=120)
        assert reload.returncode == 0, reload.stderr
        unread = subprocess.run([*base, "-x", "print-unread"], capture_output=True, text=True, timeout=60)
        # The RSS and Atom items share their guid/id (the abstract URL): newsboat counts each paper once.
        assert unread.stdout.strip() == f"{len(expected)} unread articles", feeds
        with sqlite3.connect(cache) as db:
            rows = db.execute("SELECT guid, title, author, url FROM rss_item").fetchall()
        assert {title for _, title, _, _ in rows} == expected
        # The item's link is the abstract, not the PDF, and newsboat shows every author.
        assert all(url.startswith("https://arxiv.org/abs/") and guid == url + "#cs.CL" for guid, _, _, url in rows)
        assert all(author == authors[url] for _, _, author, url in rows), feeds
        assert any(author.count(",") >= 2 for _, _, author, _ in rows)


def test_newsboat_imports_the_opml_and_every_feed_shows_its_papers(live_liking: str, tmp_path: Path) -> None:
    """The issue: after importing /opml, "All followed categories" showed 0 items, its papers
    counted as the category feeds' (one guid everywhere; newsboat keeps an item in one feed)."""
    opml = tmp_path / "feeds.opml"
    opml.write_bytes(httpx.get(live_liking + "/opml").content)
    config, urls, cache = tmp_path / "config", tmp_path / "urls", tmp_path / "cache.db"
    config.write_text("")
    base = ["newsboat", "-u", str(urls), "-c", str(cache), "-C", str(config)]
    imported = subprocess.run([*base, "-i", str(opml)], capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    subscribed = [line.split()[0] for line in urls.read_text().splitlines() if line.startswith("http")]
    assert subscribed == [f"{live_liking}/rss{suffix}" for suffix in ("", "/for-you", "/topic/agents")]
    reload = subprocess.run([*base, "-x", "reload"], capture_output=True, text=True, timeout=120)
    assert reload.returncode == 0, reload.stderr
    with sqlite3.connect(cache) as db:
        stored = dict(db.execute("SELECT feedurl, count(*) FROM rss_item GROUP BY feedurl").fetchall())
        links = db.execute("SELECT url FROM rss_item").fetchall()
    for url in subscribed:  # every feed shows what it promises: all of its items
        assert stored.get(url, 0) == len(feedparser.parse(httpx.get(url).content).entries) > 0, url
    assert stored[f"{live_liking}/rss"] == 50
    # In the reader's list of everything, a paper shows twice only where two listed feeds both
    # keep it (a topic's paper among the ranked ones); no category slice doubles the main feed.
    assert len(links) - len(set(links)) < len(links) / 4


def test_the_ranked_papers_lead_the_first_screen_of_a_phone(live_liking: str, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    page.goto(live_liking + "/")
    height = page.evaluate("window.innerHeight")
    ranked = page.evaluate("document.querySelector('article[id^=\"paper-\"]').getBoundingClientRect().top")
    assert ranked < height - 100, "the first ranked paper is below the first screen"
    jump = page.locator("#jump")
    assert jump.bounding_box()["y"] < height  # type: ignore[index]
    assert jump.locator("a[href='#similar']").inner_text().startswith("for you (")
    # For you follows the ranked papers (the jump leads to it); "more like this" leads.
    assert (
        page.evaluate("document.getElementById('similar').compareDocumentPosition(document.getElementById('papers'))")
        == 2
    )
    # Nothing breaks inside a date, a category or a keyword chip (one line box each).
    broken = page.evaluate(
        "[...document.querySelectorAll('#status .when, .tag, .score, .meta mark')]"
        ".filter((e) => e.getClientRects().length > 1).map((e) => e.textContent)"
    )
    assert page.locator("#status .when").count() == 3  # the last refresh, the next one's day and hour
    assert page.locator(".meta mark").count() > 10
    assert broken == []
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"), "the page scrolls sideways"
    page.screenshot(path=tmp_path / "index-phone.png")
    page.goto(live_liking + f"/?like={LIKED[0]}")
    assert (
        page.evaluate("document.getElementById('similar').compareDocumentPosition(document.getElementById('papers'))")
        == 4
    )
    context.close()


def test_the_feed_builder_builds_every_feed_with_only_what_was_changed(live_liking: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_liking + "/")
    page.click("#build > summary")
    options = page.eval_on_selector_all("select[name=feed] option", "(os) => os.map((o) => o.value)")
    assert options == ["", "/for-you", "/cs.AI", "/cs.LG", "/cs.CL", "/topic/agents"]

    def build() -> str:
        page.evaluate("document.getElementById('built-url').value = ''")
        page.evaluate("document.getElementById('built-preview').textContent = ''")
        page.click("#builder button[type=submit]")
        expect(page.locator("#built-preview")).not_to_have_text("")
        expect(page.locator("#built-preview")).not_to_have_text("Checking…")
        return page.locator("#built-url").input_value()

    assert build() == live_liking + "/rss"  # nothing changed: no type=new%2Ccross
    page.select_option("select[name=feed]", "/topic/agents")
    page.fill("input[name=q]", 'ti:agent ANDNOT "survey"')
    page.fill("input[name=limit]", "20")
    assert build() == live_liking + "/rss/topic/agents?q=ti%3Aagent+ANDNOT+%22survey%22&limit=20"
    feed = feedparser.parse(httpx.get(page.locator("#built-url").input_value()).content)
    assert 0 < len(feed.entries) <= 20
    page.select_option("select[name=feed]", "/for-you")
    page.select_option("select[name=format]", "atom")
    page.fill("input[name=q]", "")
    page.fill("input[name=limit]", "")
    page.fill("input[name=like]", LIKED[0])
    page.uncheck("input[name=type][value=cross]")
    assert build() == f"{live_liking}/atom/for-you?like={LIKED[0]}&type=new"
    # An invalid value: the error and its hint, and no URL to open.
    page.fill("input[name=like]", "not-an-id")
    assert build() == ""
    assert (
        page.locator("#built-preview")
        .inner_text()
        .startswith("Error: parameter 'like': 'not-an-id' is not an arXiv id")
    )
    assert not page.locator("#built-link").is_visible()
    page.fill("input[name=like]", "")
    page.fill("input[name=limit]", "0")
    assert build() == ""
    assert page.locator("#built-preview").inner_text().startswith("Error: limit: ")
    page.close()


def test_the_first_visit_shows_progress_then_the_papers_in_chromium(
    arxiv_server: FakeArxiv, settings: Settings, browser: Browser, tmp_path: Path
) -> None:
    """The streamed first-refresh page is visible before the refresh ends, and its meta
    refresh (no script: the CSP allows none inline) brings the papers when it is done."""
    arxiv_server.latency_s = 1.5
    deployed = dataclasses.replace(settings, first_visit_refresh=True)
    with serve(create_app(deployed, SqliteStore(tmp_path / "first.sqlite3"))) as url:
        page = browser.new_page()
        blocked = csp_violations(page)
        page.goto(url + "/", wait_until="commit")
        expect(page.locator("h1")).to_have_text("Test radar", timeout=2_000)
        expect(page.locator("body")).to_contain_text("fetching arXiv's announcements now", timeout=2_000)
        expect(page.locator("article.paper").first).to_be_visible(timeout=60_000)  # reloaded
        assert page.locator("article.paper").count() == 50
        assert blocked == []
        page.close()
