"""core.web.routes.status: /health and /config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fastapi.testclient import TestClient

from core.settings import Settings
from core.store import Store
from core.web.app import create_app


def test_health_reports_the_last_refresh(served: TestClient, store: Store) -> None:
    body = served.get("/health").json()
    assert body["status"] == "ok"
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
