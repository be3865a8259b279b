"""core.store: the contract every backend keeps, run against each of them (SQLite, Upstash)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import StoreError
from core.models import Entry, KeywordHit, LikedSet, Match, Paper, RefreshState, ZoteroLibrary, ZoteroText
from core.settings import Settings
from core.store import Store, open_store
from core.store.records import encode_entry, encode_paper
from core.store.sqlite import SqliteStore
from core.store.upstash import UpstashStore
from tests.papers import make_paper, stored
from tests.waiting import wait_until

DAY = datetime(2024, 11, 28, 5, tzinfo=UTC)


def paper(pid: str, score: float = 0.0, feeds: tuple[str, ...] = ("cs.AI",), **fields: object) -> Paper:
    fields.setdefault("title", f"Paper {pid}")
    return make_paper(
        abstract="An abstract.",
        id=pid,
        listed_in=list(feeds),
        announced=DAY,
        match=Match(hits=[KeywordHit(keyword="llm", in_title=True)] if score else [], score=score),
        **fields,
    )


def ids(papers: list[Paper]) -> list[str]:
    return [p.id for p in papers]


def test_round_trip_keeps_every_field(store: Store) -> None:
    original = paper(
        "2411.17758", 1.5, authors=["A. One", "B. Two"], doi="10.1/x", journal_ref="J. 1", rights="cc", version=3
    )
    old_style = paper("astro-ph/0601001", 0.0, ("astro-ph",), title="Ünïcode ∑ title <b>&amp;</b>")
    store.save_papers([original, old_style])
    assert stored(store, "2411.17758") == original
    assert stored(store, "astro-ph/0601001") == old_style
    assert stored(store, "0000.00000") is None
    assert store.load_status()[1] == 2


def test_papers_load_per_feed_in_saved_order(store: Store) -> None:
    store.save_papers([paper("2", 2.5, ("cs.AI", "cs.LG")), paper("3", 2.5, ("cs.LG",)), paper("1", 1.0), paper("4")])
    assert ids(store.load_papers("cs.AI")) == ["2", "1", "4"]
    assert ids(store.load_papers("cs.LG")) == ["2", "3"]
    assert ids(store.load_papers()) == ["2", "3", "1", "4"]
    assert store.load_papers("cs.CL") == []


def test_limit_reads_a_prefix(store: Store) -> None:
    store.save_papers([paper(str(i), 10 - i) for i in range(10)])
    assert ids(store.load_papers("cs.AI", limit=3)) == ["0", "1", "2"]
    assert ids(store.load_papers(None, limit=5)) == ["0", "1", "2", "3", "4"]
    assert len(store.load_papers("cs.AI", limit=1000)) == 10


def test_saving_replaces_the_whole_set(store: Store) -> None:
    store.save_papers([paper("1", 1.0, ("cs.AI",)), paper("old", 1.0)])
    store.save_papers([paper("1", 3.0, ("cs.LG",), version=2)])
    assert store.load_status()[1] == 1
    assert stored(store, "old") is None
    assert stored(store, "1").version == 2  # type: ignore[union-attr]
    assert store.load_papers("cs.AI") == []
    assert [p.match.score for p in store.load_papers("cs.LG")] == [3.0]


def test_a_paper_whose_version_goes_back_and_forth_stays_whole_and_listed(store: Store) -> None:
    """A, B, A: a config edit and its revert, or an embeddings endpoint down one day and up the
    next. The version A that comes back must not be deleted as the one retired two saves ago."""
    a, b = paper("1", 1.0, title="Version A"), paper("1", 2.0, title="Version B")
    other = paper("2", 0.5)
    for version in (a, b, a, a, b, a):
        store.save_papers([version, other])
        assert stored(store, "1") == version
        assert store.load_papers("cs.AI") == [version, other]
        index = store.load_index()
        assert [(e.id, e.score) for e in index] == [("1", version.match.score), ("2", 0.5)]
        assert store.load_whole(index) == [version, other]  # the index names the version saved
        assert store.load_status()[1] == 2


def test_load_feed_returns_state_papers_and_their_version(store: Store) -> None:
    assert store.load_feed("cs.AI", 10) == (RefreshState(), [], store.load_version())
    store.save_papers([paper("1", 1.0), paper("2", 0.5)])
    state = RefreshState(outcome="ok", last_success_at=DAY)
    store.save_state(state)
    assert store.load_feed("cs.AI", 1) == (state, [store.load_papers("cs.AI")[0]], store.load_version())
    loaded_state, papers, _ = store.load_feed(None, None)
    assert (loaded_state, ids(papers)) == (state, ["1", "2"])


def test_state_round_trip(store: Store) -> None:
    assert store.load_state() == RefreshState()
    state = RefreshState(etag='"abc"', outcome="ok", last_success_at=DAY, counts={"new": 3})
    store.save_state(state)
    assert store.load_state() == state


def test_zotero_record_round_trip_apart_from_the_state(store: Store) -> None:
    assert store.load_zotero() == ZoteroLibrary()
    record = ZoteroLibrary(
        library="users/1", version=42, ids={"ABCD2345": "2411.17758"}, texts={"EFGH2345": ZoteroText(title="A book")}
    )
    store.save_zotero(record)
    store.save_state(RefreshState(outcome="ok"))
    assert store.load_zotero() == record
    assert store.load_state().outcome == "ok"


def test_lock_is_exclusive_and_released_only_by_its_owner(store: Store) -> None:
    assert store.acquire_lock("a", 60)
    assert not store.acquire_lock("b", 60)
    store.release_lock("b")
    assert not store.acquire_lock("b", 60)
    store.release_lock("a")
    assert store.acquire_lock("b", 60)


def test_the_owner_renews_its_lock_and_others_see_who_holds_it(store: Store) -> None:
    assert store.lock_holder() is None
    assert store.acquire_lock("host:1:a", 0.001)
    assert store.acquire_lock("host:1:a", 60)  # taken again by its owner: renewed, even if it had expired
    assert store.lock_holder() == "host:1:a"
    assert not store.acquire_lock("host:2:b", 60)
    store.release_lock("host:1:a")
    assert store.lock_holder() is None


def test_an_expired_lock_can_be_taken(store: Store) -> None:
    assert store.acquire_lock("crashed", 0.001)
    wait_until(lambda: store.acquire_lock("next", 60), "the expired lock was taken", timeout_s=5)
    store.release_lock("crashed")  # a late release by the old owner must not free the new lock
    assert not store.acquire_lock("third", 60)


def test_only_one_of_many_concurrent_lockers_wins(store: Store) -> None:
    results: list[bool] = []
    threads = [threading.Thread(target=lambda i=i: results.append(store.acquire_lock(f"w{i}", 60))) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    holder = store.lock_holder()
    assert holder is not None
    store.release_lock(holder)  # the session's Redis serves the tests after this one


def test_ping(store: Store, tmp_path: Path) -> None:
    store.ping()  # reachable: no error
    unreachable: Store = (
        SqliteStore(tmp_path / "a-directory")
        if isinstance(store, SqliteStore)
        else UpstashStore("http://127.0.0.1:9", "token", timeout_s=1)
    )
    (tmp_path / "a-directory").mkdir()
    with pytest.raises(StoreError):
        unreachable.ping()


# --- choosing a backend ------------------------------------------------------------------


def test_sqlite_is_the_default(tmp_path: Path) -> None:
    assert isinstance(open_store(Settings.from_env({"DATA_DIR": str(tmp_path)})), SqliteStore)


@pytest.mark.parametrize(
    "names", [("UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"), ("KV_REST_API_URL", "KV_REST_API_TOKEN")]
)
def test_upstash_is_chosen_from_either_naming(names: tuple[str, str], upstash, redis_server) -> None:  # type: ignore[no-untyped-def]
    redis_server.flush()
    store = open_store(Settings.from_env({names[0]: upstash.url, names[1]: upstash.token}))
    assert isinstance(store, UpstashStore)
    store.save_papers([paper("1", 1.0)])
    assert ids(store.load_papers("cs.AI")) == ["1"]


# --- SQLite specifics --------------------------------------------------------------------


def test_sqlite_survives_a_restart(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "s.sqlite3").save_papers([paper("1", 1.0)])
    assert ids(SqliteStore(tmp_path / "s.sqlite3").load_papers("cs.AI")) == ["1"]


def test_sqlite_unusable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = SqliteStore(blocker / "sub" / "s.sqlite3")
    with pytest.raises(StoreError, match="DATA_DIR"):
        store.ping()
    with pytest.raises(StoreError):
        store.load_papers()


def test_summaries_cache_round_trip(store: Store) -> None:
    from core.models import Summary

    ok = Summary(
        markdown="## A", html="<h2>A</h2>", model="qwen-long", provider="dashscope", language="zh", created=DAY
    )
    rejected = Summary(
        status="rejected", model="qwen-long", provider="dashscope", language="zh", created=DAY, reason="x"
    )
    store.save_summaries({"2411.1v1:zh:qwen-long:p1": ok, "2411.2v1:zh:qwen-long:p1": rejected})
    found = store.load_summaries(["2411.1v1:zh:qwen-long:p1", "2411.2v1:zh:qwen-long:p1", "missing"])
    assert found == {"2411.1v1:zh:qwen-long:p1": ok, "2411.2v1:zh:qwen-long:p1": rejected}
    assert store.load_summaries([]) == {}


def test_usage_adds_up_per_day(store: Store) -> None:
    assert store.add_usage("2024-11-28", 0, 0) == (0, 0)
    assert store.add_usage("2024-11-28", 1, 500) == (1, 500)
    assert store.add_usage("2024-11-28", 2, 100) == (3, 600)
    assert store.add_usage("2024-11-29", 1, 1) == (1, 1)


def test_the_version_changes_with_every_save_and_only_then(store: Store) -> None:
    first = store.load_version()
    assert store.load_version() == first
    store.save_papers([make_paper()])
    second = store.load_version()
    assert second != first
    store.save_papers([make_paper()])  # the same papers again: a new generation all the same
    third = store.load_version()
    assert third != second
    store.save_state(RefreshState(outcome="ok"))
    fourth = store.load_version()
    assert fourth != third
    # Reads, the lock and the usage counters leave the papers and state (and the version) alone.
    store.load_feed()
    assert store.acquire_lock("owner", 60)
    store.release_lock("owner")
    store.add_usage("2024-11-28", 1, 100)
    assert store.load_version() == fourth


def test_sqlite_keeps_one_connection_per_thread(tmp_path: Path) -> None:
    """A cached feed's version check must not open (and set up) a new connection each time."""
    store = SqliteStore(tmp_path / "reuse.sqlite3")
    store.load_version()
    first = store._connection()
    for _ in range(5):
        store.load_version()
    assert store._connection() is first
    seen: list[object] = []
    thread = threading.Thread(target=lambda: (store.load_version(), seen.append(store._connection())))
    thread.start()
    thread.join()
    assert seen[0] is not first  # sqlite3 connections stay on the thread that made them


