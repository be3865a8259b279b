"""core.web.security and the security review: headers, URL limits, secrets, SSRF and hostile text.

Requests go through the real app; arXiv, DashScope and "an attacker's server" are real HTTP
servers on loopback, so any outbound request a reader's input caused would be seen.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import html
from markdown_it import MarkdownIt

from core.config import parse_config
from core.refresh import refresh
from core.settings import Settings
from core.store.sqlite import SqliteStore
from core.web.app import create_app
from core.web.security import DATA_POLICY, DOCS_POLICY, MAX_QUERY_BYTES, PAGE_POLICY
from tests.arxiv_fake import FakeArxiv
from tests.conftest import TEST_CONFIG
from tests.dashscope_fake import FakeDashScope
from tests.loopback import LoopbackServer, Reply
from tests.papers import HOSTILE_TITLE, hostile_paper
from tests.selection.test_topics import TOPICS

SECRETS = {
    "CRON_SECRET": "cron-5ecret-marker",
    "DASHSCOPE_API_KEY": "sk-dashscope-5ecret-marker",
    "UPSTASH_REDIS_REST_TOKEN": "upstash-5ecret-marker",
    "OPENAI_API_KEY": "sk-openai-5ecret-marker",
}


@pytest.fixture
def attacker() -> Iterator[LoopbackServer]:
    with LoopbackServer(lambda request: Reply(200, b"pwned", {"Content-Type": "text/plain"})) as server:
        yield server


@pytest.fixture
def secured(tmp_path: Path, arxiv_server: FakeArxiv, settings: Settings) -> Iterator[tuple[TestClient, FakeDashScope]]:
    """The app with every secret set, config.json with topics, and an empty SQLite store."""
    settings.config_path.write_text(json.dumps({**TEST_CONFIG, "topics": TOPICS}))
    fake = FakeDashScope()
    with fake.server:
        keyed = Settings.from_env(
            {
                "CONFIG_PATH": str(settings.config_path),
                "DATA_DIR": str(settings.data_dir),
                "ARXIV_RSS_BASE": arxiv_server.rss_base,
                "ARXIV_API_BASE": arxiv_server.server.url + "/api/query",
                "DASHSCOPE_BASE_URL": fake.native_base,
                "ARXIV_MIN_INTERVAL_S": "0",
                **SECRETS,
                "UPSTASH_REDIS_REST_URL": "",  # a token alone does not switch the store
            }
        )
        with TestClient(create_app(keyed, SqliteStore(tmp_path / "secured.sqlite3"))) as client:
            yield client, fake


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for name, value in SECRETS.items():
            assert value not in text, f"{name} leaked"


def test_security_headers_on_pages_feeds_json_and_errors(client: TestClient) -> None:
    for path, policy in [
        ("/", PAGE_POLICY),
        ("/rss", DATA_POLICY),
        ("/json/cs.AI", DATA_POLICY),
        ("/health", DATA_POLICY),
        ("/static/app.js", DATA_POLICY),
        ("/rss/cs.XX", DATA_POLICY),
        ("/no-such-page", DATA_POLICY),
        ("/docs", DOCS_POLICY),
    ]:
        response = client.get(path)
        assert response.headers["content-security-policy"] == policy, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        assert response.headers["x-frame-options"] == "DENY", path


def test_the_page_needs_nothing_inline(client: TestClient) -> None:
    """PAGE_POLICY allows no inline script or style: the page must not use any."""
    document = html.fromstring(client.get("/").content)
    assert document.xpath("//script")
    assert all(s.get("src") for s in document.xpath("//script"))
    assert not document.xpath("//style")
    assert not document.xpath("//*[@style]")
    assert not [a for el in document.iter() for a in el.attrib if a.startswith("on")]
    assert document.xpath("//link[@rel='stylesheet']/@href")[0].endswith("/static/app.css")


def test_too_long_urls_are_refused_with_a_reason(client: TestClient) -> None:
    response = client.get("/rss", params={"q": "x" * (MAX_QUERY_BYTES + 1)})
    assert response.status_code == 414
    assert response.json()["error"].startswith("the query string is 8195 bytes long; the limit is 8192")
    assert response.headers["cache-control"] == "no-store"
    response = client.get("/rss/" + "c" * 2000)
    assert response.status_code == 414
    assert "the path is" in response.json()["error"]
    # Within the limits, the per-parameter checks answer.
    assert client.get("/rss", params={"keywords": "x" * 2001}).status_code == 422


def test_no_secret_in_any_answer_or_log(
    secured: tuple[TestClient, FakeDashScope], caplog: pytest.LogCaptureFixture
) -> None:
    client = secured[0]
    caplog.set_level(logging.DEBUG)
    paths = [
        path.replace("{category}", "cs.AI").replace("{name}", "kv")
        for path in client.get("/openapi.json").json()["paths"]
    ]
    paths += ["/rss/cs.XX", "/rss?limit=0", "/rss?q=(", "/json/topic/none", "/no-such-page"]
    answers = [client.get(path) for path in paths if "/cron/" not in path]
    for token in (None, "Bearer wrong", "Bearer " + SECRETS["DASHSCOPE_API_KEY"], SECRETS["CRON_SECRET"]):
        answers.append(client.get("/api/cron/refresh", headers={"Authorization": token} if token else {}))
        assert answers[-1].status_code == 401
    assert client.get("/config").json()["settings"]["cron_secret"] == "set"
    assert client.get("/config").json()["settings"]["dashscope_api_key"] == "set"
    assert_no_secret(*(a.text + str(a.headers) for a in answers), caplog.text)
    assert {a.status_code for a in answers} >= {200, 401, 404, 422}


@pytest.mark.slow
def test_nothing_a_request_carries_reaches_an_outbound_url(
    secured: tuple[TestClient, FakeDashScope], arxiv_server: FakeArxiv, attacker: LoopbackServer
) -> None:
    """Categories, topics, queries and Host headers naming another server: no request leaves."""
    client, dashscope = secured
    target = attacker.url
    host = target.removeprefix("http://")
    for path in [
        f"/rss/{target}",
        f"/rss/{host}",
        f"/rss/@{host}",
        "/rss/..%2F..%2Fetc%2Fpasswd",
        f"/atom/topic/{host}",
        f"/rss?q=au:{target}&keywords={target}",
        f"/json?exclude={target}",
        f"/?url={target}",
        f"/api/cron/refresh?categories={host}&url={target}",
    ]:
        assert client.get(path, headers={"Host": host, "X-Forwarded-Host": host}).status_code < 500
    assert attacker.requests == []
    assert arxiv_server.server.requests == []
    assert dashscope.server.requests == []
    # An authorised refresh asks arXiv for config.json's categories only, whatever the URL carries.
    authorised = {"Authorization": "Bearer " + SECRETS["CRON_SECRET"]}
    assert client.get(f"/api/cron/refresh?categories={host}&url={target}", headers=authorised).status_code == 200
    assert [r.path for r in arxiv_server.requests] == ["/rss/cs.AI+cs.LG+cs.CL"]
    assert attacker.requests == []


@pytest.fixture
def hostile_store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "hostile.sqlite3")
    store.save_papers([hostile_paper()])
    return store


def test_hostile_text_is_inert_on_the_page_and_in_feeds(settings: Settings, hostile_store: SqliteStore) -> None:
    client = TestClient(create_app(settings, hostile_store))
    page = client.get("/").text
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page
    document = html.fromstring(page)
    assert not [s for s in document.xpath("//script") if not s.get("src")]
    assert not document.xpath("//iframe | //svg | //img[@onerror] | //*[@onload]")
    assert not [href for href in document.xpath("//a/@href") if href.strip().lower().startswith("javascript:")]
    assert len(document.xpath("//article")) == 1  # the stray </article> closed nothing
    item = client.get("/json").json()["items"][0]
    assert item["title"] == HOSTILE_TITLE  # JSON Feed titles are plain text, never HTML
    # The digest as a Markdown viewer shows it (CommonMark, raw HTML allowed as on GitHub).
    digest = MarkdownIt("commonmark").render(client.get("/digest.md").text)
    for path, body in [(p, client.get(p).text) for p in ("/rss", "/atom")] + [
        ("json", item["content_html"]),
        ("digest", digest),
    ]:
        assert "<script>window.pwned" not in body, path
        assert 'href="javascript:' not in body, path
        assert "<iframe" not in body, path


@pytest.mark.slow
def test_a_refresh_with_every_secret_logs_none(
    arxiv_server: FakeArxiv, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    keyed = dataclasses.replace(settings, dashscope_api_key=SECRETS["DASHSCOPE_API_KEY"])
    refresh(parse_config(TEST_CONFIG), keyed, SqliteStore(tmp_path / "s.sqlite3"))
    assert "refresh" in caplog.text.lower()
    assert_no_secret(caplog.text)
