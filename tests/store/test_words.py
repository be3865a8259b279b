"""core.store.words and the word index each backend keeps: a segment per save, kept while any
of its members is stored, covering the stored papers whole."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import parse_config
from core.errors import StoreError
from core.models import Entry, Paper
from core.selection.indexed import find, search_of
from core.selection.query import FeedQuery
from core.selection.select import select_papers
from core.store import Store
from core.store.records import encode_paper, stored_name
from core.store.sqlite import SqliteStore
from core.store.upstash import WORDS, WORDS_PENDING, UpstashStore
from core.store.words import MERGE_FAN, SMALL_SEGMENT, WordsHead, plan_words
from core.text.words import MAX_SEGMENT, build_segment, decode, paper_tokens
from core.web.words import WordIndex
from tests.loopback import Request
from tests.papers import make_paper
from tests.store.test_upstash import synthetic_papers
from tests.upstash_shim import UpstashShim


@pytest.fixture(scope="module")
def stored(refreshed_sqlite: Path) -> list[Paper]:
    return SqliteStore(refreshed_sqlite).load_papers()


def _names(papers: list[Paper]) -> list[str]:
    return [stored_name(encode_paper(p)[1]) for p in papers]


def _holders(store: Store, token: str) -> set[str]:
    """The names of the stored versions the index says hold ``token`` (not those it says are dead)."""
    head = store.load_words()
    members = store.load_members(list(head.segments))
    found = store.load_postings(head, [token])
    dead = {(s, o) for s, gone in head.dead.items() for o in decode(gone)}
    return {members[s][o] for (s, _), ordinals in found.items() for o in decode(ordinals) if (s, o) not in dead}


def test_each_save_indexes_what_it_wrote_and_keeps_what_is_still_stored(store: Store, stored: list[Paper]) -> None:
    first, second = stored[:SMALL_SEGMENT], stored[SMALL_SEGMENT:]
    store.save_papers(first)
    head = store.load_words()
    assert head.covers
    assert len(head.segments) == 1
    assert head.count == SMALL_SEGMENT
    store.save_papers([*first, *second])  # a second day: one segment more, the first kept
    head = store.load_words()
    assert len(head.segments) == 2
    assert head.count == len(stored)
    members = store.load_members(list(head.segments)).values()
    assert {frozenset(m) for m in members} == {frozenset(_names(first)), frozenset(_names(second))}
    store.save_papers(second)  # the first day's papers age out: their segment goes
    head = store.load_words()
    assert [set(m) for m in store.load_members(list(head.segments)).values()] == [set(_names(second))]
    assert set(head.categories) == {c for p in second for c in p.categories}


def test_a_changed_paper_is_found_by_its_new_words_only(store: Store, stored: list[Paper]) -> None:
    papers = stored[:50]
    store.save_papers(papers)
    revised = papers[0].model_copy(update={"title": "Zymurgy of qubits", "title_text": "Zymurgy of qubits"})
    store.save_papers([revised, *papers[1:]])
    assert _holders(store, "t:zymurgy") == {_names([revised])[0]}
    assert _names([papers[0]])[0] not in _holders(store, "w:" + sorted(paper_tokens(papers[0]))[-1][2:])


def test_a_name_never_reads_another_version_of_its_paper(store: Store, stored: list[Paper]) -> None:
    """A reader holding a name from before a save asks for that version: it gets it, or
    nothing (SQLite keeps one version of an id), never the version the save wrote."""
    papers = stored[:20]
    store.save_papers(papers)
    (old,) = _names(papers[:1])
    revised = papers[0].model_copy(update={"title": "Zymurgy of qubits", "title_text": "Zymurgy of qubits"})
    store.save_papers([revised, *papers[1:]])
    found = store.load_named([old, *_names(papers[1:3])])
    assert found.get(old) in (None, papers[0])
    assert [found[n].id for n in _names(papers[1:3])] == [p.id for p in papers[1:3]]
    assert store.load_named(_names([revised])) == {_names([revised])[0]: revised}


def test_a_store_from_before_the_index_is_indexed_whole_by_its_next_save(store: Store, stored: list[Paper]) -> None:
    """Until then, readers are told the index does not cover the papers (they read every one)."""
    papers = stored[:300]
    store.save_papers(papers)
    _forget_the_index(store)
    assert store.load_words() == WordsHead()
    store.save_catalog(store.load_index(), {})  # a next-day refresh that changed nothing
    head = store.load_words()
    assert head.covers
    assert head.count == 300
    assert sorted(n for m in store.load_members(list(head.segments)).values() for n in m) == sorted(_names(papers))


def test_small_segments_are_merged_into_the_next(store: Store, stored: list[Paper]) -> None:
    """A save of a few summaries makes a small segment: a reader asks every segment for its
    words, so small ones are merged into the next save's, and the segments stay about one a day."""
    for end in (50, 100, 150):
        store.save_papers(stored[:end])
        head = store.load_words()
        assert len(head.segments) == 1, end
        assert sorted(n for m in store.load_members(list(head.segments)).values() for n in m) == sorted(
            _names(stored[:end])
        )
    store.save_papers(stored)  # a whole day: its segment is not small, and the small one goes into it
    assert len(store.load_words().segments) == 1
    store.save_papers([*stored, *_revised(stored[:3])])
    assert len(store.load_words().segments) == 2  # the large one stays; the small new one too, for now


