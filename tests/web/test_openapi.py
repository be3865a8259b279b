"""The HTTP API against its own OpenAPI schema, fuzzed by schemathesis.

Every route and parameter of /openapi.json gets generated requests, valid and invalid: no
answer may be a 5xx, and each status code, content type and JSON body must be the documented
one (core.web.openapi). The app serves a real refresh of the recorded arXiv feed from SQLite.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import CheckContext
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from core.config import parse_config
from core.refresh import refresh
from core.settings import Settings
from core.store.sqlite import SqliteStore
from core.web.app import create_app
from core.web.security import MAX_QUERY_BYTES
from tests.arxiv_fake import FakeArxiv
from tests.conftest import TEST_CONFIG
from tests.selection.test_topics import TOPICS

pytestmark = pytest.mark.slow  # `pytest -m "not slow"` skips these

CONFIG = {**TEST_CONFIG, "topics": TOPICS}


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, FakeArxiv]]:
    home = tmp_path_factory.mktemp("fuzz")
    (home / "config.json").write_text(json.dumps(CONFIG))
    fake = FakeArxiv()
    with fake.server:
        env = {
            "CONFIG_PATH": str(home / "config.json"),
            "DATA_DIR": str(home / "data"),
            "ARXIV_RSS_BASE": fake.rss_base,
            "ARXIV_API_BASE": fake.server.url + "/api/query",
            "ARXIV_MIN_INTERVAL_S": "0",
            "CRON_SECRET": "fuzz-secret-never-guessed",
        }
        app_settings = Settings.from_env(env)
        store = SqliteStore(app_settings.data_dir / "fuzz.sqlite3")
        refresh(parse_config(CONFIG), app_settings, store)
        yield create_app(app_settings, store), fake


# The schema is the same for every config and store: read it off an app whose store is never opened.
SCHEMA_APP = create_app(Settings.from_env({"CONFIG_PATH": "config.json"}), SqliteStore(Path(os.devnull)))
schema = schemathesis.openapi.from_dict(SCHEMA_APP.openapi())


def accepts_valid_requests(ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Schema-valid requests are answered, except two limits a schema cannot state, each with its
    documented answer: a ``q`` the query language cannot parse (422 naming ``q``: a grammar), and
    a URL whose percent-encoded query passes core.web.security's byte cap (414). (A ``like`` of
    a paper arXiv lacks is no error: it is left out, with a note.)"""
    # A page (/) says its errors as HTML (core.web.errors), a feed as JSON.
    said = html.unescape(response.text) if "text/html" in str(response.headers.get("content-type")) else ""
    if response.status_code == 422 and "parameter 'q'" in (said or response.json()["error"][:13]):
        return True
    if response.status_code == 414 and len(response.request.url.split("?", 1)[-1]) > MAX_QUERY_BYTES:
        return True
    return positive_data_acceptance(ctx, response, case)


def rejects_invalid_requests(
    ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Schema-violating requests are refused; one whose percent-encoded query passes
    core.web.security's byte cap is refused before its parameters are read (414)."""
    if response.status_code == 414 and len(response.request.url.split("?", 1)[-1]) > MAX_QUERY_BYTES:
        return True
    return negative_data_rejection(ctx, response, case)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_route_answers_as_documented(case: schemathesis.Case, fuzzed_app: tuple[FastAPI, FakeArxiv]) -> None:
    response = case.call_and_validate(
        app=fuzzed_app[0],
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
        additional_checks=[accepts_valid_requests, rejects_invalid_requests],
    )
    assert response.status_code < 500


def test_fuzzing_reached_no_outbound_url(fuzzed_app: tuple[FastAPI, FakeArxiv]) -> None:
    """After every fuzzed request, arXiv has still seen only the one refresh's request."""
    assert len(fuzzed_app[1].requests) == 1
