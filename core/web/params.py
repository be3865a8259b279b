"""The query parameters of the feeds and the page, as the OpenAPI schema documents them.

FastAPI checks the lengths and ranges; a pattern is only published in the schema (not
enforced by FastAPI): ``FeedQuery.from_params`` and ``parse_likes`` (core.selection) check the
same rules, and their 422 names the parameter and how to fix it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from core.selection.query import (
    LIKES_PATTERN,
    MAX_LIKES_LENGTH,
    MAX_LIMIT,
    TERMS_PATTERN,
    TYPES_PATTERN,
    FeedQuery,
)


def _text(pattern: str, max_length: int, description: str) -> Any:
    return Query(max_length=max_length, json_schema_extra={"pattern": pattern}, description=description)


def terms(description: str) -> Any:
    """A comma-separated list of terms."""
    return _text(TERMS_PATTERN, 2000, description)


def likes(description: str) -> Any:
    """Comma-separated arXiv ids."""
    return _text(LIKES_PATTERN, MAX_LIKES_LENGTH, description)


async def feed_query(  # async: pure parsing, no reason to hop to the thread pool
    keywords: Annotated[str | None, terms("Comma-separated keywords or phrases; replaces config.json's")] = None,
    exclude: Annotated[str | None, terms("Comma-separated exclusions, added")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1000, allow_inf_nan=False, description="Minimum score")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000, description=f"Most items (capped at {MAX_LIMIT})")] = None,
    type: Annotated[  # noqa: A002 - the public parameter is called "type"
        str | None, _text(TYPES_PATTERN, 200, "Comma-separated announce types: new, cross, replace, replace-cross")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=1000, description='arXiv-style query: ti:, abs:, au:, cat:, "phrases", AND, OR, ANDNOT, ( )'),
    ] = None,
    like: Annotated[
        str | None,
        likes("Comma-separated arXiv ids (2411.17775, arXiv:2411.17775v2, arxiv.org links): rank by likeness"),
    ] = None,
) -> FeedQuery:
    """A feed request's filters, parsed and checked."""
    return FeedQuery.from_params(keywords, exclude, min_score, limit, type, q, like)


FeedQueryDep = Annotated[FeedQuery, Depends(feed_query)]