def _revised(papers: list[Paper]) -> list[Paper]:
    return [p.model_copy(update={"id": f"2412.{n:05d}"}) for n, p in enumerate(papers)]


def _no_merge(segments: list[str]) -> dict[str, dict[str, str]]:
    assert not segments
    return {}


def test_segments_of_about_the_same_size_are_merged_by_their_postings(store: Store) -> None:
    """MERGE_FAN segments of a size become one, their papers not read again: a store keeps a
    few segments of each size, and a reader asks each of them for its words."""
    papers = synthetic_papers(5 * SMALL_SEGMENT, datetime(2024, 11, 28, tzinfo=UTC))
    days = [papers[i * SMALL_SEGMENT : (i + 1) * SMALL_SEGMENT] for i in range(5)]
    for n in range(1, MERGE_FAN + 1):  # a day of new papers each save
        store.save_papers([p for day in days[:n] for p in day])
    assert len(store.load_words().segments) == MERGE_FAN
    store.save_catalog(store.load_index() + [Entry.of(p) for p in days[MERGE_FAN]], {p.id: p for p in days[4]})
    head = store.load_words()
    assert len(head.segments) == 1
    assert head.covers
    names = _names(papers)
    for token in ("w:agents", "t:paper", "c:cs.AI", "f:cs.LG", "w:benchmarks"):
        assert _holders(store, token) == {n for n, p in zip(names, papers, strict=True) if token in paper_tokens(p)}
    (members,) = store.load_members(list(head.segments)).values()
    by_name = dict(zip(names, papers, strict=True))
    keys = [(by_name[n].announced, by_name[n].id) for n in members]
    assert keys == sorted(keys, reverse=True)  # newest first, as a reader takes them


def test_a_merged_segment_is_the_segment_of_its_papers_and_none_is_read_whole() -> None:
    size = SMALL_SEGMENT + 10
    papers = synthetic_papers(4 * size + 30, datetime(2024, 11, 28, tzinfo=UTC))
    named = [(f"{p.id}@d", p) for p in papers]
    parts = [build_segment(f"s{i}", named[i * size : (i + 1) * size]) for i in range(4)]
    head = WordsHead("g0", {s.name: sorted(s.categories) for s in parts}, len(papers) - 30)
    gone = named[5][0]  # one member no longer stored
    placed = {n: (p.announced, p.id) for n, p in named if n != gone}
    asked: list[list[str]] = []

    def read(names: list[str]) -> dict[str, Paper]:
        asked.append(names)
        return {}

    def postings(segments: list[str]) -> dict[str, dict[str, str]]:
        return {s.name: s.postings for s in parts if s.name in segments}

    new = dict(named[-30:])
    plan = plan_words("g1", head, {s.name: s.members for s in parts}, placed, new, read, postings)
    assert asked == []
    assert plan.dropped == [s.name for s in parts]
    expected = build_segment("g1", [(n, p) for n, p in named if n != gone])
    assert plan.segment == expected


