"""Small builders for Paper records in unit tests (real recorded papers are used elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.models import Paper


def make_paper(title: str = "A paper", abstract: str = "", **fields: Any) -> Paper:
    defaults: dict[str, Any] = {
        "id": "2411.00001",
        "announced": datetime(2024, 11, 28, 5, tzinfo=UTC),
        "categories": ["cs.AI"],
    }
    return Paper(title=title, abstract=abstract, **{**defaults, **fields})
