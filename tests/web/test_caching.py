"""core.web.caching: an answer kept for the current version goes out without a store read; a
render is kept under the version it was made from; a failing store gets the last answer."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from core.config import Config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.store.upstash import UpstashStore
from core.web.app import create_app
from core.web.caching import cached
from core.web.response_cache import Rendered
from tests.arxiv_fake import FakeArxiv
from tests.conftest import cache_directives
from tests.upstash_shim import UpstashShim
from tests.waiting import ManualClock
from tests.web.conftest import plain_request


def test_an_answer_is_kept_under_the_version_it_was_made_from(settings: Settings, store: Store) -> None:
    """A save racing a render: what was made from other data is not served as the current answer."""
    ctx = create_app(settings, store).state.ctx
    asked: list[str] = []

    def render_older(current: str) -> Rendered:
        asked.append(current)
        return Rendered.of(b"older", None, "a version before " + current)

    def render_current(current: str) -> Rendered:
        asked.append(current)
        return Rendered.of(b"current", None, current)

    for _ in range(2):
        assert cached(plain_request(), ctx, "text/plain", render_older).body == b"older"
    assert len(asked) == 2  # rendered again: the kept answer was not of the current version
    for _ in range(2):
        assert cached(plain_request(), ctx, "text/plain", render_current).body == b"current"
    assert len(asked) == 3  # kept


def test_a_repeated_request_costs_one_round_trip(
    arxiv_server: FakeArxiv, settings: Settings, shim: UpstashShim, config: Config
) -> None:
    store = UpstashStore(shim.url, shim.token)
    refresh(config, settings, store)
    clock = ManualClock()
    client = TestClient(create_app(settings, store, clock=clock))
    first = client.get("/rss?limit=100")
    shim.reset_counts()
    again = client.get("/rss?limit=100")
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert shim.round_trips == 0  # within the second: no store read at all
    clock.advance(1.0)
    assert client.get("/rss?limit=100").content == first.content
    assert (shim.round_trips, dict(shim.commands)) == (1, {"MGET": 1})  # the version, once
    assert client.get("/rss?limit=100", headers={"If-None-Match": first.headers["etag"]}).status_code == 304


@pytest.mark.slow
def test_a_failing_store_is_answered_with_the_last_rendered_bytes(
    arxiv_server: FakeArxiv, settings: Settings, config: Config, store: Store, request: pytest.FixtureRequest
) -> None:
    """stale-if-error: what was rendered stays available; only what never was gets the 503."""
    refresh(config, settings, store)
    if isinstance(store, UpstashStore):  # the same data, with a timeout short enough to wait for
        store = UpstashStore(store.url, "test-token", timeout_s=0.3)
    clock = ManualClock()
    client = TestClient(create_app(settings, store, clock=clock))
    paths = ("/rss", "/", "/json/cs.AI", "/rss?q=abs:agent")
    before = {path: client.get(path) for path in paths}
    _break(store, request)
    clock.advance(1.0)  # the next request checks the version, and finds the store failing
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content == before[path].content, path
        assert response.headers["etag"] == before[path].headers["etag"]
        assert "unavailable" in response.headers["x-stale"]
        directives = cache_directives(response.headers["cache-control"])  # short-lived: the fresh one follows
        assert int(directives["max-age"]) <= 60
        assert int(directives["s-maxage"]) <= 60
    never_rendered = client.get("/atom/cs.CL")
    assert never_rendered.status_code == 503
    assert client.get("/health").status_code == 503  # health tells the truth


def _break(store: Store, request: pytest.FixtureRequest) -> None:
    """The store stops answering: SQLite's tables vanish behind its back, Upstash stalls."""
    if isinstance(store, UpstashStore):
        shim: UpstashShim = request.getfixturevalue("upstash")
        shim.delay_s = 30.0  # far past the store's timeout
        request.addfinalizer(lambda: setattr(shim, "delay_s", 0.0))
        return
    with sqlite3.connect(store.path) as conn:  # type: ignore[attr-defined]
        conn.execute("ALTER TABLE state RENAME TO state_gone")
        conn.execute("ALTER TABLE paper RENAME TO paper_gone")
