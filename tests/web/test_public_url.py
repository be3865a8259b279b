"""core.web.public_url: links use PUBLIC_URL whatever the Host header says; without it, Vary: Host."""

from __future__ import annotations

import dataclasses

import feedparser
from fastapi.testclient import TestClient

from core.config import Config
from core.refresh import refresh
from core.settings import Settings
from core.store.sqlite import SqliteStore
from core.web.app import create_app
from tests.arxiv_fake import FakeArxiv

FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


def refreshed(settings: Settings, config: Config) -> SqliteStore:
    store = SqliteStore(settings.data_dir / "public.sqlite3")
    refresh(config, settings, store)
    return store


def test_public_url_fixes_every_self_link(arxiv_server: FakeArxiv, settings: Settings, config: Config) -> None:
    public = dataclasses.replace(settings, public_url="https://radar.example.org")
    client = TestClient(create_app(public, refreshed(settings, config)))
    opml = client.get("/opml", headers=FORGED)
    assert "evil.example" not in opml.text
    assert 'xmlUrl="https://radar.example.org/rss"' in opml.text
    rss = client.get("/rss?limit=3", headers=FORGED)
    feed = feedparser.parse(rss.content).feed
    assert feed.link == "https://radar.example.org/"
    assert "https://radar.example.org/rss?limit=3" in rss.text  # atom:link rel="self"
    page = client.get("/", headers=FORGED).text
    assert "evil.example" not in page
    assert "https://radar.example.org/static/" in page
    assert "Host" not in rss.headers.get("vary", "")


def test_without_public_url_answers_vary_by_host(arxiv_server: FakeArxiv, settings: Settings, config: Config) -> None:
    client = TestClient(create_app(settings, refreshed(settings, config)))
    for path in ("/opml", "/rss", "/", "/json/cs.AI"):
        response = client.get(path, headers={"Host": "a.example"})
        assert "Host" in response.headers["vary"].split(", "), path
    # The response cache keeps hosts apart too: each host gets its own links.
    a = client.get("/opml", headers={"Host": "a.example"}).text
    b = client.get("/opml", headers={"Host": "b.example"}).text
    assert "a.example" in a
    assert "b.example" in b
    assert "a.example" not in b
