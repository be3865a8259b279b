"""A feed request's query string, parsed and checked: ``keywords``, ``exclude``,
``min_score``, ``limit``, ``type``, ``q`` and ``like`` as one ``FeedQuery``. The patterns here
are the ones the OpenAPI schema publishes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.arxiv.ids import ID_FORM_PATTERN, parse_id
from core.config import ANNOUNCE_TYPES
from core.errors import QueryError
from core.text import querylang
from core.text.latex import clean_text
from core.text.matching import Node, count_terms

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
# What ?like= accepts, as the OpenAPI schema publishes it: up to MAX_LIKES comma-separated
# arXiv ids, each in any form config.json's ``like`` takes (2411.17775v2, arXiv:2411.17775,
# an arxiv.org link, an arXiv DOI), read by the same parser (``core.arxiv.ids.parse_id``).
LIKES_PATTERN = rf"^(?: *{ID_FORM_PATTERN} *(?:, *{ID_FORM_PATTERN} *){{0,{MAX_LIKES - 1}}})?$"
MAX_LIKES_LENGTH = 2_000  # twenty doi.org links to old-style ids fit


def parse_likes(raw: str | None) -> tuple[str, ...]:
    """``?like=2411.17775,arXiv:hep-th/9901001v2``: distinct version-less arXiv ids."""
    parts = [part.strip(" ") for part in (raw or "").split(",")]
    if len(parts) > MAX_LIKES:
        raise QueryError("like", f"names {len(parts)} papers", f"name at most {MAX_LIKES}")
    if re.fullmatch(LIKES_PATTERN, raw or "") is None:
        bad = next((p for p in parts if not re.fullmatch(ID_FORM_PATTERN, p)), raw or "")
        hint = "write ids like 2411.17775, arXiv:2411.17775v2 or https://arxiv.org/abs/2411.17775"
        raise QueryError("like", f"{bad[:100]!r} is not an arXiv id", hint)
    return tuple(dict.fromkeys(found for part in parts if (found := parse_id(part))))


NO_FILTERS = FeedQuery()  # config.json's own filters
