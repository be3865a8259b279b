"""core.refresh.likes: liked papers from config.json, BibTeX and the arXiv API (a loopback answering
id_list with recorded answers), kept in the store; unknown ids reported, never fatal."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.config import MAX_BIBTEX_BYTES, load_config, parse_config
from core.errors import ConfigError
from core.models import Match, SimilarTo
from core.refresh import refresh
from core.refresh.likes import bibtex_refs, known, resolve
from core.settings import Settings
from core.store import Store
from core.text import limits
from core.web.app import create_app
from tests.arxiv_fake import API_TWO, FakeArxiv
from tests.conftest import TEST_CONFIG, no_wait
from tests.feed_rules import illegal_in_feeds
from tests.papers import make_paper
from tests.zotero_fake import FakeZotero

BIB = r"""
@article{vaswani2017,
  title = {Attention Is All You Need},
  author = {Vaswani, Ashish and Shazeer, Noam},
  eprint = {1706.03762v7},
  archivePrefix = {arXiv},
}
@misc{zotero, title = {{SALMONN}-omni}, url = {https://arxiv.org/abs/2411.18138v1}}
@article{datacite, title = {A paper}, doi = {10.48550/arXiv.2411.18320}}
@inproceedings{jabref, title = {Old style}, arxiv = {hep-th/9901001}}
@book{nobody, title = {Speech {Recognition} in the {Wild}}, abstract = {Robust speech recognition with noisy audio.}}
@misc{empty, note = {neither id nor title}}
"""


def test_bibtex_entries_are_taken_by_id_or_by_title_and_abstract() -> None:
    refs = {r.key: r for r in bibtex_refs(BIB)}
    assert {k: r.arxiv for k, r in refs.items()} == {
        "vaswani2017": "1706.03762",
        "zotero": "2411.18138",
        "datacite": "2411.18320",
        "jabref": "hep-th/9901001",
        "nobody": None,
    }
    paper = refs["nobody"].as_paper()
    assert paper.id == "bib:nobody"
    assert paper.display_title == "Speech Recognition in the Wild"
    assert "noisy audio" in paper.display_abstract


def test_an_eprint_of_elsewhere_does_not_hide_the_arxiv_url() -> None:
    bib = "@article{pubmed, title = {T}, eprint = {PMC1234567}, url = {https://arxiv.org/abs/2411.18138}}"
    assert [r.arxiv for r in bibtex_refs(bib)] == ["2411.18138"]


def test_bibtex_texts_are_cleaned_and_capped_at_parse_time() -> None:
    words = "word " * 10_000
    bib = f"@book{{huge, title = {{Huge\x0c {words}}}, abstract = {{Abstract\x01 {words * 10}}}}}"
    (ref,) = bibtex_refs(bib)
    assert len(ref.title) <= limits.TITLE
    assert len(ref.abstract) <= limits.ABSTRACT
    assert ref.title.startswith("Huge word")
    assert ref.abstract.endswith("word\u2026")
    assert ref.cut == ("title", "abstract")
    paper = ref.as_paper()
    assert "\x0c" not in paper.display_title
    assert "\x01" not in paper.display_abstract


def test_liked_ids_are_validated_and_versions_dropped(tmp_path: Path) -> None:
    config = parse_config({"like": ["2411.17775v2", "arXiv:hep-th/9901001", "https://arxiv.org/abs/2411.18138"]})
    assert config.like == ["2411.17775", "hep-th/9901001", "2411.18138"]
    with pytest.raises(ConfigError, match=r"key 'like\[1\]': '24111\.1' is not an arXiv id"):
        parse_config({"like": ["2411.17775", "24111.1"]})
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"like_bibtex": "likes.bib"}))
    with pytest.raises(ConfigError, match=r"'likes\.bib' names no file next to config\.json"):
        load_config(path)
    (tmp_path / "likes.bib").write_text(BIB)
    assert load_config(path).like_bibtex == "likes.bib"


def test_liked_papers_come_from_the_store_or_the_api_once(
    arxiv_server: FakeArxiv, settings: Settings, store: Store
) -> None:
    from core.arxiv.client import ArxivClient

    arxiv_server.api_answers["0808.05394,1707.08567"] = API_TWO  # one known, one not
    stored = [make_paper("Stored and liked", id="2411.00001")]
    with ArxivClient(settings, sleep=no_wait) as client:
        ids = ["2411.00001", "0808.05394", "1707.08567"]
        found = known(ids, stored, store)
        first = resolve(ids, found, store, client, settings.arxiv_api_base, ["cs.IT"])
        assert [p.id for p in first.papers] == ["2411.00001", "1707.08567"]
        assert first.missing == ["0808.05394"]
        assert len(arxiv_server.api_requests) == 1
        kept = store.load_liked(["1707.08567"])["1707.08567"]
        assert kept.display_title.startswith("Proceedings of Workshop AEW10")
        assert not kept.backfilled
        kept_found = known(["1707.08567"], [], store)
        again = resolve(["1707.08567"], kept_found, store, client, settings.arxiv_api_base, ["cs.IT"])
        assert [p.id for p in again.papers] == ["1707.08567"]
        assert len(arxiv_server.api_requests) == 1  # kept: not asked again


def test_a_refresh_resolves_the_likes_and_reports_the_unknown(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, tmp_path: Path
) -> None:
    (settings.config_path.parent / "likes.bib").write_text(BIB)
    config = parse_config({**TEST_CONFIG, "like": ["2411.18497", "0000.00000"], "like_bibtex": "likes.bib"})
    refresh(config, settings, store, now=datetime(2024, 11, 28, 15, tzinfo=UTC), sleep=no_wait)
    likes, kept = store.load_state().likes, store.load_liked_set()
    assert "2411.18497" in kept.ids  # stored
    assert "2411.18138" in kept.ids  # from BibTeX, stored
    assert "bib:nobody" in kept.ids  # BibTeX, by title and abstract
    assert likes.count == len(kept.ids)
    assert "0000.00000" in likes.missing
    assert "0000.00000" in kept.missing  # readers are told at once, arXiv is not asked for them
    assert "arXiv has no paper" in likes.message
    assert set(store.load_liked(kept.ids)) == set(kept.ids)


def test_liked_records_no_config_names_any_more_are_pruned(
    arxiv_server: FakeArxiv, settings: Settings, store: Store
) -> None:
    store.save_liked([make_paper("Liked by a reader once", id="2411.09999")])  # as ?like= used to keep them
    config = parse_config({**TEST_CONFIG, "like": ["2411.18497", "2411.18138"]})
    now = datetime(2024, 11, 28, 15, tzinfo=UTC)
    refresh(config, settings, store, now=now, sleep=no_wait)
    assert set(store.load_liked(["2411.18497", "2411.18138", "2411.09999"])) == {"2411.18497", "2411.18138"}
    fewer = parse_config({**TEST_CONFIG, "like": ["2411.18138"]})
    refresh(fewer, settings, store, now=now, sleep=no_wait)
    assert set(store.load_liked(["2411.18497", "2411.18138"])) == {"2411.18138"}
    assert store.load_liked_set().ids == ["2411.18138"]


def test_the_liked_ids_stay_out_of_the_state_every_version_check_reads(
    arxiv_server: FakeArxiv, settings: Settings, store: Store
) -> None:
    many = [f"2411.{n:05d}" for n in range(17700, 18200)]  # 500 ids, most of them stored papers
    config = parse_config({**TEST_CONFIG, "like": many})
    refresh(config, settings, store, now=datetime(2024, 11, 28, 15, tzinfo=UTC), sleep=no_wait)
    state = store.load_state()
    assert state.likes.count > 100
    assert len(state.model_dump_json()) < 10_000  # the ids are in the liked set, not here
    assert len(store.load_liked_set().ids) == state.likes.count


def test_ids_readers_asked_for_are_fetched_by_the_next_refresh_and_kept(
    arxiv_server: FakeArxiv, settings: Settings, store: Store
) -> None:
    for asked in ("1707.08567,0808.05394", "0808.05394,1707.08567"):  # in whichever order they are asked
        arxiv_server.api_answers[asked] = API_TWO  # one known, one not
    store.add_pending_likes(["0808.05394", "1707.08567"], 100)
    assert set(store.load_pending_likes()) == {"0808.05394", "1707.08567"}
    refresh(parse_config(TEST_CONFIG), settings, store, now=datetime(2024, 11, 28, 15, tzinfo=UTC), sleep=no_wait)
    kept = store.load_liked_set()
    assert kept.requested == ["1707.08567"]
    assert "0808.05394" in kept.missing
    assert store.load_pending_likes() == []  # answered: pending no more
    assert set(store.load_liked(["1707.08567"])) == {"1707.08567"}
    assert len([r for r in arxiv_server.api_requests if "1707.08567" in r.path]) == 1
    refresh(parse_config(TEST_CONFIG), settings, store, now=datetime(2024, 11, 28, 16, tzinfo=UTC), sleep=no_wait)
    assert store.load_liked_set().requested == ["1707.08567"]  # kept, and not asked again
    assert len([r for r in arxiv_server.api_requests if "1707.08567" in r.path]) == 1


def test_a_huge_bibtex_export_is_refused_with_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"like_bibtex": "library.bib"}))
    entries = "".join(
        f"@article{{k{n},\n  title = {{Paper {n}}},\n  eprint = {{2411.{n % 99999:05d}}},\n}}\n" for n in range(60_000)
    )
    (tmp_path / "library.bib").write_text(entries)
    assert (tmp_path / "library.bib").stat().st_size < MAX_BIBTEX_BYTES  # refused by its entries, not its size
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "'library.bib' has 60,000 entries; at most 2,000 are taken" in caught.value.message
    assert "Export Collection" in (caught.value.hint or "")
    (tmp_path / "library.bib").write_text("% padding\n" * 600_000)  # 6 MB: refused before it is read
    with pytest.raises(ConfigError, match=r"is 6\.0 MB; at most 5 MB is read"):
        load_config(path)


def test_liked_ids_in_all_are_capped() -> None:
    topics = [
        {"name": f"t{n}", "keywords": ["x"], "like": [f"24{n:02d}.{m:05d}" for m in range(300)]} for n in range(4)
    ]
    with pytest.raises(ConfigError, match=r"1,200 liked ids in all .* at most 1,000"):
        parse_config({"topics": topics})


def test_control_characters_in_a_bibtex_entry_never_reach_a_feed() -> None:
    """A BibTeX file is an inflow: a liked entry's title is shown in the feeds (the paper a
    paper is like), and is cleaned as the file is read."""
    (ref,) = bibtex_refs("@book{odd, title = {Speech\x01 in the\x0c Wild\x1b}}")
    liked = ref.as_paper()
    assert liked.display_title == "Speech in the Wild"
    like = SimilarTo(id=liked.id, title=liked.display_title, similarity=0.5, points=1.0)
    paper = make_paper("Wild speech", match=Match(similar=like, score=1.0))
    assert illegal_in_feeds([paper]) == []


def test_a_followed_zotero_library_joins_the_liked_papers_and_a_refusal_never_fails_the_refresh(
    arxiv_server: FakeArxiv, settings: Settings, store: Store
) -> None:
    user, key = "users/475425", "P9NiFoyLeZu2bZNvvuQPDWsd"
    zotero = FakeZotero().start()
    try:
        zotero.library(user, key=key)
        zotero.add(user, url="https://arxiv.org/abs/2411.18497v1", title="A stored paper")
        book = zotero.add(user, title="Protein folding", abstractNote="Structures of proteins.")
        config = parse_config({**TEST_CONFIG, "zotero": {"library_type": "user", "library_id": "475425"}})
        following = replace(settings, zotero_api_base=zotero.server.url, api_keys={"ZOTERO_API_KEY": key})
        now = datetime(2024, 11, 28, 15, tzinfo=UTC)
        refresh(config, following, store, now=now, sleep=no_wait)
        kept = store.load_liked_set()
        assert {"2411.18497", f"zotero:{book}"} <= set(kept.ids)
        assert set(store.load_liked(kept.ids)) == set(kept.ids)  # the book's record is kept, not pruned
        assert store.load_state().likes.problem == ""
        assert "by title and abstract" in store.load_state().likes.message
        page = TestClient(create_app(following, store)).get("/").text
        assert f"zotero:{book}" in page  # what the for-you feed learned, from where
        assert "arxiv.org/abs/zotero:" not in page  # a paper known by its text alone links nowhere
        synced = len(zotero.requests)
        refresh(config, following, store, now=now.replace(hour=15, minute=30), sleep=no_wait)
        assert len(zotero.requests) == synced + 1  # the next refresh asks only what changed: nothing, a 304
        assert "if-modified-since-version" in zotero.requests[-1].headers

        revoked = replace(following, api_keys={"ZOTERO_API_KEY": "x" * 24})
        report = refresh(config, revoked, store, now=now.replace(hour=16), sleep=no_wait)
        assert report.outcome != "error"
        state = store.load_state()
        assert state.likes.problem.startswith("Zotero: ")
        assert {"2411.18497", f"zotero:{book}"} <= set(store.load_liked_set().ids)  # the last good sync's
        page = TestClient(create_app(revoked, store)).get("/")
        assert page.status_code == 200
        assert "Zotero: " in page.text
    finally:
        zotero.stop()
