"""core.zotero.items: an item's arXiv id from its URL, DOI, Archive ID or Extra; its text otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.models import Match, Paper, SimilarTo
from core.zotero.items import MAX_ABSTRACT, arxiv_id, parse_item, parse_next
from core.zotero.sync import PAPER_PREFIX
from tests.feed_rules import illegal_in_feeds
from tests.papers import make_paper


def item(**data: Any) -> dict[str, Any]:
    return {"key": "ABCD2345", "version": 3, "data": {"key": "ABCD2345", "itemType": "journalArticle", **data}}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"url": "http://arxiv.org/abs/2401.12345v2"}, "2401.12345"),
        ({"url": "https://arxiv.org/pdf/2401.12345v1.pdf"}, "2401.12345"),
        ({"DOI": "10.48550/arXiv.2401.12345"}, "2401.12345"),
        ({"DOI": "https://doi.org/10.48550/ARXIV.hep-th/9901001"}, "hep-th/9901001"),
        ({"archiveID": "arXiv:2401.12345"}, "2401.12345"),
        ({"extra": "tex.ids: x\narXiv: 2401.12345 [cs.LG]"}, "2401.12345"),
        ({"extra": "arXiv ID: astro-ph/0601001v3"}, "astro-ph/0601001"),
        ({"url": "https://www.nature.com/articles/x", "DOI": "10.1038/x", "extra": "PMID: 1"}, None),
        ({"url": "https://journal.example/x", "extra": "arXiv:2401.12345"}, "2401.12345"),
    ],
)
def test_the_arxiv_id_from_url_doi_archive_id_or_extra(fields: dict[str, Any], expected: str | None) -> None:
    assert arxiv_id(fields) == expected
    parsed = parse_item(item(title="A paper", **fields))
    assert parsed is not None
    assert parsed.arxiv == expected


@pytest.mark.parametrize("kind", ["note", "attachment", "annotation"])
def test_notes_attachments_and_annotations_are_no_papers(kind: str) -> None:
    assert parse_item(item(itemType=kind, url="https://arxiv.org/abs/2401.12345")) is None


def test_what_is_not_an_item_is_skipped() -> None:
    assert parse_item({"key": "X"}) is None
    assert parse_item([1, 2]) is None
    assert parse_item({"data": {"title": "no key"}}) is None


def test_an_item_without_an_id_keeps_its_title_and_abstract_as_plain_text() -> None:
    parsed = parse_item(
        item(title="Scaling <i>laws</i> for x < y\x0c", abstractNote="A  long\nabstract " * 400, collections=["C1"])
    )
    assert parsed is not None
    assert parsed.arxiv is None
    assert parsed.title == "Scaling laws for x < y"
    assert len(parsed.abstract) <= MAX_ABSTRACT
    assert parsed.abstract.endswith("…")
    assert parsed.collections == ("C1",)
    assert not parsed.trashed


def test_a_trashed_item_says_so() -> None:
    parsed = parse_item(item(title="Gone", deleted=1))
    assert parsed is not None
    assert parsed.trashed


def test_the_next_page_from_a_link_header() -> None:
    link = (
        '<https://api.zotero.org/users/1/items?limit=100&start=100>; rel="next", '
        '<https://api.zotero.org/users/1/items?limit=100&start=200>; rel="last", '
        '<https://www.zotero.org/users/1/items>; rel="alternate"'
    )
    assert parse_next(link) == "https://api.zotero.org/users/1/items?limit=100&start=100"
    assert parse_next('<https://www.zotero.org/users/1/items>; rel="alternate"') is None
    assert parse_next(None) is None


def test_control_characters_in_an_item_never_reach_a_feed() -> None:
    """Zotero's answers are an inflow: a liked paper's id (its key) and title are shown in the
    feeds (the paper a paper is like), which clean nothing on the way out."""
    raw = item(title="Speech\x01 in the\x0c Wild", abstractNote="noisy\x1b audio")
    raw["data"]["key"] = "AB\x0cCD2345"
    parsed = parse_item(raw)
    assert parsed is not None
    liked = Paper(
        id=PAPER_PREFIX + parsed.key, title=parsed.title, abstract=parsed.abstract, announced=datetime.now(UTC)
    )
    like = SimilarTo(id=liked.id, title=liked.display_title, similarity=0.5, points=1.0)
    assert illegal_in_feeds([make_paper("Wild speech", match=Match(similar=like, score=1.0))]) == []