def test_an_index_made_by_other_rules_covers_nothing_and_the_next_save_indexes_every_paper_again(
    store: Store, stored: list[Paper]
) -> None:
    """Folding or tokens changed (a new MATCHING_VERSION, say): a paper's words are not what its
    segment says, and a paper whose stored version did not change is not written again. Until
    the next save indexes them all anew, readers read every paper, as before the index."""
    papers = stored[:300]
    store.save_papers(papers)
    before = store.load_words()
    _set_rules(store, "1.0")  # what an earlier version of the rules wrote
    assert store.load_words() == WordsHead()
    store.save_catalog(store.load_index(), {})  # a next-day refresh that changed nothing
    head = store.load_words()
    assert head.covers
    assert not set(head.segments) & set(before.segments)
    assert sorted(n for m in store.load_members(list(head.segments)).values() for n in m) == sorted(_names(papers))
    if isinstance(store, UpstashStore):  # the old segments retire, as any dropped segment
        assert set(head.retired) == set(before.segments)


def _set_rules(store: Store, rules: str) -> None:
    """Rewrite the stored head as if the word index had been made by these rules."""
    if isinstance(store, SqliteStore):
        with store._connect() as conn:
            raw = conn.execute("SELECT value FROM state WHERE key = 'words'").fetchone()[0]
            conn.execute(
                "UPDATE state SET value = ? WHERE key = 'words'", (json.dumps({**json.loads(raw), "rules": rules}),)
            )
    else:
        assert isinstance(store, UpstashStore)
        raw = store.redis.call("GET", WORDS)
        store.redis.call("SET", WORDS, json.dumps({**json.loads(raw), "rules": rules}))


def _forget_the_index(store: Store) -> None:
    """What a store written by a version before the word index holds: no index at all."""
    if isinstance(store, SqliteStore):
        with store._connect() as conn:
            conn.execute("DELETE FROM word_postings")
            conn.execute("DELETE FROM word_segments")
            conn.execute("DELETE FROM state WHERE key = 'words'")
    else:
        assert isinstance(store, UpstashStore)
        keys = store.redis.call("KEYS", f"{WORDS}*")
        store.redis.call("DEL", *keys)


def test_a_save_indexing_more_than_a_segment_of_old_papers_leaves_the_rest_to_the_next() -> None:
    """A store of any size is indexed in steps of at most MAX_SEGMENT papers read whole; until
    the last, the head covers no generation (readers read every paper)."""
    papers = {f"2411.{n:05d}@d": make_paper(id=f"2411.{n:05d}") for n in range(3)}
    asked: list[list[str]] = []

    def read(names: list[str]) -> dict[str, Paper]:
        asked.append(names)
        return {n: papers[n] for n in names}

    placed = {n: (p.announced, p.id) for n, p in papers.items()}
    first = plan_words("g1", WordsHead(), {}, placed, {}, read, _no_merge, cap=2)
    assert first.head.covers == ""
    assert first.segment is not None
    assert len(first.segment.members) == 2
    members = {"g1": list(first.segment.members)}
    second = plan_words("g2", first.head, members, placed, {}, read, _no_merge, cap=2)
    assert second.head.covers == "g2"
    assert second.segment is not None
    assert len(second.segment.members) == 1
    assert asked == [list(papers)[:2], list(papers)[2:]]
    assert MAX_SEGMENT >= 10_000


