"""core.refresh.rank: the stored order, and what config.json keeps of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.config import parse_config
from core.models import Entry, Match, Paper
from core.refresh.rank import store_order
from core.selection.select import count_kept, kept_by_config
from tests.papers import make_paper

DAY = datetime(2024, 11, 28, 5, tzinfo=UTC)
CONFIG = parse_config({"categories": ["cs.AI"], "keywords": ["agent"], "min_score": 1.0, "announce_types": ["new"]})


def entry(paper_id: str, score: float, days_ago: int = 0, kind: str = "new") -> Entry:
    paper: Paper = make_paper(
        f"Paper {paper_id}", id=paper_id, announced=DAY - timedelta(days=days_ago), announce_type=kind
    )
    return Entry.of(paper.model_copy(update={"match": Match(score=score)}))


def entries() -> list[Entry]:
    made = [
        entry(f"{n:03d}", score=(n * 7) % 5 * 0.5, days_ago=n % 4, kind=("new", "cross")[n % 3 == 0]) for n in range(60)
    ]
    return made


def test_entries_carried_in_stored_order_are_ranked_as_if_all_were_sorted() -> None:
    """A refresh's new papers ranked among the stored ones: the stored ones' kept prefix is
    found by a binary search, and the result is the order of sorting them all."""
    stored = store_order(entries()[:45], CONFIG)
    new = entries()[45:]
    assert store_order(new, CONFIG, stored) == store_order([*new, *stored], CONFIG)
    assert [e.id for e in store_order(new, CONFIG, stored)] != [e.id for e in [*new, *stored]]


def test_the_papers_config_keeps_are_counted_from_the_stored_order() -> None:
    ordered = store_order(entries(), CONFIG)
    kept = sum(1 for e in ordered if kept_by_config(e, CONFIG))
    assert 0 < kept < len(ordered)
    assert count_kept(ordered, CONFIG) == kept
    assert all(kept_by_config(e, CONFIG) for e in ordered[:kept])
    assert count_kept([], CONFIG) == 0
