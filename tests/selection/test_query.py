"""core.selection.query: ``?like=`` takes the id forms config.json's ``like`` takes."""

from __future__ import annotations

import re

import pytest

from core.config import parse_config
from core.errors import QueryError
from core.selection.query import LIKES_PATTERN, MAX_LIKES, parse_likes

FORMS = [
    "arXiv:2411.18138v2",
    "https://arxiv.org/abs/2411.17775v1",
    "hep-th/9901001v3",
    "10.48550/arXiv.2411.18320",
    "https://export.arxiv.org/pdf/2411.18138v2.pdf",
]


@pytest.mark.parametrize("form", FORMS)
def test_like_takes_every_form_config_json_takes(form: str) -> None:
    configured = parse_config({"like": [form]}).like
    assert parse_likes(form) == tuple(configured)
    assert re.fullmatch(LIKES_PATTERN, form)  # the published schema does not refuse it either


def test_like_ids_are_distinct_and_version_less() -> None:
    raw = " arXiv:2411.18138v2 , 2411.18138 ,https://arxiv.org/abs/2411.17775v1"
    assert parse_likes(raw) == ("2411.18138", "2411.17775")
    assert parse_likes("") == parse_likes(None) == ()


def test_like_names_the_part_that_is_no_id_and_how_to_write_one() -> None:
    with pytest.raises(QueryError) as caught:
        parse_likes("2411.18138,arxiv.org/2411.1")
    assert "'arxiv.org/2411.1' is not an arXiv id" in caught.value.message
    assert "arXiv:2411.17775v2" in (caught.value.hint or "")


def test_like_names_at_most_twenty_papers() -> None:
    with pytest.raises(QueryError, match=f"name at most {MAX_LIKES}"):
        parse_likes(",".join(f"2411.{n:05d}" for n in range(MAX_LIKES + 1)))
