"""Matching: one engine for config.json's keywords and exclusions, topics and ``?q=``.

Everything is compiled into one representation (``Word`` and ``Op``) and evaluated by one
function over the text as readers see it: titles, abstracts and author names with their LaTeX
converted to Unicode (done once, at refresh), accents folded ("schrodinger" finds
"Schrödinger", ``au:hajdusek`` finds "Hajdušek"), case ignored. Words match whole: "RL" does
not match "world" or "URL"; a phrase matches across spaces and hyphens ("kv cache" finds
"KV-cache"); a lower-case plural is tolerated ("LLM" finds "LLMs", but "RL" does not find
"RLS"). Terms are escaped, never used as regular expressions. Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache

from core import taxonomy
from core.models import KeywordHit, Match, Paper
from core.text.scoring import score_hits

FIELDS = ("ti", "abs", "au", "cat", "all")
# Raised whenever the rules change what matches, so the refresh matches stored papers again.
MATCHING_VERSION = 2


@dataclass(frozen=True)
class Word:
    """One term of a query: where to look (a field of FIELDS), what for, and its weight."""

    field: str
    text: str
    weight: float = 1.0
    position: int = 0  # where it was written in a query, for error messages


@dataclass(frozen=True)
class Op:
    op: str  # AND | OR | ANDNOT
    left: Node
    right: Node


Node = Word | Op


# Letters with no Unicode decomposition that readers still expect to fold to ASCII.
_STROKES = str.maketrans("øØłŁđĐħĦıŧŦ", "oOlLdDhHitT")


def fold(text: str) -> str:
    """``text`` with accents folded (case kept), one character for one: "Hajdušek" -> "Hajdusek".

    A character folds only to a single character, so positions in the folded text are positions
    in the text (highlights rely on it); a ligature such as "ﬁ" stays as it is.
    """
    return text if text.isascii() else _fold(text)


@lru_cache(maxsize=1 << 17)  # filtered feeds test the same stored texts request after request
def _fold(text: str) -> str:
    return "".join(map(_fold_char, unicodedata.normalize("NFC", text)))


@cache
def _fold_char(char: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    base = base.translate(_STROKES)
    return base if len(base) == 1 else char


_TOKEN_SPLIT = re.compile(r"[\s\-_]+")


@dataclass(frozen=True)
class Term:
    """A keyword or phrase compiled for matching folded text (``fold``)."""

    text: str
    pattern: re.Pattern[str]
    needle: str = ""  # the longest word, lower-case, when ASCII: a quick test before the pattern

    @classmethod
    def compile(cls, text: str) -> Term:
        words = [token for token in _TOKEN_SPLIT.split(fold(text)) if token]
        body = r"[\s\-]+".join(map(re.escape, words)) or re.escape(fold(text))
        # A lower-case plural only: "LLMs" is a plural of "LLM", "RLS" (least squares) is not one of "RL".
        plural = r"(?-i:e?s)?" if text[-1:].isalpha() else ""
        needle = max(words, key=len, default="").lower()
        pattern = re.compile(rf"(?<!\w){body}{plural}(?!\w)", re.IGNORECASE)
        return cls(text, pattern, needle if needle.isascii() else "")

    def found_in(self, folded: str, lowered: str | None = None) -> bool:
        """Whether the term is in ``folded``, a text passed through ``fold`` (``lowered``: its
        lower case, when the caller has it already)."""
        # Most texts lack most terms, and a text whose lower case lacks the needle cannot match:
        # skip the (slower) pattern. Folding removed the only non-ASCII letters that match ASCII
        # ones case-insensitively (ſ, K, ı, İ), so the test holds for any folded text.
        if self.needle and self.needle not in (folded.lower() if lowered is None else lowered):
            return False
        return self.pattern.search(folded) is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the term is in ``text`` (as shown, not folded): for highlighting."""
        folded = fold(text)
        if len(folded) != len(text):  # text in decomposed form: NFC moved the positions
            folded = text
        return [m.span() for m in self.pattern.finditer(folded)]


@cache
def compiled(text: str) -> Term:
    """``Term.compile`` remembered: queries, keywords and highlights repeat the same few terms."""
    return Term.compile(text)


def count_terms(node: Node) -> int:
    return 1 if isinstance(node, Word) else count_terms(node.left) + count_terms(node.right)


class Shown:
    """A paper's text as matched: title and abstract folded (and lower-cased, for the quick
    needle test) once per paper and evaluation, however many terms test them."""

    __slots__ = ("_authors", "_lower", "abstract", "paper", "title")

    def __init__(self, paper: Paper) -> None:
        self.paper = paper
        self.title = fold(paper.display_title)
        self.abstract = fold(paper.display_abstract)
        self._lower: dict[str, str] = {}
        self._authors: list[str] | None = None

    def found(self, term: Term, field: str) -> bool:
        """Whether ``term`` is in the title (field "title") or the abstract ("abstract")."""
        if (lowered := self._lower.get(field)) is None:
            lowered = self._lower[field] = getattr(self, field).lower()
        return term.found_in(getattr(self, field), lowered)

    @property
    def authors(self) -> list[str]:
        if self._authors is None:
            self._authors = [fold(name) for name in self.paper.display_authors]
        return self._authors


