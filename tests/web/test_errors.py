"""core.web.errors: every error answers in one JSON shape, with its status and headers, never cached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient

from core.errors import AppError, BusyError, LockedError, NotFoundError, StoreError, UnauthorizedError
from core.settings import Settings
from core.store.sqlite import SqliteStore
from core.web.app import create_app
from core.web.errors import app_error, unexpected_error, validation_error
from tests.web.conftest import plain_request


@pytest.mark.parametrize(
    ("error", "status", "headers"),
    [
        (StoreError("the store timed out"), 503, {"retry-after": "60"}),
        (BusyError("too many renders", "retry in a few seconds"), 503, {"retry-after": "5"}),
        (UnauthorizedError("missing bearer token"), 401, {"www-authenticate": "Bearer"}),
        (LockedError("another refresh is running"), 409, {}),
        (NotFoundError("no topic 'x'", "use one listed", topics=["rl"]), 404, {}),
    ],
)
def test_app_errors_carry_their_status_stage_hint_and_headers(
    error: AppError, status: int, headers: dict[str, str]
) -> None:
    response = app_error(plain_request(), error)
    assert response.status_code == status
    assert {k: response.headers[k] for k in headers} == headers
    assert response.headers["cache-control"] == "no-store"
    body = json.loads(response.body)
    assert (body["error"], body["stage"]) == (error.message, error.stage)
    assert body.get("hint") == (error.hint or None)
    assert {k: body[k] for k in error.extra} == error.extra


def test_a_validation_error_names_the_first_bad_parameter() -> None:
    error = RequestValidationError([{"loc": ("query", "limit"), "msg": "Input should be greater than 0"}])
    response = validation_error(plain_request(), error)
    assert response.status_code == 422
    assert json.loads(response.body) == {
        "error": "parameter 'limit': Input should be greater than 0",
        "stage": "query",
        "hint": "see the parameters in README.md",
    }


def test_an_unexpected_error_is_a_500_saying_nothing_of_it(caplog: pytest.LogCaptureFixture) -> None:
    response = unexpected_error(plain_request("/json"), RuntimeError("secret detail"))
    assert response.status_code == 500
    assert json.loads(response.body) == {"error": "internal error", "stage": "web"}  # not "secret detail"
    assert response.headers["cache-control"] == "no-store"
    assert "GET /json failed" in caplog.text  # the failure goes to the log


def test_an_unexpected_error_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """The handler runs outside the except block (in the thread pool for a sync handler): the
    log shows the exception passed to it, not "NoneType: None"."""
    try:
        raise RuntimeError("secret detail")
    except RuntimeError as exc:
        error = exc
    response = unexpected_error(plain_request("/json"), error)
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.getMessage() == "GET /json failed"]
    assert record.exc_info is not None
    assert record.exc_info[1] is error
    assert "NoneType: None" not in caplog.text
    assert "RuntimeError: secret detail" in caplog.text
    assert "in test_an_unexpected_error_is_logged_with_its_traceback" in caplog.text


def test_unknown_paths_and_methods_answer_in_the_error_shape(client: TestClient) -> None:
    missing = client.get("/wp-admin/setup.php")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "there is no page at '/wp-admin/setup.php'",
        "hint": "the index page / lists every feed",
        "stage": "web",
    }
    posted = client.post("/api/cron/refresh", content=b"x" * 100_000)
    assert posted.status_code == 405
    assert posted.json()["error"].startswith("POST is not allowed here")
    assert posted.headers["allow"] == "GET"


def test_store_down_gives_503_with_retry_after(tmp_path: Path, settings: Settings) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with TestClient(create_app(settings, SqliteStore(blocker / "db.sqlite3"))) as client:
        for path in ("/rss", "/atom/cs.AI", "/health"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["retry-after"] == "60"
            assert "Traceback" not in response.text
        assert client.get("/health").json()["store"]["ok"] is False


def test_pages_answer_errors_as_html_and_feeds_as_json(served: TestClient) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = served.get("/?like=not-an-id", headers=browser)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "parameter &#39;like&#39;: &#39;not-an-id&#39; is not an arXiv id" in page.text
    assert '<a href="/">the index page</a>' in page.text
    missing = served.get("/no-such-page", headers=browser)
    assert missing.status_code == 404
    assert "there is no page at &#39;/no-such-page&#39;" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    # A feed, a JSON route, and a client that does not ask for HTML keep the JSON body.
    for path, headers in (("/rss?like=not-an-id", browser), ("/json/cs.XX", browser), ("/no-such-page", {})):
        answer = served.get(path, headers=headers)
        assert answer.headers["content-type"] == "application/json", path
        assert answer.json()["error"]