def test_a_segment_of_a_stored_head_missing_from_the_store_is_dropped_and_its_papers_indexed_again() -> None:
    papers = {"a@1": make_paper(id="2411.00001"), "b@1": make_paper(id="2411.00002")}
    head = WordsHead("g1", {"g1": ["cs.AI"], "g0": ["cs.AI"]}, 2)
    placed = {n: (p.announced, p.id) for n, p in papers.items()}
    plan = plan_words("g2", head, {"g1": ["a@1"]}, placed, {}, lambda names: {n: papers[n] for n in names}, _no_merge)
    assert plan.kept == ["g1"]
    assert plan.dropped == ["g0"]
    assert plan.segment is not None
    assert plan.segment.members == ("b@1",)
    assert plan.head.covers == "g2"
    assert set(plan.head.segments) == {"g1", "g2"}


def test_upstash_retired_segments_go_at_the_next_save_and_so_does_a_dead_saves(
    shim: UpstashShim, stored: list[Paper]
) -> None:
    """A save's dropped segments stay for readers of the generation before it and go at the
    next save (as retired paper versions do); a segment written by a save that died before its
    switch is named in arb:words-pending, and the next save deletes it."""
    store = UpstashStore(shim.url, shim.token)
    store.save_papers(stored[:SMALL_SEGMENT])
    store.save_papers(stored)
    first = set(store.load_words().segments)
    assert len(first) == 2
    store.save_papers(stored[250:])  # the first segment's papers are gone, the second is small
    head = store.load_words()
    assert set(head.retired) == first
    assert all(_segment_key_count(store, s) > 1 for s in first)  # still there for readers

    def die_at_the_switch(request: Request) -> None:
        if request.path.startswith("/multi-exec"):
            raise ConnectionError("the function was stopped")

    shim.fault = die_at_the_switch
    with pytest.raises(StoreError):
        store.save_papers([*stored[250:], *_revised(stored[:SMALL_SEGMENT])])
    shim.fault = None
    (orphan,) = json.loads(store.redis.call("GET", WORDS_PENDING))
    assert _segment_key_count(store, orphan) > 1
    assert store.load_words() == head  # the old index still serves

    store.save_papers(stored[250:])
    head = store.load_words()
    assert all(_segment_key_count(store, s) == 0 for s in first | {orphan})
    assert {k.split(":")[2] for k in store.redis.call("KEYS", f"{WORDS}:*")} == {*head.segments, *head.retired}


def test_upstash_segments_whose_removal_failed_are_removed_by_the_next_save(
    shim: UpstashShim, stored: list[Paper]
) -> None:
    store = UpstashStore(shim.url, shim.token)
    later = _revised(stored[:SMALL_SEGMENT])
    store.save_papers(stored)
    store.save_papers(later)  # none of the first day's papers is left: its segment is retired
    (retired,) = store.load_words().retired

    def refuse_the_removal(request: Request) -> None:
        if b'"DEL"' in request.body and retired.encode() in request.body:
            raise ConnectionError("the function was stopped")

    shim.fault = refuse_the_removal
    with pytest.raises(StoreError):
        store.save_papers(later)
    shim.fault = None
    assert _segment_key_count(store, retired) > 1
    store.save_papers(later)
    assert _segment_key_count(store, retired) == 0


def _segment_key_count(store: UpstashStore, segment: str) -> int:
    return len(store.redis.call("KEYS", f"{WORDS}:{segment}:*"))


def test_upstash_spreads_a_large_segment_over_hashes_no_bigger_than_its_list_of_names(
    shim: UpstashShim, stored: list[Paper]
) -> None:
    shim.max_record_bytes = 60_000
    store = UpstashStore(shim.url, shim.token)
    store.save_papers(stored)
    head = store.load_words()
    (segment,) = head.segments
    assert head.shard_count(segment) > 4
    shim.reset_counts()  # a word's forms in every field, and a topic's categories: one hash each
    store.load_postings(head, ["w:agent", "w:agents", "w:agentes", "t:agent", "t:agents", "t:agentes"])
    store.load_postings(head, ["c:cs.AI", "c:cs.CL", "c:cs.LG", "c:cs.CV"])
    assert shim.commands["HMGET"] == 2
    assert _holders(store, "w:learning") == {
        n for n, p in zip(_names(stored), stored, strict=True) if "w:learning" in paper_tokens(p)
    }


