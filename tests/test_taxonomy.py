"""core.taxonomy: every category in arXiv's real feeds is known."""

from __future__ import annotations

import pytest

from core import taxonomy
from core.arxiv.rss import parse_feed
from tests.arxiv_fake import COMBINED, STAT, read


@pytest.mark.slow
def test_every_category_seen_in_real_feeds_is_known() -> None:
    seen = {c for name in (COMBINED, STAT) for p in parse_feed(read(name)).papers for c in p.categories}
    assert len(seen) > 100
    assert sorted(c for c in seen if not taxonomy.is_known(c)) == []


def test_archives_cover_their_categories() -> None:
    assert taxonomy.covers("cs", "cs.AI")
    assert taxonomy.covers("cs.AI", "cs.AI")
    assert not taxonomy.covers("cs.AI", "cs.AR")
    assert not taxonomy.covers("math", "math-ph")
    assert not taxonomy.covers("hep-th", "hep-ph")


def test_suggestions() -> None:
    assert taxonomy.suggest("cs.ai") == "cs.AI"
    assert taxonomy.suggest("astroph") == "astro-ph"
    assert taxonomy.suggest("zzzzzz") is None
    assert not taxonomy.is_known("cs.XX")


def test_suggestions_follow_meaning_not_only_spelling() -> None:
    assert taxonomy.suggestions("cs.ML") == ["cs.LG", "stat.ML"]  # not cs.PL, one letter away
    assert taxonomy.suggestions("cs.NLP") == ["cs.CL"]
    assert taxonomy.suggestions("eess.CV") == ["cs.CV", "math.CV"]  # the subject under its archives
    assert taxonomy.did_you_mean("cs.ML") == " (did you mean 'cs.LG' or 'stat.ML'?)"
    assert taxonomy.did_you_mean("zzzzzz") == ""