def test_the_index_holds_every_paper_s_entry_in_saved_order(store: Store) -> None:
    papers = [paper("2", 2.5, ("cs.AI", "cs.LG"), topics={"agents": 2.5}), paper("1", 1.0), paper("3")]
    store.save_papers(papers)
    index = store.load_index()
    assert index == [encode_paper(p)[1] for p in papers]
    assert (index[0].listed_in, index[0].score, index[0].topics) == (("cs.AI", "cs.LG"), 2.5, {"agents": 2.5})
    assert store.load_whole([index[2], index[0]]) == [papers[2], papers[0]]
    assert store.load_whole([]) == []


def test_an_entry_saved_keeps_its_paper_as_it_was(store: Store) -> None:
    """A save may name unchanged papers by their entry: they stay, in the new order."""
    papers = [paper("1", 1.0, summary=None), paper("2", 2.0), paper("3", 3.0)]
    store.save_papers(papers)
    index = {e.id: e for e in store.load_index()}
    revised = paper("2", 5.0, ("cs.LG",), title="Revised")
    store.save_catalog([Entry.of(revised), index["3"], index["1"]], {"2": revised})
    assert store.load_papers() == [revised, papers[2], papers[0]]
    assert ids(store.load_papers("cs.AI")) == ["3", "1"]
    assert store.load_index() == [encode_paper(revised)[1], index["3"], index["1"]]
    store.save_catalog([index["3"]], {})  # the others leave
    assert ids(store.load_papers()) == ["3"]
    assert store.load_status()[1] == 1


