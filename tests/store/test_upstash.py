"""Upstash faults and limits, against the real client, the REST shim and a real redis-server.

Wrong token, a slow store past the timeout, and Redis stopped in the middle of a refresh:
each gives a clear error (503 on the wire) and loses nothing. Upstash's documented limits (10 MB
a request or answer, 100 MB a record) never fail a save or a read, and a store of the old
layout is moved to the new one without losing anything, wherever the move is cut short.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.config import Config
from core.errors import StoreError
from core.models import Entry, LikedSet, Paper, Summary
from core.refresh import refresh
from core.settings import Settings
from core.store import open_store
from core.store.records import encode_entry, encode_paper, stored_name
from core.store.upstash import UpstashStore
from core.web.app import create_app
from tests.arxiv_fake import COMBINED, FakeArxiv, read
from tests.loopback import Request
from tests.papers import make_paper, stored
from tests.redis_server import RedisServer
from tests.upstash_shim import UpstashShim


def assert_store_error_on_the_wire(settings: Settings, store: UpstashStore) -> None:
    with TestClient(create_app(settings, store)) as client:
        for path in ("/rss", "/atom/cs.AI", "/", "/health"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["retry-after"] == "60"
            assert "Traceback" not in response.text
            assert "test-token" not in response.text
        body = client.get("/rss").json()
        assert body["stage"] == "store"
        assert "Upstash" in body["error"]


@pytest.mark.slow
def test_a_wrong_token_is_a_clear_error_and_touches_nothing(
    shim: UpstashShim, settings: Settings, config: Config, arxiv_server: FakeArxiv
) -> None:
    good = UpstashStore(shim.url, shim.token)
    refresh(config, settings, good)
    before = good.load_papers()
    bad = UpstashStore(shim.url, "not-the-token")
    with pytest.raises(StoreError, match="WRONGPASS"):
        bad.load_papers()
    with pytest.raises(StoreError):
        refresh(config, settings, bad)
    assert len(arxiv_server.requests) == 1  # the failed refresh never reached arXiv
    assert_store_error_on_the_wire(settings, bad)
    assert good.load_papers() == before


@pytest.mark.slow
def test_a_slow_store_times_out_and_loses_nothing(shim: UpstashShim, settings: Settings, config: Config) -> None:
    good = UpstashStore(shim.url, shim.token)
    refresh(config, settings, good)
    before = good.load_papers()
    shim.delay_s = 1.0
    slow = UpstashStore(shim.url, shim.token, timeout_s=0.2)
    with pytest.raises(StoreError, match=r"no answer within 0.2 s \(timed out\)"):
        slow.load_papers("cs.AI")
    with pytest.raises(StoreError, match="timed out"):
        refresh(config, settings, slow)
    assert_store_error_on_the_wire(settings, slow)
    shim.delay_s = 0.0
    assert good.load_papers() == before


def test_store_timeout_s_bounds_every_upstash_call(shim: UpstashShim, settings: Settings) -> None:
    """STORE_TIMEOUT_S reaches the HTTP client: an Upstash that stalls 20 s answers 503 in about 0.3 s."""
    env = {"UPSTASH_REDIS_REST_URL": shim.url, "UPSTASH_REDIS_REST_TOKEN": shim.token, "STORE_TIMEOUT_S": "0.3"}
    store = open_store(Settings.from_env(env))
    shim.delay_s = 20.0
    with TestClient(create_app(settings, store)) as client:
        started = time.monotonic()
        response = client.get("/rss")
        elapsed = time.monotonic() - started
    shim.delay_s = 0.0
    assert response.status_code == 503
    assert "no answer within 0.3 s (timed out)" in response.json()["error"]
    assert elapsed < 5.0, f"the 0.3 s timeout did not apply: {elapsed:.1f} s"


@pytest.fixture
def persistent(tmp_path: Path) -> Iterator[tuple[RedisServer, UpstashShim]]:
    server = RedisServer(tmp_path / "redis", persistent=True).start()
    shim = UpstashShim(server.port)
    with shim.server:
        yield server, shim
    server.stop()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("endpoint", "failure"),
    [
        pytest.param("/pipeline", "write of new papers", id="while-writing-the-new-generation"),
        pytest.param("/multi-exec", "switch to the new papers", id="at-the-generation-switch"),
    ],
)
def test_redis_stopped_mid_refresh_keeps_the_last_good_feed(
    persistent: tuple[RedisServer, UpstashShim],
    settings: Settings,
    config: Config,
    arxiv_server: FakeArxiv,
    endpoint: str,
    failure: str,
) -> None:
    server, shim = persistent
    store = UpstashStore(shim.url, shim.token)
    refresh(config, settings, store)
    before, state = store.load_papers(), store.load_state()

    # A new day with a revised paper; Redis goes down in the middle of saving it.
    arxiv_server.serve(read(COMBINED).replace(b"oai:arXiv.org:2411.18077v1", b"oai:arXiv.org:2411.18077v2"))

    def stop_at(request: Request) -> None:
        if request.path.startswith(endpoint):
            server.stop()

    shim.fault = stop_at
    with pytest.raises(StoreError, match=failure):
        refresh(config, settings, store)
    shim.fault = None
    assert_store_error_on_the_wire(settings, store)

    server.start()  # same port, same append-only file
    assert store.load_papers() == before
    assert store.load_state() == state  # the failed refresh could not record itself either
    deadline_lock = store.acquire_lock("probe", 1)
    assert not deadline_lock  # the dead refresh's lock is still there: it expires, it is not stolen


def test_writes_are_split_into_bounded_batches_in_order() -> None:
    from core.store.upstash import _sized_batches

    items = ["x" * 10] * 7 + ["y" * 50, "z"]
    batches = _sized_batches(items, len, limit=30)
    assert [len(b) for b in batches] == [3, 3, 1, 1, 1]
    assert all(sum(map(len, b)) <= 30 for b in batches if len(b) > 1)
    assert [i for b in batches for i in b] == items


def test_big_saves_go_in_several_requests_and_read_back_in_order(shim: UpstashShim) -> None:
    from tests.papers import make_paper

    store = UpstashStore(shim.url, shim.token)
    papers = [make_paper(f"Paper {i}", "word " * 2000, id=f"2411.{i:05d}", listed_in=["cs.AI"]) for i in range(600)]
    shim.reset_counts()
    store.save_papers(papers)  # about 6 MB per list: more than one request may carry
    assert shim.round_trips >= 4
    assert [p.id for p in store.load_papers("cs.AI")] == [p.id for p in papers]
    assert [p.id for p in store.load_papers(None, limit=3)] == [p.id for p in papers[:3]]
    store.save_papers([])
    assert store.load_papers() == []
    assert store.load_status()[1] == 0


def synthetic_papers(count: int, day: datetime) -> list[Paper]:
    """Papers of a realistic size (a 1.5 KB abstract each), listed under cs.AI or cs.LG."""
    words = [
        "we",
        "propose",
        "a",
        "method",
        "for",
        "large",
        "language",
        "model",
        "agents",
        "and",
        "evaluate",
        "it",
        "on",
        "benchmarks",
    ]
    return [
        make_paper(
            f"Paper {n} on " + " ".join(words[n % 7 : n % 7 + 5]),
            abstract=" ".join(words[(n + k) % len(words)] for k in range(220)),
            id=f"2411.{n:05d}",
            announced=day,
            categories=["cs.AI" if n % 2 else "cs.LG"],
            listed_in=["cs.AI" if n % 2 else "cs.LG"],
        )
        for n in range(count)
    ]


@pytest.mark.slow
def test_a_store_past_10_mb_still_saves_and_serves(shim: UpstashShim, settings: Settings) -> None:
    """6,000 papers (over 10 MB of JSON) — one whole-list read would pass Upstash's 10 MB limit."""
    store = UpstashStore(shim.url, shim.token)
    papers = synthetic_papers(6_000, datetime(2024, 11, 28, tzinfo=UTC))
    assert sum(len(p.model_dump_json()) for p in papers) > 10_000_000
    store.save_papers(papers)
    assert [p.id for p in store.load_papers()] == [p.id for p in papers]
    assert len(store.load_papers("cs.AI")) == 3_000
    with TestClient(create_app(settings, store)) as client:
        assert client.get("/rss?q=abs:agents&min_score=0").status_code == 200
        assert client.get("/rss/cs.LG?limit=200&min_score=0").text.count("<item>") == 200


