"""What the API documents about its answers: media types, status codes and JSON shapes.

FastAPI builds /openapi.json from these. The documented responses are the contract the
schemathesis tests (tests/web/test_openapi.py) hold every route to: each answer's status code,
content type and JSON body must be the ones written here.

Routes name the models below by reference (``answer``), not as FastAPI's ``"model"``: FastAPI
builds a serializer for every such model of every route when the route is declared, which a
cold instance paid before its first feed (bench/coldstart.py). ``document`` adds the models'
schemas to /openapi.json when it is first asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

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


# The models below only document answers (/openapi.json builds them when first asked for);
# ErrorBody above builds every error answer, so it is built at import.
DOCS_ONLY = ConfigDict(defer_build=True)


class StoreStatus(BaseModel):
    model_config = DOCS_ONLY

    backend: Literal["sqlite", "upstash"]
    ok: bool
    error: str | None = None


class SummaryStatus(BaseModel):
    model_config = DOCS_ONLY

    enabled: bool
    status: str
    last_run: str


class Health(BaseModel):
    """/health: the store, the last refresh and the summaries."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    status: Literal["ok", "degraded", "error"]  # 200, 200, 503 (draft-inadarei-api-health-check)
    problem: str  # what is wrong, in words; "" when the status is "ok"
    store: StoreStatus
    papers: int
    refresh: RefreshState
    summaries: SummaryStatus


class HealthDown(BaseModel):
    """/health when the store cannot be reached (503)."""

    model_config = DOCS_ONLY

    status: Literal["unavailable"]
    store: StoreStatus


class EffectiveConfig(BaseModel):
    """/config: config.json as loaded, and the settings with secrets reduced to set / not set."""

    model_config = DOCS_ONLY

    config: dict[str, Any]
    settings: dict[str, Any]


class CronReport(BaseModel):
    """What a cron run did (core.refresh.RefreshReport or SummaryReport, flattened)."""

    model_config = ConfigDict(extra="allow", defer_build=True)

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
    documented: dict[Any, Any] = {code: answer(ref(ErrorBody), ERRORS[code]) for code in codes}
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


def ref(model: type[BaseModel]) -> dict[str, str]:
    """The JSON schema naming ``model`` (its schema is among /openapi.json's components)."""
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def answer(schema: dict[str, Any], description: str = "Successful Response") -> dict[str, Any]:
    """A documented JSON answer of this ``schema`` (``ref(Model)``, or several in ``anyOf``)."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# Every model a route names with ``ref``; the models they contain are added with them.
MODELS: tuple[type[BaseModel], ...] = (ErrorBody, Health, HealthDown, EffectiveConfig, CronReport)


def document(app: FastAPI) -> None:
    """Make ``app``'s /openapi.json carry the schemas of ``MODELS``, built on its first request
    (FastAPI keeps the document once built)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if ErrorBody.__name__ not in components:
            models = [(model, "serialization") for model in MODELS]
            _, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
            components.update(defs["$defs"])
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
