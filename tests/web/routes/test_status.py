"""core.web.routes.status: /health and /config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.config import load_config
from core.errors import FetchError
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.web.app import create_app


def test_health_reports_the_last_refresh(served: TestClient, store: Store) -> None:
    body = served.get("/health").json()
    assert body["status"] == "ok"
    assert body["problem"] == ""
    assert body["store"] == {"backend": store.name, "ok": True}
    assert body["papers"] == 367
    assert body["refresh"]["outcome"] == "ok"
    assert body["refresh"]["last_success_at"]
    assert "etag" not in body["refresh"]


def test_config_shows_settings_without_secrets(tmp_path: Path, settings: Settings, store: Store) -> None:
    secret = dataclasses.replace(settings, cron_secret="hunter2-very-secret")
    with TestClient(create_app(secret, store)) as client:
        response = client.get("/config")
    assert response.status_code == 200
    body = response.json()
    assert body["config"]["categories"] == ["cs.AI", "cs.LG", "cs.CL"]
    assert body["settings"]["cron_secret"] == "set"
    assert "hunter2" not in response.text


def test_health_tells_a_monitor_when_there_is_nothing_to_serve(settings: Settings, store: Store) -> None:
    """Offline at the first run: the refresh failed and nothing is stored. A monitor reading the
    status code sees 503, one reading the body sees "error" and why."""
    offline = dataclasses.replace(settings, arxiv_rss_base="http://arxiv.invalid/rss", arxiv_min_interval_s=0)
    with pytest.raises(FetchError):
        refresh(load_config(settings.config_path), offline, store)
    with TestClient(create_app(settings, store)) as client:
        response = client.get("/health")
        page = client.get("/").text
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["papers"], body["refresh"]["outcome"]) == ("error", 0, "error")
    assert body["problem"].startswith("the last refresh failed and there are no papers to serve: arxiv: this machine")
    # The page says it in words first; the raw message is folded under "What happened".
    notice = page[page.index('id="why-empty"') : page.index("</details>", page.index('id="why-empty"'))]
    said = notice[: notice.index("<details>")]
    assert "This machine could not reach arXiv (network or DNS) at the last refresh." in said
    assert "Run make refresh (or python -m core refresh) once it is online." in said
    assert "Name or service not known" not in said
    assert "Name or service not known" in notice


def test_health_is_degraded_while_the_last_good_papers_are_served(
    served: TestClient, settings: Settings, store: Store
) -> None:
    offline = dataclasses.replace(settings, arxiv_rss_base="http://127.0.0.1:9/rss", arxiv_min_interval_s=0)
    with pytest.raises(FetchError):
        refresh(load_config(settings.config_path), offline, store)
    response = served.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["problem"].startswith("the last refresh failed, the papers of the last good one are served")
    assert response.json()["papers"] == 367