def evaluate(node: Node, paper: Paper | Shown) -> list[KeywordHit] | None:
    """The hits that make ``paper`` match a query, or None when it does not match."""
    shown = paper if isinstance(paper, Shown) else Shown(paper)
    if isinstance(node, Word):
        return word_hits(node, shown)
    left = evaluate(node.left, shown)
    if node.op == "OR":
        right = evaluate(node.right, shown)
        return None if left is None and right is None else [*(left or []), *(right or [])]
    if left is None:
        return None
    right = evaluate(node.right, shown)
    if node.op == "ANDNOT":
        return left if right is None else None
    return None if right is None else [*left, *right]


def word_hits(word: Word, shown: Shown) -> list[KeywordHit] | None:
    """The one hit of ``word`` in a paper (labelled as written, with its field), or None."""
    label = word.text if word.field == "all" else f"{word.field}:{word.text}"
    if word.field == "cat":
        wanted = word.text.lower()
        found = any(taxonomy.covers(word.text, c) or c.lower() == wanted for c in shown.paper.categories)
        return [KeywordHit(keyword=label, field="cat", weight=word.weight)] if found else None
    term = compiled(word.text)
    if word.field == "au":
        found = any(term.found_in(name) for name in shown.authors)
        return [KeywordHit(keyword=label, in_authors=True, field="au", weight=word.weight)] if found else None
    in_title = word.field in ("ti", "all") and shown.found(term, "title")
    in_abstract = word.field in ("abs", "all") and shown.found(term, "abstract")
    if not (in_title or in_abstract):
        return None
    return [KeywordHit(keyword=label, in_title=in_title, in_abstract=in_abstract, field=word.field, weight=word.weight)]


@dataclass(frozen=True)
class Matcher:
    """Keywords and exclusions (config.json's, a topic's, ``?keywords=``/``?exclude=``): every
    keyword found is a hit, and the first exclusion found excludes the paper."""

    keywords: tuple[Word, ...] = ()
    exclusions: tuple[Word, ...] = ()

    @classmethod
    def build(cls, keywords: Iterable[str], exclusions: Iterable[str] = ()) -> Matcher:
        return cls(tuple(Word("all", k) for k in keywords), tuple(Word("all", k) for k in exclusions))

    def match(self, paper: Paper | Shown, hits: list[KeywordHit] | None = None) -> Match:
        """The paper's match: the keywords' hits (or ``hits`` a query found) and any exclusion."""
        shown = paper if isinstance(paper, Shown) else Shown(paper)
        if hits is None:
            hits = [hit for word in self.keywords for hit in word_hits(word, shown) or ()]
        excluded = next((word.text for word in self.exclusions if word_hits(word, shown)), None)
        return Match(hits=hits, excluded_by=excluded, score=score_hits(hits))


def match_papers(papers: Iterable[Paper], matcher: Matcher) -> list[Paper]:
    return [paper.model_copy(update={"match": matcher.match(paper)}) for paper in papers]


@dataclass(frozen=True)
class TextIndex:
    """Which papers could hold a word: every stored paper's title and abstract (and, apart, its
    author names) folded and lower-cased once per store version, and, per needle (a term's
    longest word), the ids of the papers whose text contains it, found once and remembered. A
    filtered feed then runs the patterns only on those papers instead of every stored one. A
    term without an ASCII needle gives None: test every paper."""

    texts: dict[str, str]
    authors: dict[str, str]
    _found: dict[tuple[bool, str], frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, papers: Iterable[Paper]) -> TextIndex:
        papers = list(papers)
        texts = {p.id: fold(f"{p.display_title} {p.display_abstract}").lower() for p in papers}
        return cls(texts, {p.id: fold(" ".join(p.display_authors)).lower() for p in papers})

    def candidates(self, word: Word) -> frozenset[str] | None:
        """Ids of the papers ``word`` may match; None when any paper may (not indexed)."""
        needle = compiled(word.text).needle if word.field != "cat" else ""
        if not needle:
            return None
        key = (word.field == "au", needle)
        if (found := self._found.get(key)) is None:
            texts = self.authors if key[0] else self.texts
            found = self._found[key] = frozenset(i for i, text in texts.items() if needle in text)
        return found


def query_candidates(node: Node, index: TextIndex) -> frozenset[str] | None:
    """The papers a query may match (None: any): a superset, so evaluating only these is exact."""
    if isinstance(node, Word):
        return index.candidates(node)
    left = query_candidates(node.left, index)
    if node.op == "ANDNOT":
        return left
    right = query_candidates(node.right, index)
    if node.op == "OR":
        return None if left is None or right is None else left | right
    if left is None or right is None:
        return left if right is None else right
    return left & right