def test_sqlite_stores_of_the_layout_before_entries_are_moved_once(tmp_path: Path) -> None:
    """Before entries, SQLite kept papers in one table with their position; the first open moves them."""
    import sqlite3

    papers = [paper("2", 2.0, ("cs.AI", "cs.LG")), paper("1", 1.0)]
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE papers (id TEXT PRIMARY KEY, position INTEGER NOT NULL, data TEXT NOT NULL);"
            "CREATE TABLE paper_feeds (feed TEXT NOT NULL, position INTEGER NOT NULL, id TEXT NOT NULL,"
            " PRIMARY KEY (feed, position));"
        )
        conn.executemany(
            "INSERT INTO papers VALUES (?, ?, ?)", [(p.id, i, p.model_dump_json()) for i, p in enumerate(papers)]
        )
        conn.executemany(
            "INSERT INTO paper_feeds VALUES (?, ?, ?)", [("cs.AI", 0, "2"), ("cs.LG", 0, "2"), ("cs.AI", 1, "1")]
        )
    store = SqliteStore(path)
    assert store.load_papers() == papers
    assert ids(store.load_papers("cs.LG")) == ["2"]
    assert store.load_index() == [encode_paper(p)[1] for p in papers]
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "papers" not in tables
    assert SqliteStore(path).load_papers() == papers  # opened again: nothing left to move


