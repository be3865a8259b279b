"""The web tests' own fixtures and helpers: the served refresh with liked papers, a feed's items."""

from __future__ import annotations

import json

import feedparser
import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from starlette.requests import Request

from core.config import load_config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.web.app import create_app
from tests.conftest import TEST_CONFIG

SPEECH = ["2411.18138", "2411.18320", "2411.18497"]  # three speech papers of the recorded day


@pytest.fixture
def liking(served: TestClient, settings: Settings, store: Store) -> TestClient:
    """The served refresh, with config.json liking three speech papers and a topic liking one
    (a second refresh resolves the likes: arXiv answers 304, the papers are stored)."""
    config = {**TEST_CONFIG, "like": SPEECH, "topics": [{"name": "agents", "keywords": ["agent"], "like": [SPEECH[0]]}]}
    settings.config_path.write_text(json.dumps(config))
    refresh(load_config(settings.config_path), settings, store)
    return TestClient(create_app(settings, store))


def entries(response: httpx.Response) -> list[feedparser.FeedParserDict]:
    """A feed's items, once it parses as a well-formed feed."""
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    etree.fromstring(response.content)
    return list(parsed.entries)


def plain_request(path: str = "/rss") -> Request:
    """A GET of ``path`` as the app receives it, for calling its parts directly."""
    scope = {"type": "http", "method": "GET", "scheme": "http", "server": ("testserver", 80), "root_path": ""}
    return Request({**scope, "path": path, "query_string": b"", "headers": []})
