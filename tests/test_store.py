"""core.store: the contract every backend keeps, run against each of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import StoreError
from core.models import KeywordHit, Match, RefreshState
from core.store import Store
from core.store.sqlite import SqliteStore
from tests.papers import make_paper

DAY = datetime(2024, 11, 28, 5, tzinfo=UTC)


def paper(pid: str, score: float = 0.0, feeds: tuple[str, ...] = ("cs.AI",), days_ago: int = 0, **fields: object):
    return make_paper(
        f"Paper {pid}",
        "An abstract.",
        id=pid,
        feeds=list(feeds),
        announced=DAY - timedelta(days=days_ago),
        match=Match(hits=[KeywordHit(keyword="llm", in_title=True)] if score else [], score=score),
        **fields,
    )


def test_round_trip_keeps_every_field(store: Store) -> None:
    original = paper(
        "2411.17758", 1.5, authors=["A. One", "B. Two"], doi="10.1/x", journal_ref="J. 1", rights="cc", version=3
    )
    store.save_papers([original])
    assert store.load_paper("2411.17758") == original
    assert store.load_paper("0000.00000") is None
    assert store.count_papers() == 1


def test_papers_load_per_feed_best_first(store: Store) -> None:
    store.save_papers(
        [
            paper("1", 1.0, ("cs.AI",)),
            paper("2", 2.5, ("cs.AI", "cs.LG")),
            paper("3", 2.5, ("cs.LG",), days_ago=1),
            paper("4", 0.0, ("cs.LG",)),
        ]
    )
    assert [p.id for p in store.load_papers("cs.AI")] == ["2", "1"]
    assert [p.id for p in store.load_papers("cs.LG")] == ["2", "3", "4"]
    assert [p.id for p in store.load_papers()] == ["2", "3", "1", "4"]
    assert store.load_papers("cs.CL") == []


def test_saving_again_replaces_by_id(store: Store) -> None:
    store.save_papers([paper("1", 1.0, ("cs.AI",))])
    store.save_papers([paper("1", 3.0, ("cs.LG",), version=2)])
    assert store.count_papers() == 1
    assert store.load_paper("1").version == 2  # type: ignore[union-attr]
    assert store.load_papers("cs.AI") == []
    assert [p.score for p in store.load_papers("cs.LG")] == [3.0]


def test_keep_since_drops_older_papers_in_the_same_write(store: Store) -> None:
    store.save_papers([paper("old", 5.0, days_ago=10), paper("mid", 1.0, days_ago=3)])
    store.save_papers([paper("new", 1.0)], keep_since=DAY - timedelta(days=7))
    assert sorted(p.id for p in store.load_papers()) == ["mid", "new"]
    assert [p.id for p in store.load_papers("cs.AI")] == ["new", "mid"]  # same score: newer first


def test_state_round_trip(store: Store) -> None:
    assert store.load_state() == RefreshState()
    state = RefreshState(etag='"abc"', outcome="ok", last_success_at=DAY, counts={"new": 3})
    store.save_state(state)
    assert store.load_state() == state


def test_lock_is_exclusive_and_released_only_by_its_owner(store: Store) -> None:
    assert store.acquire_lock("a", 60)
    assert not store.acquire_lock("b", 60)
    store.release_lock("b")
    assert not store.acquire_lock("b", 60)
    store.release_lock("a")
    assert store.acquire_lock("b", 60)


def test_an_expired_lock_can_be_taken(store: Store) -> None:
    assert store.acquire_lock("crashed", 0.001)
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while not store.acquire_lock("next", 60):
        assert datetime.now(UTC) < deadline, "the expired lock was never released"
    store.release_lock("crashed")  # a late release by the old owner must not free the new lock
    assert not store.acquire_lock("third", 60)


def test_ping(store: Store) -> None:
    store.ping()


# --- SQLite specifics --------------------------------------------------------------------


def test_sqlite_survives_a_restart(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "s.sqlite3").save_papers([paper("1", 1.0)])
    assert [p.id for p in SqliteStore(tmp_path / "s.sqlite3").load_papers("cs.AI")] == ["1"]


def test_sqlite_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = SqliteStore(blocker / "sub" / "s.sqlite3")
    with pytest.raises(StoreError, match="DATA_DIR"):
        store.ping()
    with pytest.raises(StoreError):
        store.load_papers()