def test_a_save_writes_only_new_or_changed_papers(shim: UpstashShim) -> None:
    store = UpstashStore(shim.url, shim.token)
    day = datetime(2024, 11, 28, tzinfo=UTC)
    papers = synthetic_papers(1_000, day)
    store.save_papers(papers)
    shim.reset_counts()
    store.save_papers(papers)  # nothing changed: only the order is written again
    unchanged = shim.bytes_in
    assert unchanged < 100_000, unchanged  # names in two lists, not papers (1,000 papers: 1.7 MB)
    changed = [papers[0].model_copy(update={"title": "Revised"}), *papers[1:], *synthetic_papers(1_010, day)[1_000:]]
    shim.reset_counts()
    store.save_papers(changed[:-5] + changed[-5:])
    assert shim.bytes_in < unchanged + 11 * 3_000  # the 1 revised and 10 new papers
    assert stored(store, papers[0].id).title == "Revised"  # type: ignore[union-attr]
    store.save_papers(changed[500:])  # 500 papers leave the window
    assert stored(store, papers[0].id) is None
    store.save_papers(changed[500:])  # versions no generation uses go one save later
    assert len(store.redis.call("KEYS", "arb:paper:*")) == len(store.redis.call("KEYS", "arb:entry:*")) == 510


def test_big_vectors_and_summaries_go_and_come_in_requests_under_10_mb(shim: UpstashShim) -> None:
    """1,000 vectors of 4,096 dimensions (22 MB) and 200 summaries at the reply cap (13 MB)."""
    store = UpstashStore(shim.url, shim.token)
    vectors = {f"m:4096:2411.{n:05d}v1": base64.b64encode(bytes([n % 256]) * 4 * 4096).decode() for n in range(1_000)}
    store.save_vectors(vectors)
    assert store.load_vectors(list(vectors)) == vectors
    made = datetime(2024, 11, 28, tzinfo=UTC)
    summary = Summary(
        markdown="x" * 32_000, html="<p>" + "x" * 32_000 + "</p>", model="m", provider="p", language="en", created=made
    )
    summaries = {f"2411.{n:05d}v1:en:m:p1": summary for n in range(200)}
    store.save_summaries(summaries)
    assert store.load_summaries(list(summaries)) == summaries
    assert shim.max_request_bytes == 10_000_000  # every request and answer above passed the limit


