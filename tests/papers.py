"""Small builders for Paper records in unit tests (real recorded papers are used elsewhere)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from core.models import Paper, Summary
from core.store import Store
from core.text.markdown import render_markdown
from core.text.matching import Matcher, match_papers


def make_paper(title: str = "A paper", abstract: str = "", **fields: Any) -> Paper:
    defaults: dict[str, Any] = {
        "id": "2411.00001",
        "announced": datetime(2024, 11, 28, 5, tzinfo=UTC),
        "categories": ["cs.AI"],
    }
    return Paper(title=title, abstract=abstract, **{**defaults, **fields})


HOSTILE_TITLE = 'LLM <script>window.pwned = 1</script> <img src=x onerror="window.pwned = 2"> </div></article>'
HOSTILE_ABSTRACT = "An LLM <a href=\"javascript:window.pwned = 3\">link</a> <iframe src='//evil'></iframe> <b>unclosed"
HOSTILE_SUMMARY = "## Main\n[click](javascript:window.pwned=4) <svg onload=window.pwned=5> <!-- </details> -->"


def hostile_paper() -> Paper:
    """A paper whose every field tries to run script, matched by the test config's "LLM"."""
    summary = Summary(
        markdown=HOSTILE_SUMMARY,
        html=render_markdown(HOSTILE_SUMMARY),
        model="qwen-long",
        provider="dashscope",
        language="en",
        created=datetime(2024, 11, 28, 6, tzinfo=UTC),
    )
    paper = make_paper(HOSTILE_TITLE, HOSTILE_ABSTRACT, authors=["<b>Mallory</b> <script>x</script>"], summary=summary)
    paper = paper.model_copy(update={"title_text": HOSTILE_TITLE, "abstract_text": HOSTILE_ABSTRACT})
    return match_papers([paper], Matcher.build(["LLM"]))[0]


def stored(store: Store, paper_id: str) -> Paper | None:
    """The stored paper with this id, if any."""
    return next((p for p in store.load_papers() if p.id == paper_id), None)


def corrupt_stored(store: Store, paper_id: str) -> None:
    """Rewrite one stored record in an old, incompatible shape, behind the store's back: from
    then on, reading it whole skips it."""
    old = json.dumps({"id": paper_id, "name": "an old shape"})
    if store.name == "sqlite":
        import sqlite3

        with sqlite3.connect(store.path) as conn:  # type: ignore[attr-defined]
            conn.execute("UPDATE paper SET data = ? WHERE id = ?", (old, paper_id))
        return
    redis = store.redis  # type: ignore[attr-defined]
    key = next(iter(redis.call("KEYS", f"arb:paper:{paper_id}@*")))
    redis.call("SET", key, old)