def sqlite_rows(path: Path) -> dict[str, tuple[int, list[str]]]:
    """Each stored paper's position and the feeds that list it there, read past the store."""
    import sqlite3

    with closing(sqlite3.connect(path)) as conn:
        rows = {i: (at, []) for at, i in conn.execute("SELECT position, id FROM entries")}
        for feed, at, i in conn.execute("SELECT feed, position, id FROM paper_feeds ORDER BY feed"):
            assert rows[i][0] == at
            rows[i][1].append(feed)
    return {i: (at, feeds) for i, (at, feeds) in rows.items()}


def test_sqlite_keeps_the_rows_of_papers_a_save_did_not_move(tmp_path: Path) -> None:
    """A next day's papers ranked among the stored ones write their own rows, not the set's."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    store.save_papers([paper("3", 3.0), paper("2", 2.0, ("cs.AI", "cs.LG")), paper("1", 1.0)])
    before = sqlite_rows(store.path)
    index = {e.id: e for e in store.load_index()}
    new = [paper("4", 4.0, ("cs.LG",)), paper("2b", 1.5)]
    store.save_catalog([Entry.of(new[0]), index["3"], index["2"], Entry.of(new[1])], {p.id: p for p in new})
    after = sqlite_rows(store.path)
    assert {i: after[i] for i in ("3", "2")} == {i: before[i] for i in ("3", "2")}
    assert ids(store.load_papers()) == ["4", "3", "2", "2b"]
    assert ids(store.load_papers("cs.LG")) == ["4", "2"]
    assert ids(store.load_papers("cs.AI")) == ["3", "2", "2b"]
    assert store.load_status()[1] == 4
    with closing(sqlite3.connect(store.path)) as conn:
        assert {i for (i,) in conn.execute("SELECT id FROM paper")} == {"4", "3", "2", "2b"}


def test_sqlite_writes_the_set_whole_when_another_store_saved_since_it_read(tmp_path: Path) -> None:
    """Two processes on one file: positions known from before the other's save are not trusted."""
    first, second = SqliteStore(tmp_path / "s.sqlite3"), SqliteStore(tmp_path / "s.sqlite3")
    first.save_papers([paper("2", 2.0), paper("1", 1.0)])
    second.save_papers([paper("9", 9.0, ("cs.LG",)), paper("2", 2.0), paper("1", 1.0), paper("0", 0.5)])
    first.save_papers([paper("5", 5.0), paper("1", 1.0)])
    assert ids(first.load_papers()) == ids(second.load_papers()) == ["5", "1"]
    assert first.load_papers("cs.LG") == []
    assert set(sqlite_rows(first.path)) == {"5", "1"}
    with closing(sqlite3.connect(first.path)) as conn:
        assert {i for (i,) in conn.execute("SELECT id FROM paper")} == {"5", "1"}