# --- the layout that lasts: no key grows with the store -----------------------------------


def test_a_store_many_times_the_record_limit_still_saves(shim: UpstashShim) -> None:
    """Upstash refuses any key over 100 MB; here 100 KB, and 2,000 papers (3.4 MB) still save,
    change and read back: no key holds more than a paper, an entry or a list of names."""
    shim.max_record_bytes = 100_000
    store = UpstashStore(shim.url, shim.token)
    papers = synthetic_papers(2_000, datetime(2024, 11, 28, tzinfo=UTC))
    assert sum(len(p.model_dump_json()) for p in papers) > 30 * shim.max_record_bytes
    store.save_papers(papers)
    revised = [papers[0].model_copy(update={"title": "Revised"}), *papers[1:]]
    store.save_papers(revised)
    store.save_papers(revised)
    assert store.load_papers() == revised
    assert [p.id for p in store.load_papers("cs.AI", limit=5)] == [p.id for p in revised if p.id[-1] in "13579"][:5]


def test_papers_near_the_record_cap_are_stored_and_read_back(shim: UpstashShim) -> None:
    """Eight papers of 1.4 MB: a read of them all would pass Upstash's 10 MB answer limit, so a
    chunk whose answer is refused is read in halves."""
    store = UpstashStore(shim.url, shim.token)
    big = [make_paper(f"Big {n}", "word " * 280_000, id=f"2412.{n:05d}", listed_in=["cs.AI"]) for n in range(8)]
    papers = big + synthetic_papers(20, datetime(2024, 11, 28, tzinfo=UTC))
    store.save_papers(papers)
    assert store.load_papers() == papers
    assert store.load_whole(store.load_index()) == papers
    assert [p.id for p in store.load_papers("cs.AI", limit=9)] == [p.id for p in papers if "cs.AI" in p.listed_in][:9]


