"""core.web.head: HEAD on every GET route answers as GET does, without the body."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

PATHS = [
    "/",
    "/rss",
    "/atom/cs.AI",
    "/json/cs.CL?limit=5",
    "/opml",
    "/digest.md",
    "/health",
    "/config",
    "/static/app.css",
]


@pytest.mark.parametrize("path", PATHS)
def test_head_has_the_headers_of_get_and_no_body(served: TestClient, path: str) -> None:
    get = served.get(path)
    head = served.head(path)
    assert (head.status_code, get.status_code) == (200, 200), path
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_head_answers_304_and_errors_as_get_does(served: TestClient) -> None:
    etag = served.get("/rss").headers["etag"]
    assert served.head("/rss", headers={"If-None-Match": etag}).status_code == 304
    missing = served.head("/rss/cs.XX")
    assert missing.status_code == 404
    assert missing.content == b""
    assert served.get("/rss/cs.XX").headers["content-length"] == missing.headers["content-length"]


def test_head_never_runs_a_cron_job(served: TestClient) -> None:
    answer = served.head("/api/cron/refresh", headers={"Authorization": "Bearer anything"})
    assert answer.status_code == 405