def test_sqlite_replaces_the_row_of_an_entry_that_could_not_be_read(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    papers = [paper("2", 2.0), paper("1", 1.0)]
    store.save_papers(papers)
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.execute("UPDATE entries SET entry = '[1, \"broken' WHERE id = '2'")
    index = store.load_index()  # the entry of "2" made again from its paper
    store.save_catalog(index, {})
    with closing(sqlite3.connect(store.path)) as conn:
        assert sorted(i for (i,) in conn.execute("SELECT id FROM entries")) == ["1", "2"]
    assert store.load_papers() == papers
    assert store.load_index() == index


def test_upstash_papers_saved_before_entries_get_theirs_at_the_first_index_read(shim, redis_server) -> None:  # type: ignore[no-untyped-def]
    store = UpstashStore(shim.url, shim.token)
    papers = [paper("2", 2.0), paper("1", 1.0)]
    store.save_papers(papers)
    expected = store.load_index()
    entry_keys = store.redis.call("KEYS", "arb:entry:*")
    store.redis.call("DEL", *entry_keys)  # as a store written before entries were kept
    assert store.load_index() == expected
    assert sorted(store.redis.call("KEYS", "arb:entry:*")) == sorted(entry_keys)  # written back
    shim.reset_counts()
    assert store.load_index() == expected
    assert shim.fields_read["arb:paper"] == 0


def test_upstash_entries_written_back_go_in_requests_under_10_mb(shim, redis_server) -> None:  # type: ignore[no-untyped-def]
    """A store of papers without entries (saved before entries were kept) whose entries come to
    12 MB: written back in requests Upstash takes (it refuses any over 10 MB), not one MSET."""
    store = UpstashStore(shim.url, shim.token)
    topics = {f"topic {n:04d} " + "x" * 40: 1.0 for n in range(2_000)}  # about 100 KB an entry
    papers = [paper(f"2411.{n:05d}", 1.0).model_copy(update={"topics": topics}) for n in range(120)]
    store.save_papers(papers)
    expected = store.load_index()
    store.redis.call("DEL", *store.redis.call("KEYS", "arb:entry:*"))
    assert sum(len(encode_entry(e)) for e in expected) > 12_000_000
    shim.reset_counts()
    assert store.load_index() == expected
    assert len(store.redis.call("KEYS", "arb:entry:*")) == 120  # written back
    assert 3 <= shim.commands["MSET"] <= 6  # a few MSETs of at most 4 MB each, not a SET each
    assert shim.commands["SET"] == 0
    assert shim.max_request_bytes == 10_000_000


def test_feedback_is_kept_and_changes_the_version_readers_check(store: Store) -> None:
    from core.models import Feedback, Opinion

    assert store.load_feedback() == Feedback()
    store.save_papers([paper("2411.00001")])
    before = store.load_version()
    liked = Feedback(opinions=[Opinion(id="2411.00001", action="like", at=DAY, title="T", abstract="A")], version="v1")
    assert store.save_feedback(liked, "")
    assert store.load_feedback() == liked
    assert store.load_version() != before
    assert store.load_feed(None, 1)[2] == store.load_version()  # one version, however it is read
    assert store.load_papers() == [paper("2411.00001")]  # the papers are untouched


def test_a_feedback_save_over_a_record_it_did_not_read_writes_nothing(store: Store) -> None:
    from core.models import Feedback, Opinion

    first = Feedback(opinions=[Opinion(id="2411.00001", action="like", at=DAY, title="T")], version="v1")
    assert store.save_feedback(first, "")
    version = store.load_version()
    late = Feedback(opinions=[Opinion(id="2411.00002", action="dislike", at=DAY, title="U")], version="v2")
    assert not store.save_feedback(late, "")  # it read the record before "v1" was saved
    assert store.load_feedback() == first
    assert store.load_version() == version
    assert store.save_feedback(late, "v1")
    assert store.load_feedback() == late


def test_the_liked_set_keeps_its_papers_and_deletes_the_rest(store: Store) -> None:
    store.save_liked([paper("2411.00001"), paper("2411.00002"), paper("2411.00003")])
    version = store.load_version()
    kept = LikedSet(ids=["2411.00001"], requested=["2411.00002"], missing=["0000.00000"])
    store.save_liked_set(kept)
    assert store.load_liked_set() == kept
    assert set(store.load_liked(["2411.00001", "2411.00002", "2411.00003"])) == {"2411.00001", "2411.00002"}
    assert store.load_version() == version  # apart from the state every request's version check reads


def test_pending_likes_are_bounded_the_newest_kept(store: Store) -> None:
    version = store.load_version()
    for n in range(5):
        store.add_pending_likes([f"2411.0000{n}"], 3)
    assert store.load_pending_likes() == ["2411.00004", "2411.00003", "2411.00002"]
    store.drop_pending_likes(["2411.00003"])
    assert store.load_pending_likes() == ["2411.00004", "2411.00002"]
    assert store.load_version() == version  # a reader's ?like= changes no feed