def test_a_paper_too_big_for_one_request_is_left_out_and_the_rest_saved(shim: UpstashShim) -> None:
    """An 11 MB abstract cannot go in any request (Upstash refuses requests over 10 MB): that
    paper is not written, every other one is, and a stored version of it stays."""
    store = UpstashStore(shim.url, shim.token)
    small = [make_paper(f"Paper {n}", id=f"2411.{n:05d}", listed_in=["cs.AI"]) for n in range(3)]
    store.save_papers(small)
    huge = small[1].model_copy(update={"abstract": "word " * 2_200_000, "version": 2})
    new_huge = make_paper("Huge", "word " * 2_200_000, id="2411.99999", listed_in=["cs.AI"])
    saved = store.save_papers([small[0], huge, new_huge, small[2]])
    assert [e.id for e in saved] == [p.id for p in small]
    assert store.load_papers("cs.AI") == small  # the stored version of the revised one stays
    assert shim.max_request_bytes == 10_000_000


def old_layout(store: UpstashStore, papers: list[Paper], retired: list[Paper]) -> None:
    """Write a store as the layout before this one did: every paper in the hash ``arb:paper``,
    every entry in ``arb:entry`` (each one Upstash record), lists of names per generation, and
    versions the last save retired named in the manifest."""
    redis, gen, lists = store.redis, "18f00000aabbcc", dict[str, list[str]]()
    papers_fields, entries_fields = [], []
    for n, paper in enumerate([*papers, *retired]):
        text, entry = encode_paper(paper)
        papers_fields += [stored_name(entry), text]
        entries_fields += [stored_name(entry), encode_entry(entry)]
        if n < len(papers):
            for feed in ["*", *paper.listed_in]:
                lists.setdefault(f"arb:{gen}:ids:{feed}", []).append(stored_name(entry))
    writes = [["HSET", "arb:paper", *papers_fields], ["HSET", "arb:entry", *entries_fields]]
    redis.pipeline([*writes, *[["RPUSH", key, *names] for key, names in lists.items()]])
    retired_names = [stored_name(encode_paper(p)[1]) for p in retired]
    manifest = {"gen": gen, "keys": sorted(lists), "count": len(papers), "retired": retired_names}
    redis.call("SET", "arb:manifest", json.dumps(manifest))


def test_a_store_of_the_old_layout_is_served_and_then_moved_by_saves(shim: UpstashShim) -> None:
    store = UpstashStore(shim.url, shim.token)
    day = datetime(2024, 11, 28, tzinfo=UTC)
    papers = synthetic_papers(30, day)
    old_layout(store, papers, retired=[papers[0].model_copy(update={"title": "Older"})])
    assert store.load_papers() == papers  # served as it is, before any save
    assert store.load_feed("cs.AI", 3)[1] == [p for p in papers if "cs.AI" in p.listed_in][:3]
    index = store.load_index()
    assert store.load_whole(index) == papers
    shown = synthetic_papers(32, day)[30:]
    store.save_catalog([*index, *map(Entry.of, shown)], {p.id: p for p in shown})  # the first save moves them
    assert store.load_papers() == [*papers, *shown]
    assert store.redis.call("EXISTS", "arb:paper", "arb:entry") == 2  # readers of the old generation
    store.save_papers([*papers, *shown])
    assert store.redis.call("EXISTS", "arb:paper", "arb:entry") == 0
    assert store.load_papers() == [*papers, *shown]
    assert len(store.redis.call("KEYS", "arb:paper:*")) == 32


