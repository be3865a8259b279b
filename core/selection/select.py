"""Feed selection: which stored papers a feed shows, in what order, for config.json and for a
request's query string (``keywords``, ``exclude``, ``min_score``, ``limit``, ``type``, ``q``).
Matching itself is ``core.text.matching``'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from core import taxonomy
from core.arxiv.ids import ID_PATTERN, parse_id
from core.config import ANNOUNCE_TYPES, Config
from core.errors import QueryError
from core.models import Match, Paper, Ranked, SimilarTo
from core.text import querylang
from core.text.latex import clean_text
from core.text.matching import (
    Matcher,
    Node,
    Shown,
    TextIndex,
    Word,
    count_terms,
    evaluate,
    match_papers,
    query_candidates,
)
from core.text.scoring import rank_papers

MAX_LIMIT = 200
MAX_TERMS = 50
# What one filtered request may cost: terms it tests times papers it tests them on. At the
# store sizes of a 7-day window (a few thousand papers) no valid request comes near it.
MAX_MATCH_WORK = 2_000_000
MAX_TERM_LENGTH = 100
# What parse_terms accepts, as the OpenAPI schema documents it (at most MAX_TERMS parts of at
# most MAX_TERM_LENGTH characters each), and the announce types a ``type`` list may name.
TERMS_PATTERN = rf"^[^,]{{0,{MAX_TERM_LENGTH}}}(,[^,]{{0,{MAX_TERM_LENGTH}}}){{0,{MAX_TERMS - 1}}}$"
_TYPE = f" *({'|'.join(ANNOUNCE_TYPES)})? *"
TYPES_PATTERN = f"^{_TYPE}(,{_TYPE})*$"


@dataclass(frozen=True)
class FeedQuery:
    """A feed request's filters; empty fields fall back to config.json."""

    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_score: float | None = None
    limit: int | None = None
    types: tuple[str, ...] = field(default=())
    q: Node | None = None  # a query in the arXiv-style language; replaces keywords
    like: tuple[str, ...] = ()  # arXiv ids: rank by similarity to these papers (core.text.similarity)

    @property
    def terms(self) -> int:
        """How many terms this request tests against each paper."""
        return len(self.keywords) + len(self.exclude) + (count_terms(self.q) if self.q else 0)

    def check_cost(self, papers: int) -> None:
        """Refuse (422) a request that would test more than MAX_MATCH_WORK term-paper pairs."""
        if self.terms * papers > MAX_MATCH_WORK:
            raise QueryError(
                "q" if self.q else "keywords",
                f"{self.terms} terms against {papers:,} stored papers is more matching than one request may ask",
                f"use at most {MAX_MATCH_WORK // max(papers, 1)} terms",
            )

    @property
    def only_limits(self) -> bool:
        """True when config.json's filters apply unchanged (at most the limit differs)."""
        return not (self.keywords or self.exclude or self.types or self.min_score is not None or self.q or self.like)

    @classmethod
    def from_params(
        cls,
        keywords: str | None = None,
        exclude: str | None = None,
        min_score: float | None = None,
        limit: int | None = None,
        type: str | None = None,  # noqa: A002 - the public parameter is called "type"
        q: str | None = None,
        like: str | None = None,
    ) -> FeedQuery:
        types = tuple(dict.fromkeys(part.strip(" ") for part in (type or "").split(",") if part.strip(" ")))
        unknown = [t for t in types if t not in ANNOUNCE_TYPES]
        if unknown:
            hint = f"use some of {', '.join(ANNOUNCE_TYPES)}"
            raise QueryError("type", f"unknown announce type {unknown[0]!r}", hint)
        return cls(
            keywords=parse_terms("keywords", keywords),
            exclude=parse_terms("exclude", exclude),
            min_score=min_score,
            limit=None if limit is None else min(limit, MAX_LIMIT),
            types=types,
            q=querylang.parse_query(q) if q and q.strip() else None,
            like=parse_likes(like),
        )


def parse_terms(name: str, raw: str | None) -> tuple[str, ...]:
    """Split a comma-separated parameter into clean, distinct terms (phrases keep their spaces)."""
    if not raw:
        return ()
    parts = raw.split(",")
    if len(parts) > MAX_TERMS:
        raise QueryError(name, f"has {len(parts)} comma-separated terms", f"use at most {MAX_TERMS}")
    long = next((part for part in parts if len(part) > MAX_TERM_LENGTH), None)
    if long is not None:
        raise QueryError(name, f"a term is {len(long)} characters long", f"keep each term under {MAX_TERM_LENGTH}")
    return tuple(dict.fromkeys(term for term in map(clean_text, parts) if term))


MAX_LIKES = 20
# What ?like= accepts, as the OpenAPI schema publishes it: up to MAX_LIKES arXiv ids (ASCII
# digits), comma-separated, a version allowed.
LIKES_PATTERN = rf"^(?: *{ID_PATTERN} *(?:, *{ID_PATTERN} *){{0,{MAX_LIKES - 1}}})?$"


def parse_likes(raw: str | None) -> tuple[str, ...]:
    """``?like=2411.17775,hep-th/9901001``: distinct version-less arXiv ids."""
    parts = [part.strip() for part in (raw or "").split(",")]
    if len(parts) > MAX_LIKES:
        raise QueryError("like", f"names {len(parts)} papers", f"name at most {MAX_LIKES}")
    if re.fullmatch(LIKES_PATTERN, raw or "") is None:
        bad = next((p for p in parts if not re.fullmatch(ID_PATTERN, p)), raw or "")
        raise QueryError("like", f"{bad[:40]!r} is not an arXiv id", "write ids like 2411.17775 or hep-th/9901001")
    return tuple(dict.fromkeys(found for part in parts if (found := parse_id(part))))


# How like a paper is to the liked ones (core.text.similarity), or None; given to the selection.
Likeness = Callable[[Paper], SimilarTo | None]


def select_papers(
    papers: Sequence[Paper],
    config: Config,
    query: FeedQuery = FeedQuery(),
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
    if query.keywords or query.exclude:
        if index is not None and keywords and min_score > 0:  # a paper without a hit cannot pass
            possible = [index.candidates(Word("all", keyword)) for keyword in keywords]
            if all(ids is not None for ids in possible):
                ids = frozenset().union(*(ids for ids in possible if ids is not None))
                papers = [p for p in papers if p.id in ids]
        papers = match_papers(papers, Matcher.build(keywords, [*config.exclude_keywords, *query.exclude]))
    types = query.types or tuple(config.announce_types)
    kept = [p for p in papers if passes(p, types, min_score, bool(keywords))]
    return rank_papers(_liked_more(kept, likeness, query.like))[: query.limit or config.max_papers]


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
    possible = query_candidates(node, index) if index is not None else None
    matched = []
    for paper in papers:
        if possible is not None and paper.id not in possible:
            continue
        shown = Shown(paper)
        hits = evaluate(node, shown)
        if hits is not None:
            matched.append(paper.model_copy(update={"match": exclusions.match(shown, hits)}))
    types = query.types or tuple(config.announce_types)
    kept = [p for p in matched if passes(p, types, query.min_score or 0.0, True)]
    return rank_papers(_liked_more(kept, likeness, query.like))[: query.limit or config.max_papers]


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


def passes(paper: Ranked, types: Iterable[str], min_score: float, has_keywords: bool) -> bool:
    """A paper is kept when its type is wanted, nothing excludes it and it scores enough."""
    return paper.announce_type in types and not paper.excluded and (not has_keywords or paper.score >= min_score)