def _holders_of(store: Store, tokens: list[str]) -> dict[str, set[str]]:
    """``_holders`` of each token, in one read of the index."""
    head = store.load_words()
    members = store.load_members(list(head.segments))
    found = store.load_postings(head, tokens)
    dead = {(s, o) for s, gone in head.dead.items() for o in decode(gone)}
    held: dict[str, set[str]] = {t: set() for t in tokens}
    for (segment, token), ordinals in found.items():
        held[token] |= {members[segment][o] for o in decode(ordinals) if (segment, o) not in dead}
    return held


# What a refresh's save may do to the stored papers: a new day, titles revised, a revision
# taken back, the oldest day aging out, a few summaries, nothing at all.
SAVES = st.lists(st.sampled_from(["day", "revise", "back", "age", "summaries", "same"]), min_size=2, max_size=6)
QUERIES = ["abs:agent OR ti:zymurgy", "learning ANDNOT cat:cs.CL", 'ti:"language model"^2 OR au:wang']
WORD_CONFIG = parse_config({"categories": ["cs.AI", "cs.LG", "cs.CL"], "keywords": ["LLM"], "max_papers": 20})


@pytest.mark.slow  # Hypothesis over real data: seconds
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(saves=SAVES, seed=st.integers(0, 1_000))
def test_any_run_of_saves_indexes_every_stored_version_by_its_words_and_no_other(
    store: Store, stored: list[Paper], saves: list[str], seed: int
) -> None:
    """Whatever a run of saves does (and whatever an earlier run left in the store), every
    stored version is found by each of its tokens, no other version is, and a feed read
    through the index is the feed of every stored paper."""
    rng = random.Random(seed)
    days = [
        [
            p.model_copy(update={"id": f"25{k + 1:02d}.{i:05d}", "announced": p.announced + timedelta(k)})
            for i, p in enumerate(rng.sample(stored, min(len(stored), rng.choice([20, 150, 400]))))
        ]
        for k in range(len(saves))
    ]
    current: list[Paper] = []
    earlier: dict[str, Paper] = {}  # a revised paper's version before
    for n, save in enumerate(saves):
        if save == "day" or not current:
            current, save = days[n] + current, "day"
        elif save == "revise":
            for i in rng.sample(range(len(current)), min(len(current), 12)):
                title = f"Zymurgy {current[i].display_title}"
                earlier[current[i].id] = current[i]
                current[i] = current[i].model_copy(update={"title": title, "title_text": title})
        elif save == "back":
            current = [earlier.pop(p.id, p) for p in current]
        elif save == "age":
            oldest = min(p.announced for p in current)
            current = [p for p in current if p.announced > oldest] or current[:1]
        elif save == "summaries":
            for i in rng.sample(range(len(current)), min(len(current), 3)):
                current[i] = current[i].model_copy(update={"abstract_text": current[i].display_abstract + " Agent."})
        if save == "same":
            store.save_catalog(store.load_index(), {})
        else:
            store.save_papers(current)
        assert store.load_words().covers, saves[: n + 1]
        holding = {name: paper_tokens(p) for name, p in zip(_names(current), current, strict=True)}
        sample = [t for name in rng.sample(sorted(holding), min(len(holding), 3)) for t in holding[name]]
        tokens = sorted({*sample, "t:zymurgy", "w:agent", "c:cs.CL", "f:cs.LG", "u:wang"})
        for token, held in _holders_of(store, tokens).items():
            assert held == {name for name, has in holding.items() if token in has}, (saves[: n + 1], token)
    reader = WordIndex().reader(store, store.load_version())
    assert reader is not None
    for q in QUERIES:
        query = FeedQuery.from_params(q=q)
        search = search_of(query, WORD_CONFIG)
        assert search is not None
        found = find(search, reader, lambda papers, query=query: select_papers(papers, WORD_CONFIG, query))
        assert found == select_papers(current, WORD_CONFIG, query), (saves, q)