@pytest.mark.slow
@pytest.mark.parametrize(
    ("saves_before", "stop_at", "failure"),
    [
        pytest.param(0, lambda body, seen: b'"MSET"' in body and seen == 2, "write", id="while-copying"),
        pytest.param(0, lambda body, _: b'["SET","arb:manifest"' in body, "switch", id="at-the-switch"),
        pytest.param(1, lambda body, _: b'"DEL","arb:paper","arb:entry"' in body, "switch", id="dropping-the-hashes"),
    ],
)
def test_a_move_killed_between_steps_loses_nothing(
    persistent: tuple[RedisServer, UpstashShim], saves_before: int, stop_at: Callable[[bytes, int], bool], failure: str
) -> None:
    """Redis goes away in the middle of the move: the old layout (or the new one, once switched
    to) stays live and whole, and the next save finishes the move."""
    server, shim = persistent
    store = UpstashStore(shim.url, shim.token)
    papers = synthetic_papers(2_500, datetime(2024, 11, 28, tzinfo=UTC))  # three chunks to copy
    old_layout(store, papers, retired=[])
    seen = 0

    def fault(request: Request) -> None:
        nonlocal seen
        seen += bool(request.body.count(b'"MSET"'))
        if stop_at(request.body, seen):
            server.stop()

    for _ in range(saves_before):  # the move done, for the save after it, which drops the old hashes
        store.save_papers(papers)
    shim.fault = fault
    with pytest.raises(StoreError, match=failure):
        store.save_papers(papers)
    shim.fault = None
    server.start()  # same port, same append-only file
    assert UpstashStore(shim.url, shim.token).load_papers() == papers  # nothing lost, still served
    store.save_papers(papers)
    store.save_papers(papers)
    assert store.redis.call("EXISTS", "arb:paper", "arb:entry") == 0
    assert UpstashStore(shim.url, shim.token).load_papers() == papers
    assert len(store.redis.call("KEYS", "arb:paper:*")) == len(papers)


@pytest.mark.slow
def test_an_11_mb_abstract_from_arxiv_does_not_fail_the_refresh(
    shim: UpstashShim, settings: Settings, config: Config, arxiv_server: FakeArxiv
) -> None:
    """A hostile or broken upstream entry, larger than any Upstash request: the refresh stores
    every other paper and says what it left out (or, where parsing caps text, stores it cut)."""
    feed = read(COMBINED).decode()
    items = feed.split("<item>")
    followed = (i for i, item in enumerate(items) if i and "<category>cs.AI</category>" in item)
    at = next(i for i in followed if "$" not in items[i] and "\\" not in items[i])  # no LaTeX to convert
    items[at] = items[at].replace("Abstract: ", "Abstract: " + "word " * 2_200_000, 1)
    big_id = items[at].split("<guid", 1)[1].split("oai:arXiv.org:", 1)[1].split("v", 1)[0]
    arxiv_server.serve("<item>".join(items).encode())
    store = UpstashStore(shim.url, shim.token)
    report = refresh(config, settings, store)
    stored_ids = {e.id for e in store.load_index()}
    assert report.stored == len(stored_ids) >= 366
    if big_id not in stored_ids:
        assert report.refused == 1
        assert big_id in store.load_state().message
    assert all(len(p.model_dump_json()) < 1_500_000 for p in store.load_papers())


def test_pruning_liked_papers_walks_the_keyspace_once(shim: UpstashShim, redis_server: RedisServer) -> None:
    """The liked records are listed in a set, so saving the liked set needs no SCAN over every
    paper's key (a key per paper version: 170,000 keys on a full free database). The records
    older versions wrote, listed nowhere, are swept by one SCAN, the first time."""
    store = UpstashStore(shim.url, shim.token)
    store.redis.call(
        "SET", "arb:liked:2411.00009", make_paper("Left by an older version", id="2411.00009").model_dump_json()
    )
    store.save_liked([make_paper("A", id="2411.00001"), make_paper("B", id="2411.00002")])
    store.save_liked_set(LikedSet(ids=["2411.00001"]))
    assert shim.commands["SCAN"] >= 1
    assert set(store.load_liked(["2411.00001", "2411.00002", "2411.00009"])) == {"2411.00001"}
    shim.reset_counts()
    store.save_liked([make_paper("C", id="2411.00003")])
    store.save_liked_set(LikedSet(ids=["2411.00003"]))
    assert shim.commands["SCAN"] == 0
    assert set(store.load_liked(["2411.00001", "2411.00003"])) == {"2411.00003"}
