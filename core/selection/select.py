"""Feed selection: which stored papers a feed shows, in what order, for config.json and for a
request's ``FeedQuery`` (``core.selection.query``). Matching itself is ``core.text.matching``'s.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from core import taxonomy
from core.config import Config
from core.models import KeywordHit, Match, Paper, Ranked, SimilarTo
from core.selection.query import NO_FILTERS, FeedQuery
from core.text.matching import (
    Matcher,
    Node,
    Shown,
    TextIndex,
    Word,
    evaluate,
    evaluate_found,
    query_candidates,
    query_words,
)
from core.text.scoring import rank_papers, score_hits

# How like a paper is to the liked ones (core.text.similarity), or None; given to the selection.
Likeness = Callable[[Paper], SimilarTo | None]


def select_papers(
    papers: Sequence[Paper],
    config: Config,
    query: FeedQuery = NO_FILTERS,
    likeness: Likeness | None = None,
    index: TextIndex | None = None,
) -> list[Paper]:
    """The papers a feed shows: matched, filtered, ranked and cut to the limit. With
    ``likeness`` (``?like=``, a topic's ``like``), the kept papers are ranked by their score
    plus the points of their similarity to the liked ones, which are left out. With ``index``
    (the store version's, core.text.matching), only the papers that may match are matched."""
    if query.q is not None:
        return _select_by_query(papers, config, query, query.q, likeness, index)
    keywords = query.keywords or tuple(config.keywords)
    min_score = config.min_score if query.min_score is None else query.min_score
    types = query.types or tuple(config.announce_types)
    if not (query.keywords or query.exclude):  # as the refresh matched them
        kept = [p for p in papers if passes(p, types, min_score, bool(keywords))]
        return rank_papers(_liked_more(kept, likeness, query.like))[: query.limit or config.max_papers]
    matcher = Matcher.build(keywords, [*config.exclude_keywords, *query.exclude])
    if index is not None and (possible := possible_ids(query, config, index)) is not None:
        papers = index.among(papers, possible)
    if index is None:
        matched = [_Matched.of(p, matcher.match(p)) for p in papers]
    else:
        found_in = index.finder([*matcher.keywords, *matcher.exclusions])
        matched = [_Matched.judged(p, *matcher.judge(found_in(p))) for p in papers]
    return _best(matched, query, types, min_score, bool(keywords), likeness, query.limit or config.max_papers)


def possible_ids(query: FeedQuery, config: Config, index: TextIndex) -> frozenset[str] | None:
    """The ids of the only papers the request's filter may keep (None: any paper may): those
    its query may match, or, when a paper needs a keyword's hit to pass, those a keyword may be
    found in. A superset: what ``select_papers`` keeps is among them."""
    if query.q is not None:
        return query_candidates(query.q, index)
    keywords = query.keywords or tuple(config.keywords)
    min_score = config.min_score if query.min_score is None else query.min_score
    if not (query.keywords or query.exclude) or not keywords or min_score <= 0:
        return None
    possible = [index.candidates(Word("all", keyword)) for keyword in keywords]
    return frozenset().union(*possible) if all(ids is not None for ids in possible) else None  # type: ignore[arg-type]


def _select_by_query(
    papers: Sequence[Paper],
    config: Config,
    query: FeedQuery,
    node: Node,
    likeness: Likeness | None,
    index: TextIndex | None,
) -> list[Paper]:
    """Papers the query matches, scored by its hits; the query is the filter, so a minimum
    score applies only when the request asks for one."""
    exclusions = Matcher.build([], [*config.exclude_keywords, *query.exclude])
    matched = []
    if index is None:
        for paper in papers:
            shown = Shown(paper)
            if (hits := evaluate(node, shown)) is not None:
                matched.append(_Matched.of(paper, exclusions.match(shown, hits)))
    else:
        possible = possible_ids(query, config, index)
        found_in = index.finder([*query_words(node), *exclusions.exclusions])
        for paper in papers if possible is None else index.among(papers, possible):
            found = found_in(paper)
            if (hits := evaluate_found(node, found)) is not None:
                matched.append(_Matched.judged(paper, *exclusions.judge(found, hits)))
    types = query.types or tuple(config.announce_types)
    limit = query.limit or config.max_papers
    return _best(matched, query, types, query.min_score or 0.0, True, likeness, limit)


class _Matched(NamedTuple):
    """A paper a filter matched, before it is copied with its ``Match`` (only those shown are)."""

    paper: Paper
    hits: list[KeywordHit]
    excluded_by: str | None
    score: float

    @classmethod
    def of(cls, paper: Paper, match: Match) -> _Matched:
        return cls(paper, match.hits, match.excluded_by, match.score)

    @classmethod
    def judged(cls, paper: Paper, hits: list[KeywordHit], excluded_by: str | None) -> _Matched:
        return cls(paper, hits, excluded_by, score_hits(hits))

    def shown(self) -> Paper:
        match = Match(hits=self.hits, excluded_by=self.excluded_by, score=self.score)
        return self.paper.model_copy(update={"match": match})


def _best(
    matched: list[_Matched],
    query: FeedQuery,
    types: Iterable[str],
    min_score: float,
    has_keywords: bool,
    likeness: Likeness | None,
    limit: int,
) -> list[Paper]:
    """The first ``limit`` papers ranked (``rank_papers``) of those kept, each with its match.
    Only the papers shown are copied with their match (a filter may match thousands)."""
    kept = [
        m
        for m in matched
        if m.paper.announce_type in types and m.excluded_by is None and (not has_keywords or m.score >= min_score)
    ]
    if likeness is not None:  # the similarity's points change the order
        return rank_papers(_liked_more([m.shown() for m in kept], likeness, query.like))[:limit]
    return [m.shown() for m in heapq.nlargest(limit, kept, key=lambda m: (m.score, m.paper.announced, m.paper.id))]


def _liked_more(papers: list[Paper], likeness: Likeness | None, liked: Iterable[str]) -> list[Paper]:
    """Each paper's score plus its similarity's points; the liked papers themselves left out."""
    if likeness is None:
        return papers
    leave_out = set(liked)
    return [_with_similarity(p, likeness(p)) for p in papers if p.id not in leave_out]


def _with_similarity(paper: Paper, similar: SimilarTo | None) -> Paper:
    if similar is None:
        return paper
    score = round(paper.match.score + similar.points, 2)
    return paper.model_copy(update={"match": paper.match.model_copy(update={"similar": similar, "score": score})})


def select_for_you(
    papers: Sequence[Paper], config: Config, query: FeedQuery, likeness: Likeness, liked: Iterable[str]
) -> list[Paper]:
    """The for-you feed: the stored papers most like the liked ones (the liked left out), scored
    by similarity alone; exclusions, types, ``min_score`` and the limit as in any feed."""
    exclusions = Matcher.build([], [*config.exclude_keywords, *query.exclude])
    types = query.types or tuple(config.announce_types)
    leave_out = set(liked)
    chosen = []
    for paper in papers:
        if paper.id in leave_out or paper.announce_type not in types:
            continue
        similar = likeness(paper)
        match = exclusions.match(paper, [])
        if similar is None or match.excluded_by is not None or similar.points < (query.min_score or 0.0):
            continue
        chosen.append(paper.model_copy(update={"match": Match(similar=similar, score=similar.points)}))
    return rank_papers(chosen)[: query.limit or config.max_papers]


def as_seen_in(papers: Sequence[Paper], category: str) -> list[Paper]:
    """Announce types as a single category's feed sees them.

    arXiv labels a paper "new" when its primary category is any of the categories asked for in
    one request; in the feed of a category that is not its primary one (known from the arXiv
    API), it is a cross-list.
    """
    adjusted = []
    for paper in papers:
        primary = paper.metadata.primary_category if paper.metadata else None
        if paper.announce_type == "new" and primary and not taxonomy.covers(category, primary):
            paper = paper.model_copy(update={"announce_type": "cross"})
        adjusted.append(paper)
    return adjusted


def kept_by_config(paper: Ranked, config: Config) -> bool:
    """Whether config.json's own filters keep this paper (what a default feed shows)."""
    return passes(paper, config.announce_types, config.min_score, bool(config.keywords))


def count_kept(ordered: Sequence[Ranked], config: Config) -> int:
    """How many papers in stored order (``core.refresh.rank.store_order``) config.json keeps:
    they come first, so a binary search finds the first it does not."""
    return bisect_left(ordered, True, key=lambda p: not kept_by_config(p, config))


def passes(paper: Ranked, types: Iterable[str], min_score: float, has_keywords: bool) -> bool:
    """A paper is kept when its type is wanted, nothing excludes it and it scores enough."""
    return paper.announce_type in types and not paper.excluded and (not has_keywords or paper.score >= min_score)
