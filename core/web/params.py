"""The query parameters of the feeds and the page, as the OpenAPI schema documents them.

FastAPI checks the lengths and ranges; a pattern is only published in the schema (not
enforced by FastAPI): ``FeedQuery.from_params`` and ``parse_likes`` (core.selection) check the
same rules, and their 422 names the parameter and how to fix it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from core.selection.query import (
    LIKES_PATTERN,
    MAX_LIKES_LENGTH,
    MAX_LIMIT,
    TERMS_PATTERN,
    TYPES_PATTERN,
    FeedQuery,
)


def _text(pattern: str, max_length: int, description: str) -> Any:
    return Field(None, max_length=max_length, json_schema_extra={"pattern": pattern}, description=description)


def terms(description: str) -> Any:
    """A comma-separated list of terms (a field of FeedParams)."""
    return _text(TERMS_PATTERN, 2000, description)


def likes(description: str) -> Any:
    """Comma-separated arXiv ids (a field of FeedParams)."""
    return _text(LIKES_PATTERN, MAX_LIKES_LENGTH, description)


def like_param(description: str) -> Any:
    """Comma-separated arXiv ids, as a route's own query parameter."""
    return Query(max_length=MAX_LIKES_LENGTH, json_schema_extra={"pattern": LIKES_PATTERN}, description=description)


class FeedParams(BaseModel):
    """A feed's query parameters, one model for the twelve feed routes: FastAPI then builds one
    field per route for them, not one per parameter per route (a cold start paid about 9 ms
    for those, bench/coldstart.py). Unknown parameters are ignored, as feed readers add their own."""

    keywords: str | None = terms("Comma-separated keywords or phrases; replaces config.json's")
    exclude: str | None = terms("Comma-separated exclusions, added")
    min_score: float | None = Field(None, ge=0, le=1000, allow_inf_nan=False, description="Minimum score")
    limit: int | None = Field(None, ge=1, le=1_000_000, description=f"Most items (capped at {MAX_LIMIT})")
    type: str | None = _text(TYPES_PATTERN, 200, "Comma-separated announce types: new, cross, replace, replace-cross")
    q: str | None = Field(
        None, max_length=1000, description='arXiv-style query: ti:, abs:, au:, cat:, "phrases", AND, OR, ANDNOT, ( )'
    )
    like: str | None = likes(
        "Comma-separated arXiv ids (2411.17775, arXiv:2411.17775v2, arxiv.org links): rank by likeness"
    )


async def feed_query(params: Annotated[FeedParams, Query()]) -> FeedQuery:  # async: pure parsing, no thread hop
    """A feed request's filters, parsed and checked."""
    p = params
    return FeedQuery.from_params(p.keywords, p.exclude, p.min_score, p.limit, p.type, p.q, p.like)


FeedQueryDep = Annotated[FeedQuery, Depends(feed_query)]
