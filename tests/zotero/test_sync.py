"""core.zotero.sync: a library into liked papers, asking only for what changed (loopback Zotero, both stores)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from core.config import ZoteroConfig
from core.settings import Settings
from core.store import Store
from core.zotero import ZoteroSync, sync
from core.zotero.sync import MAX_TEXTS
from tests.zotero.conftest import KEY, USER, Clock
from tests.zotero_fake import FakeZotero

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)
LIBRARY = ZoteroConfig(library_type="user", library_id=USER.split("/")[1])


def zotero_settings(settings: Settings, fake: FakeZotero, key: str | None = KEY) -> Settings:
    return replace(settings, zotero_api_base=fake.server.url, api_keys={"ZOTERO_API_KEY": key} if key else {})


def run(
    fake: FakeZotero, settings: Settings, store: Store, clock: Clock, config: ZoteroConfig = LIBRARY, **kw: object
) -> ZoteroSync:
    kw.setdefault("now", NOW)
    return sync(config, zotero_settings(settings, fake), store, clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]


def asked(fake: FakeZotero, since: int = 0) -> list[tuple[str, dict[str, str]]]:
    """The requests made from the ``since``-th on: path and query."""
    return [(urlsplit(r.path).path, dict(parse_qsl(urlsplit(r.path).query))) for r in fake.requests[since:]]


def add_papers(fake: FakeZotero, count: int) -> None:
    """``count`` items of the user's library, each an arXiv paper by its abstract's address."""
    for n in range(count):
        fake.add(USER, url=f"https://arxiv.org/abs/2403.{n:05d}", title=f"Paper {n}")


def fill(fake: FakeZotero) -> dict[str, str]:
    """A library as researchers keep one: arXiv papers by URL, DOI, Archive ID and Extra, a
    journal paper with no arXiv id, a note and an attachment (child items)."""
    keys = {
        "url": fake.add(USER, url="http://arxiv.org/abs/2401.00001v2", title="By URL"),
        "doi": fake.add(USER, DOI="10.48550/arXiv.2401.00002", title="By DOI"),
        "archive": fake.add(USER, "preprint", archiveID="arXiv:2401.00003", title="By Archive ID"),
        "extra": fake.add(USER, extra="arXiv: 2401.00004", title="By Extra"),
        "none": fake.add(USER, title="Protein folding", abstractNote="Structures of proteins."),
    }
    fake.add(USER, "note", note="<p>read again</p>", parentItem=keys["url"])
    fake.add(USER, "attachment", url="https://arxiv.org/pdf/2401.09999", parentItem=keys["url"])
    return keys


def test_a_first_sync_reads_every_paper_and_skips_notes_and_attachments(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    keys = fill(zotero)
    result = run(zotero, settings, store, clock)
    assert result.error == ""
    assert sorted(result.ids) == ["2401.00001", "2401.00002", "2401.00003", "2401.00004"]
    assert "2401.09999" not in result.ids  # the attachment's link is no liked paper
    assert [(p.id, p.title, p.abstract) for p in result.papers] == [
        (f"zotero:{keys['none']}", "Protein folding", "Structures of proteins.")
    ]
    assert result.version == zotero.libraries[USER].version
    assert "4 papers by arXiv id, 1 by title and abstract" in result.note
    path, query = asked(zotero)[0]
    assert path == f"/{USER}/items"
    assert query["limit"] == "100"
    assert query["includeTrashed"] == "1"
    assert len(zotero.requests) == 1  # nothing to compare with yet: no /deleted
    assert store.load_zotero().version == result.version


def test_an_unchanged_library_costs_one_304(zotero: FakeZotero, settings: Settings, store: Store, clock: Clock) -> None:
    fill(zotero)
    first = run(zotero, settings, store, clock)
    second = run(zotero, settings, store, clock, now=NOW + timedelta(days=1))
    assert len(zotero.requests) == 2
    assert zotero.requests[1].headers["if-modified-since-version"] == str(first.version)
    assert second.ids == first.ids
    assert second.papers == first.papers
    assert second.error == ""
    assert "unchanged since version" in second.note
    assert store.load_zotero().synced_at == NOW + timedelta(days=1)


def test_a_second_sync_asks_only_for_what_changed_and_drops_what_left(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    keys = fill(zotero)
    first = run(zotero, settings, store, clock)
    done = len(zotero.requests)
    added = zotero.add(USER, url="https://arxiv.org/abs/2402.00005", title="New")
    zotero.change(USER, keys["none"], extra="arXiv:2402.00006")  # its arXiv id found later
    zotero.trash(USER, keys["doi"])
    zotero.delete(USER, keys["url"])
    second = run(zotero, settings, store, clock)
    assert sorted(second.ids) == ["2401.00003", "2401.00004", "2402.00005", "2402.00006"]
    assert second.papers == []
    (_, items_query), (deleted_path, deleted_query) = asked(zotero, done)
    assert items_query["since"] == str(first.version)
    assert deleted_path == f"/{USER}/deleted"
    assert deleted_query == {"since": str(first.version)}
    assert added in store.load_zotero().ids
    assert keys["doi"] not in store.load_zotero().ids
    assert second.version == zotero.libraries[USER].version


def test_a_large_library_is_read_page_by_page(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    add_papers(zotero, 250)
    result = run(zotero, settings, store, clock)
    assert len(result.ids) == 250
    assert len(zotero.requests) == 3
    assert [q.get("start") for _, q in asked(zotero)] == [None, "100", "200"]


def test_a_sync_cut_short_goes_on_where_it_stopped(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    add_papers(zotero, 250)
    first = run(zotero, settings, store, clock, max_pages=2)
    assert len(first.ids) == 200
    assert "the next refresh goes on" in first.note
    assert first.version == 0
    second = run(zotero, settings, store, clock, max_pages=2)
    assert len(second.ids) == 250
    assert second.version == zotero.libraries[USER].version
    assert asked(zotero, 2)[0][1]["start"] == "200"  # not read again from the start
    assert store.load_zotero().resume == 0


def test_a_library_changed_between_two_parts_of_a_sync_is_read_again(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    add_papers(zotero, 150)
    run(zotero, settings, store, clock, max_pages=1)
    zotero.add(USER, url="https://arxiv.org/abs/2404.00001", title="Added meanwhile")
    result = run(zotero, settings, store, clock)
    assert len(result.ids) == 151
    assert result.version == zotero.libraries[USER].version


def test_a_library_changed_while_it_is_paged_is_read_again_from_the_start(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    add_papers(zotero, 250)
    newest = list(zotero.libraries[USER].items)[-1]  # on the first page, read before the change
    zotero.before[2] = lambda: (zotero.delete(USER, newest), zotero.add(USER, url="https://arxiv.org/abs/2404.00002"))
    result = run(zotero, settings, store, clock)
    assert len(result.ids) == 250  # one deleted, one added: paging on would have skipped an item
    assert "2404.00002" in result.ids
    assert "2403.00249" not in result.ids  # deleted after it was read
    assert [q.get("start") for _, q in asked(zotero)] == [None, "100", None, "100", "200"]
    assert result.version == zotero.libraries[USER].version


def test_a_collection_follows_its_members(zotero: FakeZotero, settings: Settings, store: Store, clock: Clock) -> None:
    inside = zotero.add(USER, url="https://arxiv.org/abs/2405.00001", title="In", collections=["COLL2345"])
    zotero.add(USER, url="https://arxiv.org/abs/2405.00002", title="Out")
    config = LIBRARY.model_copy(update={"collection": "COLL2345"})
    assert run(zotero, settings, store, clock, config).ids == ["2405.00001"]
    assert asked(zotero)[0][0] == f"/{USER}/collections/COLL2345/items"
    zotero.change(USER, inside, collections=[])  # taken out of the collection, not deleted
    result = run(zotero, settings, store, clock, config)
    assert result.ids == []
    assert result.error == ""
    assert ("format", "keys") in asked(zotero)[-1][1].items()


def test_another_library_starts_afresh(zotero: FakeZotero, settings: Settings, store: Store, clock: Clock) -> None:
    fill(zotero)
    run(zotero, settings, store, clock)
    zotero.library("groups/7", key=KEY)
    zotero.add("groups/7", url="https://arxiv.org/abs/2406.00001", title="Group paper")
    result = run(zotero, settings, store, clock, ZoteroConfig(library_type="group", library_id="7"))
    assert result.ids == ["2406.00001"]
    assert "if-modified-since-version" not in zotero.requests[-1].headers


def test_a_bad_key_is_an_error_in_the_result_and_keeps_the_last_likes(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    fill(zotero)
    good = run(zotero, settings, store, clock)
    zotero.add(USER, title="Changed")
    bad = sync(
        LIBRARY,
        zotero_settings(settings, zotero, key="k-7f3a9c-no-longer-valid"),
        store,
        NOW,
        clock=clock,
        sleep=clock.sleep,
    )
    assert "refused the key in ZOTERO_API_KEY" in bad.error
    assert "zotero.org/settings/keys" in bad.error
    assert "k-7f3a9c" not in bad.error  # the key itself is never shown
    assert bad.ids == good.ids
    assert bad.papers == good.papers
    assert bad.version == good.version
    assert store.load_zotero().version == good.version


def test_no_key_for_a_private_library_says_to_set_one(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    result = sync(LIBRARY, zotero_settings(settings, zotero, key=None), store, NOW, clock=clock, sleep=clock.sleep)
    assert "set ZOTERO_API_KEY" in result.error
    assert result.ids == []


def test_a_library_that_does_not_exist_is_an_error_naming_the_keys_to_check(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    result = run(zotero, settings, store, clock, ZoteroConfig(library_type="group", library_id="404"))
    assert "Zotero has no library groups/404" in result.error
    assert "zotero.library_id" in result.error


def test_a_long_backoff_keeps_the_progress_and_waits_for_the_next_refresh(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    add_papers(zotero, 150)
    zotero.backoff = 600
    first = run(zotero, settings, store, clock)
    assert len(first.ids) == 100
    assert first.error == ""
    assert "Backoff" in first.note
    assert clock.slept == []
    assert len(zotero.requests) == 1
    kept = store.load_zotero()
    assert kept.not_before == NOW + timedelta(seconds=600)
    assert kept.resume == 100
    early = run(zotero, settings, store, clock, now=NOW + timedelta(minutes=5))
    assert len(zotero.requests) == 1
    assert "wait until" in early.note
    assert len(early.ids) == 100
    zotero.backoff = None
    later = run(zotero, settings, store, clock, now=NOW + timedelta(hours=7))
    assert len(later.ids) == 150
    assert store.load_zotero().not_before is None


def test_a_short_retry_after_is_waited_within_the_sync(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    fill(zotero)
    zotero.rate_limited.append(2)
    result = run(zotero, settings, store, clock)
    assert len(result.ids) == 4
    assert clock.slept == [2.0]


def test_items_without_an_id_are_kept_up_to_a_cap_and_the_rest_counted(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    for n in range(MAX_TEXTS + 3):
        zotero.add(USER, "book", title=f"Book {n}", abstractNote="About things.")
    result = run(zotero, settings, store, clock)
    assert len(result.papers) == MAX_TEXTS
    assert "3 more without an arXiv id left out" in result.note
    assert len(zotero.requests) == 11  # 1,003 items, 100 a page


def test_a_sync_with_no_time_left_asks_nothing_and_keeps_the_record(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    fill(zotero)
    first = run(zotero, settings, store, clock)
    zotero.add(USER, url="https://arxiv.org/abs/2407.00001", title="Later")
    late = run(zotero, settings, store, clock, deadline=clock.now)
    assert len(zotero.requests) == 1
    assert "no time left" in late.note
    assert late.error == ""
    assert late.ids == first.ids
    assert store.load_zotero().version == first.version


def test_a_deleted_answer_of_another_shape_empties_nothing(
    zotero: FakeZotero, settings: Settings, store: Store, clock: Clock
) -> None:
    fill(zotero)
    first = run(zotero, settings, store, clock)
    zotero.add(USER, url="https://arxiv.org/abs/2408.00001", title="New")
    zotero.broken_deleted = True
    second = run(zotero, settings, store, clock)
    assert second.error == f"Zotero's /deleted answer for {USER} is not the documented object"
    assert set(first.ids) < set(second.ids)  # nothing removed; the page read is kept
    assert store.load_zotero().version == first.version  # asked again at the next refresh
