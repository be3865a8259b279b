"""core.arxiv.ids: every form in which arXiv writes an id, and what is no arXiv id."""

from __future__ import annotations

import re

import pytest

from core.arxiv.ids import ID_FORM_PATTERN, ID_PATTERN, VersionedId, parse_id, parse_versioned_id


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("2601.08670", "2601.08670"),
        ("2601.08670v2", "2601.08670"),
        ("0704.0001", "0704.0001"),  # four digits after the point until 2014
        ("astro-ph/0601001", "astro-ph/0601001"),
        ("hep-th/9901001v3", "hep-th/9901001"),
        ("math.AG/0601001", "math.AG/0601001"),  # an old-style id with its subject class
        ("  2411.17775 ", "2411.17775"),
        ("arXiv:2411.17775v1", "2411.17775"),
        ("arxiv:hep-th/9901001", "hep-th/9901001"),
        ("https://arxiv.org/abs/2411.18138v1", "2411.18138"),
        ("http://arxiv.org/abs/cs/9909009v1", "cs/9909009"),  # the API's <id>
        ("https://export.arxiv.org/abs/2411.18138", "2411.18138"),
        ("https://www.arxiv.org/pdf/2411.18138v2.pdf", "2411.18138"),
        ("https://arxiv.org/pdf/astro-ph/0601001v1", "astro-ph/0601001"),
        ("https://arxiv.org/html/2411.18138v1", "2411.18138"),
        ("2411.18138.pdf", "2411.18138"),
        ("oai:arXiv.org:2601.08670v1", "2601.08670"),  # the RSS guid
        ("10.48550/arXiv.2411.18320", "2411.18320"),  # arXiv's DOI
        ("10.48550/ARXIV.2411.18320", "2411.18320"),
        ("https://doi.org/10.48550/arXiv.2411.18320", "2411.18320"),
        ("doi:10.48550/arXiv.hep-th/9901001", "hep-th/9901001"),
    ],
)
def test_every_form_gives_the_version_less_id(text: str, found: str) -> None:
    assert parse_id(text) == found
    assert re.fullmatch(ID_FORM_PATTERN, text.strip())  # the schema of ?like= publishes every form


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "24111.1",
        "2411.177",  # too few digits after the point
        "2411.177755",  # too many
        "2411.17775v",  # a "v" without a version
        "2411.17775 extra",
        "HEP-TH/9901001",  # archives are lower case
        "hep-th/990100",  # six digits
        "math.ag/0601001",  # subject classes are upper case
        "\u0662\u0664\u0661\u0661.\u0661\u0667\u0667\u0667\u0665",  # Arabic-Indic digits: arXiv writes ASCII
        "\uff12\uff14\uff11\uff11.\uff11\uff17\uff17\uff17\uff15",  # full-width digits
        "https://example.org/abs/2411.17775",
        "https://arxiv.org/list/cs.AI/2411.17775",
        "10.1000/arXiv.2411.17775",  # another registrant's DOI
        "https://arxiv.org/api/errors#incorrect_id_format_for_abc",  # the API's error entry
    ],
)
def test_what_is_no_arxiv_id(text: str) -> None:
    assert parse_id(text) is None
    assert parse_versioned_id(text) is None
    assert re.fullmatch(ID_FORM_PATTERN, text) is None


def test_the_guid_and_the_api_id_give_the_version() -> None:
    assert parse_versioned_id("oai:arXiv.org:2601.08670v1") == VersionedId("2601.08670", 1)
    assert parse_versioned_id("http://arxiv.org/abs/astro-ph/0601001v12") == ("astro-ph/0601001", 12)
    assert parse_versioned_id("https://arxiv.org/abs/2601.08670") is None  # no version named


def test_the_pattern_is_the_bare_form_a_json_schema_can_carry() -> None:
    assert "(?P" not in ID_PATTERN + ID_FORM_PATTERN  # named groups are Python's, not ECMA 262's
    assert "(?i" not in ID_FORM_PATTERN  # nor are inline flags
    for good in ("2601.08670", "2601.08670v2", "math.AG/0601001v1"):
        assert re.fullmatch(ID_PATTERN, good)
    for bad in ("arXiv:2601.08670", "2601.086", "\u0662\u0664\u0661\u0661.\u0661\u0667\u0667\u0667\u0665"):
        assert re.fullmatch(ID_PATTERN, bad) is None
