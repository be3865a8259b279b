"""core.web.app: the app the factory wires, served by uvicorn on a real port."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from core.config import Config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.web.app import SWITCH_INTERVAL_S, create_app
from tests.arxiv_fake import FakeArxiv
from tests.uvicorn_server import serve
from tests.web.conftest import entries


@pytest.fixture
def uvicorn_url(settings: Settings, store: Store) -> Iterator[str]:
    with serve(create_app(settings, store)) as url:
        yield url


@pytest.mark.slow
def test_served_by_uvicorn_on_a_real_port(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config, uvicorn_url: str
) -> None:
    refresh(config, settings, store)
    response = httpx.get(uvicorn_url + "/rss/cs.CL")
    assert response.status_code == 200
    items = entries(response)
    assert items
    atom_self = etree.fromstring(response.content).find("channel/{http://www.w3.org/2005/Atom}link[@rel='self']")
    assert atom_self is not None
    assert atom_self.get("href") == uvicorn_url + "/rss/cs.CL"


def test_every_router_is_wired(client: TestClient) -> None:
    """A route of each concern answers as itself, not as a missing page."""
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert client.get("/json").json()["version"] == "https://jsonfeed.org/version/1.1"
    assert client.get("/health").json()["status"] == "error"  # answers: nothing refreshed yet
    assert "CRON_SECRET is not set" in client.get("/api/cron/refresh").json()["error"]
    assert client.get("/static/icon.png").headers["content-type"] == "image/png"


def test_the_app_hands_the_gil_over_often(settings: Settings, store: Store) -> None:
    create_app(settings, store)
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)
