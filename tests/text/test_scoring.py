"""core.text.scoring: the seed bot's score and the ranking order."""

from __future__ import annotations

from datetime import UTC, datetime

from core.models import KeywordHit, Match
from core.text.scoring import rank_papers, score_hits
from tests.papers import make_paper


def test_one_point_per_keyword_and_half_more_in_the_title() -> None:
    assert score_hits([]) == 0
    assert score_hits([KeywordHit(keyword="a", in_abstract=True)]) == 1.0
    assert score_hits([KeywordHit(keyword="a", in_title=True)]) == 1.5
    assert score_hits([KeywordHit(keyword="a", in_title=True, in_abstract=True), KeywordHit(keyword="b")]) == 2.5


def test_rank_by_score_then_recency_then_id() -> None:
    day1, day2 = datetime(2024, 11, 27, tzinfo=UTC), datetime(2024, 11, 28, tzinfo=UTC)
    papers = [
        make_paper(id="2411.00001", announced=day2, match=Match(score=1.0)),
        make_paper(id="2411.00002", announced=day1, match=Match(score=2.0)),
        make_paper(id="2411.00003", announced=day2, match=Match(score=2.0)),
        make_paper(id="2411.00004", announced=day2, match=Match(score=2.0)),
    ]
    assert [p.id for p in rank_papers(papers)] == ["2411.00004", "2411.00003", "2411.00002", "2411.00001"]
