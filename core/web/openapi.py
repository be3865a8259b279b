"""What the API documents about its answers: media types, status codes and JSON shapes.

FastAPI builds /openapi.json from these. The documented responses are the contract the
schemathesis tests (tests/web/test_openapi.py) hold every route to: each answer's status code,
content type and JSON body must be the ones written here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.models import RefreshState


class ErrorBody(BaseModel):
    """Every error answer: what was wrong, the stage that failed, and how to fix it."""

    model_config = ConfigDict(extra="forbid")

    error: str
    stage: str
    hint: str | None = None
    categories: list[str] | None = None  # 404 for a category: the ones this service follows
    topics: list[str] | None = None  # 404 for a topic: the ones config.json defines


def error_body(error: str, stage: str, hint: str = "", **extra: Any) -> dict[str, Any]:
    """The JSON body of every error answer, built through the model that documents it."""
    return ErrorBody(error=error, stage=stage, hint=hint or None, **extra).model_dump(exclude_none=True)


class StoreStatus(BaseModel):
    backend: Literal["sqlite", "upstash"]
    ok: bool
    error: str | None = None


class SummaryStatus(BaseModel):
    enabled: bool
    status: str
    last_run: str


class Health(BaseModel):
    """/health: the store, the last refresh and the summaries."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "degraded", "error"]  # 200, 200, 503 (draft-inadarei-api-health-check)
    problem: str  # what is wrong, in words; "" when the status is "ok"
    store: StoreStatus
    papers: int
    refresh: RefreshState
    summaries: SummaryStatus


class HealthDown(BaseModel):
    """/health when the store cannot be reached (503)."""

    status: Literal["unavailable"]
    store: StoreStatus


class EffectiveConfig(BaseModel):
    """/config: config.json as loaded, and the settings with secrets reduced to set / not set."""

    config: dict[str, Any]
    settings: dict[str, Any]


class CronReport(BaseModel):
    """What a cron run did (core.refresh.RefreshReport or SummaryReport, flattened)."""

    model_config = ConfigDict(extra="allow")

    job: Literal["refresh", "summarize"]
    seconds: float


ERRORS: dict[int, str] = {
    401: "No or a wrong bearer secret",
    404: "Unknown or unfollowed category, or unknown topic",
    409: "Another refresh holds the lock",
    414: "The URL is longer than the service accepts (core.web.security)",
    422: "A malformed query parameter (the body names it and says how to fix it)",
    503: "The store is unreachable, or this instance is busy rendering filtered feeds (Retry-After says "
    "when to try again), or CRON_SECRET is unset",
}

# A JSON Feed 1.1 document (https://www.jsonfeed.org/version/1.1/): the fields always present.
JSON_FEED = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"type": "string"},
        "title": {"type": "string"},
        "items": {"type": "array", "items": {"type": "object", "required": ["id"]}},
    },
}


def responses(media_type: str | None, *errors: int, description: str = "", page: bool = False) -> dict[Any, Any]:
    """The ``responses`` of a route: 200 in ``media_type`` (None: JSON, from the route's
    models), 304 for a current copy when the route is cacheable, and the errors as ErrorBody,
    or on a ``page`` as an HTML page saying the same (core.web.errors)."""
    codes = (*errors, 414)  # any URL can be too long
    documented: dict[Any, Any] = {code: {"model": ErrorBody, "description": ERRORS[code]} for code in codes}
    for code in errors if page else ():
        documented[code] = {"description": ERRORS[code], "content": {"text/html": {"schema": {"type": "string"}}}}
    if media_type is not None:
        media_type = media_type.split(";")[0]
        schema = JSON_FEED if media_type.endswith("json") else {"type": "string"}
        documented[200] = {"description": description, "content": {media_type: {"schema": schema}}}
        documented[304] = {
            "description": "Not modified: the client's copy (If-None-Match / If-Modified-Since) is current"
        }
    return documented
