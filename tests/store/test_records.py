"""core.store.records: stored records are versioned; an unreadable one is skipped, never a 500."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from core.models import PAPER_SCHEMA, Metadata, Paper
from core.settings import Settings
from core.store import Store
from core.store.records import MIGRATIONS, decode_entry, decode_paper, decode_state, encode_entry, encode_paper
from core.web.app import create_app
from tests.feed_rules import illegal_in_feeds
from tests.papers import corrupt_stored, make_paper


def test_a_paper_round_trips_with_its_schema_version() -> None:
    paper = make_paper("A title")
    raw = paper.model_dump_json()
    assert json.loads(raw)["schema_version"] == PAPER_SCHEMA
    assert decode_paper(raw) == paper


def test_an_older_record_is_migrated() -> None:
    """A record one schema behind goes through the migration registered for its version."""
    record = json.loads(make_paper("Old").model_dump_json())
    record["schema_version"] = PAPER_SCHEMA - 1
    record["headline"] = record.pop("title")  # what the old shape called it
    migrations = {**MIGRATIONS, PAPER_SCHEMA - 1: lambda d: {**d, "title": d.pop("headline")}}
    paper = decode_paper(json.dumps(record), migrations)
    assert paper is not None
    assert paper.title == "Old"


@pytest.mark.parametrize(
    "raw",
    [
        '{"id": "2411.1", "title": "no announced date"}',
        '{"schema_version": 99, "id": "2411.2", "title": "from the future", "announced": "2024-11-28T00:00:00Z"}',
        "not json",
        "[1, 2]",
    ],
)
def test_unreadable_records_are_skipped_with_a_log_line(raw: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert decode_paper(raw) is None
    assert "store: skipping" in caplog.text


def test_an_unreadable_state_is_a_fresh_start() -> None:
    assert decode_state('{"outcome": 5, "counts": "x"}').outcome == "never"


def test_old_records_in_the_store_do_not_break_reads(settings: Settings, store: Store) -> None:
    """The refresh's own reads and the feeds skip what they cannot read and serve the rest."""
    good = [make_paper(f"Paper {n}", id=f"2411.{n:05d}") for n in range(3)]
    store.save_papers(good)
    corrupt_stored(store, good[1].id)
    assert [p.id for p in store.load_papers()] == [good[0].id, good[2].id]
    with TestClient(create_app(settings, store)) as client:
        response = client.get("/rss?min_score=0")
    assert response.status_code == 200
    assert good[0].id in response.text
    assert good[1].id not in response.text


def test_a_schema_1_record_has_its_listing_renamed() -> None:
    """Schema 2 renamed ``feeds`` (the followed categories a paper is listed under) ``listed_in``."""
    record = json.loads(make_paper("Listed").model_dump_json())
    record["schema_version"] = 1
    record["feeds"] = record.pop("listed_in")
    record["feeds"] = ["cs.AI", "cs.LG"]
    paper = decode_paper(json.dumps(record))
    assert paper is not None
    assert paper.listed_in == ["cs.AI", "cs.LG"]
    assert paper.schema_version == PAPER_SCHEMA == 4
    del record["schema_version"]  # records written before versions existed are schema 1
    assert decode_paper(json.dumps(record)).listed_in == ["cs.AI", "cs.LG"]  # type: ignore[union-attr]


def test_a_schema_2_record_cut_at_an_escaped_percent_is_converted_again() -> None:
    """Schema 3: texts with "\\%" lose their converted text, so the next refresh converts
    (and matches) them again; other records keep theirs."""
    cut = make_paper("Fast", r"up to 98\% fewer calls, and more", title_text="Fast", abstract_text="up to 98")
    kept = make_paper("Fast", r"$x$ is fast", title_text="Fast", abstract_text="x is fast")
    for paper, expected in ((cut, ("", "")), (kept, ("Fast", "x is fast"))):
        record = json.loads(paper.model_dump_json())
        record["schema_version"] = 2
        migrated = decode_paper(json.dumps(record))
        assert migrated is not None
        assert (migrated.title_text, migrated.abstract_text) == expected
    from core.config import parse_config
    from core.refresh.rank import rank_for_config

    again = decode_paper(json.dumps({**json.loads(cut.model_dump_json()), "schema_version": 2}))
    assert again is not None
    (converted,) = rank_for_config([again], parse_config({"categories": ["cs.AI"]}), rematch=False)
    assert converted.display_abstract == "up to 98% fewer calls, and more"


def test_an_entry_reads_back_as_it_was_written() -> None:
    paper = make_paper(
        "Listed",
        id="astro-ph/0601001",
        version=3,
        categories=["astro-ph.GA", "cs.LG"],
        listed_in=["cs.LG"],
        topics={"galaxies": 1.5},
        title_text="Listed",
    )
    entry = encode_paper(paper)[1]
    raw = encode_entry(entry)
    assert len(raw) < 300
    assert decode_entry(raw) == entry
    assert (entry.version, entry.listed_in, entry.topics, entry.settled) == (3, ("cs.LG",), {"galaxies": 1.5}, True)
    assert (
        entry.digest
        == encode_paper(paper.model_copy())[1].digest
        != encode_paper(paper.model_copy(update={"version": 4}))[1].digest
    )


def test_an_entry_that_cannot_be_read_is_none() -> None:
    """The store then reads the paper whole and makes its entry again."""
    assert decode_entry(None) is None
    assert decode_entry("[1, 2") is None
    assert decode_entry('[1, "2411.00001"]') is None
    newer = json.loads(encode_entry(encode_paper(make_paper())[1]))
    newer[0] = 99
    assert decode_entry(json.dumps(newer)) is None


def test_a_schema_3_record_is_cleaned_of_xml_illegal_characters() -> None:
    """Feeds no longer clean on the way out. Older versions left a form feed in what the API's
    lenient parse gave (a category, a primary category); such a record is cleaned as it is read."""
    paper = make_paper("Clean title", categories=["cs.AI"], metadata=Metadata(primary_category="cs.AI"))
    record = json.loads(paper.model_dump_json())
    record |= {"schema_version": 3, "categories": ["cs.I\x0cT", "cs.AI"], "title_text": "A\x01 title"}
    record["metadata"]["primary_category"] = "cs.I\x0cT"
    assert illegal_in_feeds([Paper.model_validate({**record, "schema_version": PAPER_SCHEMA})])  # as it was
    migrated = decode_paper(json.dumps(record))
    assert migrated is not None
    assert migrated.categories == ["cs.IT", "cs.AI"]
    assert illegal_in_feeds([migrated]) == []
