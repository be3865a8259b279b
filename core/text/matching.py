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
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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


# Where a word is found in one paper: its hits, or None (``word_hits`` or a TextIndex's memory).
Found = Callable[["Word"], "list[KeywordHit] | None"]


def evaluate(node: Node, paper: Paper | Shown) -> list[KeywordHit] | None:
    """The hits that make ``paper`` match a query, or None when it does not match."""
    shown = paper if isinstance(paper, Shown) else Shown(paper)
    return evaluate_found(node, lambda word: word_hits(word, shown))


def evaluate_found(node: Node, found: Found) -> list[KeywordHit] | None:
    """``evaluate`` with each word's hits in the paper told by ``found``."""
    if isinstance(node, Word):
        return found(node)
    left = evaluate_found(node.left, found)
    if node.op == "OR":
        right = evaluate_found(node.right, found)
        return None if left is None and right is None else [*(left or []), *(right or [])]
    if left is None:
        return None
    right = evaluate_found(node.right, found)
    if node.op == "ANDNOT":
        return left if right is None else None
    return None if right is None else [*left, *right]


def word_hits(word: Word, shown: Shown) -> list[KeywordHit] | None:
    """The one hit of ``word`` in a paper (labelled as written, with its field), or None."""
    label = word.text if word.field == "all" else f"{word.field}:{word.text}"
    if word.field == "cat":
        wanted = word.text.lower()
        found = any(taxonomy.covers(word.text, c) or c.lower() == wanted for c in shown.paper.categories)
        return [_hit(label, False, False, False, "cat", word.weight)] if found else None
    term = compiled(word.text)
    if word.field == "au":
        found = any(term.found_in(name) for name in shown.authors)
        return [_hit(label, False, False, True, "au", word.weight)] if found else None
    in_title = word.field in ("ti", "all") and shown.found(term, "title")
    in_abstract = word.field in ("abs", "all") and shown.found(term, "abstract")
    if not (in_title or in_abstract):
        return None
    return [_hit(label, in_title, in_abstract, False, word.field, word.weight)]


@lru_cache(maxsize=4096)
def _hit(label: str, in_title: bool, in_abstract: bool, in_authors: bool, field: str, weight: float) -> KeywordHit:
    """One hit, made once (it is frozen): a word has at most a few distinct hits, whichever
    paper it is found in, so an index remembering thousands of them holds only references."""
    return KeywordHit(
        keyword=label, in_title=in_title, in_abstract=in_abstract, in_authors=in_authors, field=field, weight=weight
    )


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
        return self.match_found(lambda word: word_hits(word, shown), hits)

    def match_found(self, found: Found, hits: list[KeywordHit] | None = None) -> Match:
        """``match`` with each word's hits in the paper told by ``found``."""
        hits, excluded = self.judge(found, hits)
        return Match(hits=hits, excluded_by=excluded, score=score_hits(hits))

    def judge(self, found: Found, hits: list[KeywordHit] | None = None) -> tuple[list[KeywordHit], str | None]:
        """What ``match_found`` makes its match of: the hits, and the exclusion found, if any."""
        if hits is None:
            hits = [hit for word in self.keywords for hit in found(word) or ()]
        return hits, next((word.text for word in self.exclusions if found(word)), None)


def match_papers(papers: Iterable[Paper], matcher: Matcher) -> list[Paper]:
    return [paper.model_copy(update={"match": matcher.match(paper)}) for paper in papers]


# Words whose hits a TextIndex remembers (as references to shared hits), counted in papers:
# about 60 bytes each, so at most ~30 MB an index, whatever readers ask.
REMEMBERED_HITS = 500_000


class TextIndex:
    """Which papers could hold a word, and which do: every stored paper's title and abstract
    (and, apart, its author names) folded and lower-cased once per store version; per needle (a
    term's longest word), the ids of the papers whose text contains it; and per word, the
    papers it is found in with their hit (``hits``). Both are found once and remembered, so a
    filtered feed runs the patterns only on the papers that may match, and a word asked again
    (another format, limit or combination) runs none. A term without an ASCII needle gives
    None: test every paper."""

    def __init__(self, papers: Sequence[Paper], remember: int = REMEMBERED_HITS) -> None:
        self._source = papers
        self.papers = {p.id: p for p in papers}
        self.remember = remember
        self.texts = {i: fold(f"{p.display_title} {p.display_abstract}").lower() for i, p in self.papers.items()}
        self.authors = {i: fold(" ".join(p.display_authors)).lower() for i, p in self.papers.items()}
        self._found: dict[tuple[bool, str], frozenset[str]] = {}
        self._hits: OrderedDict[tuple[str, str, float], dict[str, KeywordHit]] = OrderedDict()
        self._remembered = 0
        self._lock = threading.Lock()

    @classmethod
    def build(cls, papers: Sequence[Paper]) -> TextIndex:
        return cls(papers)

    def among(self, papers: Sequence[Paper], ids: frozenset[str]) -> list[Paper]:
        """The papers of ``papers`` whose id is in ``ids`` (in no particular order): looked up
        by id when they are the index's own papers (every stored one), else picked out."""
        if papers is self._source:
            return [self.papers[i] for i in ids]
        return [p for p in papers if p.id in ids]

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

    def hits(self, word: Word) -> dict[str, KeywordHit]:
        """The papers ``word`` is found in, by id, with its hit in each (``word_hits``)."""
        key = _key(word)
        with self._lock:
            if (known := self._hits.get(key)) is not None:
                self._hits.move_to_end(key)
                return known
        possible = self.candidates(word)
        ids = self.papers.keys() if possible is None else possible
        found = {i: hits[0] for i in ids if (hits := word_hits(word, Shown(self.papers[i])))}
        with self._lock:  # the least recently asked words go first
            self._hits[key] = found
            self._remembered += len(found)
            while self._remembered > self.remember and len(self._hits) > 1:
                self._remembered -= len(self._hits.popitem(last=False)[1])
        return found

    def finder(self, words: Iterable[Word]) -> Callable[[Paper], Found]:
        """For a stored paper, where each of ``words`` is found in it: from ``hits`` for an
        indexed word (looked up once), tested on the paper for any other (``cat:``, non-ASCII),
        which would otherwise be tested on every stored paper."""
        # By the words' identity: ``found`` is asked about these very words, thousands of times.
        known = {id(word): self.hits(word) for word in words if self.candidates(word) is not None}

        def found_in(paper: Paper) -> Found:
            shown: list[Shown] = []

            def found(word: Word) -> list[KeywordHit] | None:
                if (hits := known.get(id(word))) is not None:
                    hit = hits.get(paper.id)
                    return None if hit is None else [hit]
                if not shown:
                    shown.append(Shown(paper))
                return word_hits(word, shown[0])

            return found

        return found_in


def _key(word: Word) -> tuple[str, str, float]:
    """What a word's hits depend on (not where it was written in a query)."""
    return (word.field, word.text, word.weight)


def query_words(node: Node) -> list[Word]:
    """Every word of a query."""
    return [node] if isinstance(node, Word) else [*query_words(node.left), *query_words(node.right)]


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
