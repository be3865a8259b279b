"""Scores and ranking: the seed bot's familiar, explainable formula.

Each keyword found in the title or the abstract adds ``KEYWORD_POINTS``; found in the title
it adds ``TITLE_BONUS`` more. Papers rank by score, then by announcement date, then by id.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.models import KeywordHit, Paper

KEYWORD_POINTS = 1.0
TITLE_BONUS = 0.5


def hit_points(hit: KeywordHit) -> float:
    """A matched term's weight times (1, plus 0.5 when in the title); category terms only filter."""
    return points(hit.weight, hit.field, hit.in_title)


def points(weight: float, field: str, in_title: bool) -> float:
    """What a term of this weight and field found (in the title or not) adds to a score."""
    return weight * ((KEYWORD_POINTS if field != "cat" else 0.0) + (TITLE_BONUS if in_title else 0.0))


def score_hits(hits: Iterable[KeywordHit]) -> float:
    return sum(hit_points(hit) for hit in hits)


def rank_papers(papers: Iterable[Paper]) -> list[Paper]:
    """Best first: highest score, then most recently announced, then newest id."""
    return sorted(papers, key=lambda p: (p.match.score, p.announced, p.id), reverse=True)
