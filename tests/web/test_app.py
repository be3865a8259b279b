"""core.web.app: the app the factory wires, served by uvicorn on a real port."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from core.config import Config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.web.app import SWITCH_INTERVAL_S, create_app
from core.web.http_cache import NO_STORE
from tests.arxiv_fake import FakeArxiv
from tests.conftest import process_env
from tests.loopback import free_port
from tests.uvicorn_server import serve, wait_for_health
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


def test_a_config_that_does_not_load_answers_every_route_503_with_the_fix(settings: Settings, tmp_path: Path) -> None:
    """Never a crash at import (on Vercel: a bare FUNCTION_INVOCATION_FAILED on every request)."""
    broken = tmp_path / "broken.json"
    broken.write_text('{"categories": ["cs.XX"]}')
    app = create_app(dataclasses.replace(settings, config_path=broken))
    with TestClient(app) as client:
        page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert "&#x27;cs.XX&#x27; is not an arXiv category" in page.text
        assert "How to fix it: use arXiv names" in page.text
        for path in ("/rss/cs.AI", "/feed.json", "/health", "/api/cron/refresh", "/no/such/page"):
            answer = client.get(path, headers={"Accept": "application/rss+xml, */*"})
            assert answer.status_code == 503, path
            assert answer.json()["stage"] == "config"
            assert "'cs.XX' is not an arXiv category" in answer.json()["error"]
            assert answer.json()["hint"].startswith("use arXiv names")
            assert answer.headers["cache-control"] == NO_STORE
        assert client.head("/rss").status_code == 503


@pytest.mark.slow
def test_bad_settings_at_import_answer_503_under_uvicorn(settings: Settings, tmp_path: Path) -> None:
    """api/index.py, as Vercel imports it, with an environment setting that is wrong."""
    env = {**process_env(settings), "CONFIG_PATH": str(tmp_path / "typo.json")}
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.index:app", "--port", str(port)],
        cwd=Path(__file__).parents[2],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_health(url, process)
        answer = httpx.get(url + "/rss")
        assert answer.status_code == 503
        assert answer.json()["error"].startswith("CONFIG_PATH=")
        assert "point CONFIG_PATH at your config.json" in answer.json()["hint"]
    finally:
        process.terminate()
        process.wait(timeout=10)


# Run in a fresh interpreter, as Vercel imports api/index.py: what the built app holds, and
# what importing it loaded, before any request (bench/coldstart.py times the same import).
# Loaded on first use: the OPML, the summaries' status, the feedback links' pages, and
# pydantic.v1 (FastAPI imports it to refuse v1 models, of which there are none here).
# Never loaded by serving: httpx and httpcore (the refresh's clients use them). Loaded only
# by a mistyped config key or category name (difflib), or a first visit's refresh (queue).
LAZY = (
    "core.summarize",
    "xml.etree.ElementTree",
    "core.web.feedback",
    "core.render.feedback",
    "pydantic.v1",
    "httpx",
    "httpcore",
    "difflib",
    "queue",
)
COLD_IMPORT = """
import json, sys
import api.index
LAZY = sys.argv[1:]
from core.web.openapi import Health
from core.web.routes import cron, feeds, pages, status
routes = {r.path: r for module in (cron, feeds, pages, status) for r in module.router.routes}
feed = routes["/rss"].dependant
cold = {
    "modules": sorted(m for m in LAZY if sys.modules.get(m) is not None),  # None: marked absent (api/index.py)
    "response_models": sorted(path for path, route in routes.items() if route.response_fields),
    "feed_query_fields": sum(len(d.query_params) for d in (feed, *feed.dependencies)),
    "docs_built": Health.__pydantic_complete__,
}
cold["documented"] = sorted(api.index.app.openapi()["components"]["schemas"])
print(json.dumps(cold))
"""


def test_a_cold_import_builds_only_what_a_feed_needs(settings: Settings) -> None:
    """No serializer for the documented answers, one field for a feed's seven parameters, no
    OPML, summaries or feedback-page code, no pydantic.v1; /openapi.json still documents every
    model when first asked for."""
    ran = subprocess.run(
        [sys.executable, "-c", COLD_IMPORT, *LAZY],
        cwd=Path(__file__).parents[2],
        env=process_env(settings),
        capture_output=True,
        text=True,
        check=True,
    )
    cold = json.loads(ran.stdout)
    assert cold["modules"] == []
    assert cold["response_models"] == []
    assert cold["feed_query_fields"] == 1
    assert cold["docs_built"] is False
    assert {"ErrorBody", "Health", "HealthDown", "CronReport", "EffectiveConfig", "RefreshState"} <= set(
        cold["documented"]
    )


def test_a_cold_import_on_upstash_loads_no_http_library_and_no_certificates(settings: Settings) -> None:
    """On Upstash (as on Vercel) the store speaks HTTP through the standard library, which
    FastAPI has loaded already: neither httpx nor httpcore (nor rich, which httpx's
    command-line client would bring), and certifi's bundle waits for the first https request."""
    env = {**process_env(settings), "UPSTASH_REDIS_REST_URL": "https://127.0.0.1:9", "UPSTASH_REDIS_REST_TOKEN": "t"}
    code = (
        "import sys, api.index as i; print(i.app.state.ctx.store.name,"
        " [m for m in ('httpx', 'httpcore', 'certifi', 'rich') if m in sys.modules])"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).parents[2], env=env, capture_output=True, text=True, check=True
    )
    assert ran.stdout.split(maxsplit=1) == ["upstash", "[]\n"]


# Every module of the project, and the SDKs and parsers the cron jobs load, imported after
# api/index.py marked pydantic.v1 absent: none of them may need it (a Vercel function's cron
# jobs run in the same process).
EVERYTHING_AFTER_THE_ENTRY_POINT = """
import importlib, pkgutil, sys
import api.index
import core
for module in pkgutil.walk_packages(core.__path__, "core."):
    if module.name != "core.__main__":
        importlib.import_module(module.name)
for sdk in ("dashscope", "feedparser", "pypdf", "markdown_it", "bibtexparser", "feedgen.feed", "jinja2", "uvicorn"):
    importlib.import_module(sdk)
print(sys.modules["pydantic.v1"])
"""


def test_the_entry_point_keeps_pydantic_v1_out_and_nothing_the_jobs_load_needs_it(settings: Settings) -> None:
    ran = subprocess.run(
        [sys.executable, "-c", EVERYTHING_AFTER_THE_ENTRY_POINT],
        cwd=Path(__file__).parents[2],
        env=process_env(settings),
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "None"  # marked absent, and still so: nothing imported it
