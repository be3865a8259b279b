"""The catalog on its own: entries for every stored paper, whole papers only where read or
changed, entries that follow the papers, and the merge, window and change rules."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.models import Entry, Metadata, Paper, RefreshState
from core.refresh.catalog import Catalog, merge_backfilled, papers_changed, window_start
from core.store.records import unscanned
from core.store.sqlite import SqliteStore
from tests.papers import make_paper

NOW = datetime(2024, 11, 28, 12, tzinfo=UTC)


def paper(paper_id: str, score: float = 1.0, **fields: object) -> Paper:
    listed = {"listed_in": ["cs.AI"], "title_text": f"Paper {paper_id}"}
    made = make_paper(f"Paper {paper_id}", id=paper_id, **{**listed, **fields})
    return made.model_copy(update={"match": made.match.model_copy(update={"score": score})})


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "catalog.sqlite3")
    store.save_papers([paper("1", 3.0), paper("2", 2.0), paper("3", 1.0)])
    return store


def test_a_loaded_catalog_holds_entries_and_reads_whole_only_what_is_asked(store: SqliteStore) -> None:
    catalog = Catalog.load(store)
    assert [e.id for e in catalog.order] == ["1", "2", "3"]
    assert (catalog.read, catalog.changed) == ({}, {})
    (two,) = catalog.whole(["2", "not stored"])
    assert two.id == "2"
    assert set(catalog.read) == {"2"}
    assert catalog.whole(["2"])[0] is two  # read once
    assert [p.id for p in catalog.held()] == ["2"]
    assert [e.id for e in catalog.carried()] == ["1", "3"]


def test_the_entries_of_a_large_store_are_kept_out_of_the_cycle_collectors_scans(tmp_path: Path) -> None:
    """Entries hold no cycle: scanned again and again they made a quarter of what a refresh's
    time grows by at 60,000 stored papers (bench/scale.py)."""
    store = SqliteStore(tmp_path / "large.sqlite3")
    store.save_papers([paper(str(n)) for n in range(500)])
    frozen = gc.get_freeze_count()
    catalog = Catalog.load(store)
    assert len(catalog.order) == 500
    assert gc.get_freeze_count() - frozen > 2 * 500
    assert gc.isenabled()


def test_a_refresh_frees_the_cycles_that_reads_before_it_froze(tmp_path: Path) -> None:
    """A read on a feed request freezes what lives (gc.freeze); a cycle alive then and dropped
    later is out of the collector's sight. The refresh thaws and collects in full, so in a
    process that lives for months (serve) they do not pile up."""
    store = SqliteStore(tmp_path / "small.sqlite3")
    store.save_papers([paper(str(n)) for n in range(3)])

    class Node:
        loop: object = None

    cycle = Node()
    cycle.loop = cycle
    alive = weakref.ref(cycle)
    unscanned(lambda: None)  # as a feed request's read of a version's papers
    del cycle
    gc.collect()
    assert alive() is not None  # frozen: a full collection does not see it
    Catalog.load(store)
    assert alive() is None


def test_an_update_marks_only_what_differs_and_its_entry_follows(store: SqliteStore) -> None:
    catalog = Catalog.load(store)
    one, two = catalog.whole(["1", "2"])
    enriched = two.model_copy(update={"metadata": Metadata(primary_category="cs.AI")})
    catalog.update([one, enriched])
    assert list(catalog.changed) == ["2"]
    entries = {e.id: e for e in catalog.order}
    assert entries["2"].enriched is True
    assert entries["1"].enriched is False
    assert [e.id for e in catalog.order] == ["1", "2", "3"]  # the order stays


def test_papers_added_replace_by_id_and_are_dated_no_later_than_a_day_ahead(store: SqliteStore) -> None:
    catalog = Catalog.load(store)
    ahead = make_paper("From the future", id="4", announced=NOW + timedelta(days=30))
    revised = paper("2", 2.0, version=2)
    assert catalog.add([revised, ahead], NOW) == 1
    assert [e.id for e in catalog.order] == ["1", "3", "2", "4"]
    assert catalog.changed["4"].announced == NOW
    assert {e.id: e.version for e in catalog.order}["2"] == 2


def test_keep_drops_entries_and_whole_papers_alike(store: SqliteStore) -> None:
    catalog = Catalog.load(store)
    catalog.whole(["1", "3"])
    catalog.add([paper("4")], NOW)
    catalog.keep(lambda e: e.id in ("1", "4"))
    assert [e.id for e in catalog.order] == ["1", "4"]
    assert (set(catalog.read), set(catalog.changed)) == ({"1"}, {"4"})


def test_the_save_writes_changed_papers_and_carries_the_rest_as_stored(store: SqliteStore) -> None:
    before = {p.id: p for p in store.load_papers()}
    catalog = Catalog.load(store)
    (three,) = catalog.whole(["3"])
    catalog.update([three.model_copy(update={"title_text": "Paper 3, revised"})])
    saved = catalog.save()
    assert [e.id for e in saved] == ["1", "2", "3"]
    assert all(e.digest for e in saved)  # named by the store
    after = {p.id: p for p in store.load_papers()}
    assert after["3"].title_text == "Paper 3, revised"
    assert (after["1"], after["2"]) == (before["1"], before["2"])
    assert store.load_index() == saved


def test_a_backfilled_paper_never_replaces_an_announced_one() -> None:
    announced = Entry.of(paper("1"))
    backfilled_v1 = Entry.of(paper("2", backfilled=True))
    added = merge_backfilled(
        {"1": announced, "2": backfilled_v1},
        [paper("1", backfilled=True, version=5), paper("2", backfilled=True, version=2), paper("3", backfilled=True)],
    )
    assert [(p.id, p.version) for p in added] == [("2", 2), ("3", 1)]


def test_the_window_reaches_back_from_the_newest_announcement_not_only_the_clock() -> None:
    old = [Entry.of(paper("1", announced=NOW - timedelta(days=30)))]
    assert window_start(old, NOW, 7) == NOW - timedelta(days=37)
    fresh = [*old, Entry.of(paper("2", announced=NOW))]
    assert window_start(fresh, NOW, 7) == NOW - timedelta(days=7)
    backfilled = [Entry.of(paper("3", announced=NOW, backfilled=True))]
    assert window_start(backfilled, NOW, 7) == NOW - timedelta(days=7)


def test_papers_changed_records_a_date_only_when_the_papers_differ(store: SqliteStore) -> None:
    saved = store.load_index()
    first = papers_changed(RefreshState(), saved, NOW)
    assert first.papers_changed_at == NOW
    assert first.papers_digest
    assert papers_changed(first, saved, NOW + timedelta(days=1)) is first
    changed = papers_changed(first, saved[:2], NOW + timedelta(days=1))
    assert changed.papers_changed_at == NOW + timedelta(days=1)


def test_a_state_change_naming_no_field_is_refused() -> None:
    with pytest.raises(TypeError, match="no field outcom"):
        RefreshState().but(outcom="ok")


def test_papers_are_found_in_their_places_after_the_order_changed(store: SqliteStore) -> None:
    """Stages look papers up by id; after a keep, a reorder and an update they are still found
    where the order has them."""
    catalog = Catalog.load(store)
    catalog.keep(lambda e: e.id != "1")
    three = paper("3", 5.0, title_text="Changed")
    catalog.update([three])
    assert [e.id for e in catalog.order] == ["2", "3"]
    assert catalog.order[1] == Entry.of(three)
    assert [p.id for p in catalog.whole(["3", "2", "1"])] == ["2", "3"]
    assert [e.id for e in catalog.entries(["3", "1", "2"])] == ["3", "2"]  # in the order asked, "1" gone
    catalog.reorder([catalog.order[1], catalog.order[0]], [three])
    assert [p.id for p in catalog.whole(["2", "3"])] == ["3", "2"]
    assert catalog.entries(["3"]) == [Entry.of(three)]
    assert catalog.carried() == []  # both read whole by now
    assert [p.id for p in catalog.held()] == ["3", "2"]
