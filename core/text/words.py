"""The word index: which stored paper versions hold which words, so that a filtered feed reads
and matches only the papers its query may match, not every stored one.

A paper version's *tokens* are the words of its text as matching sees it (``fold``ed, lower
case, split into runs of word characters), each under a field prefix: ``t:`` words of the
title, ``w:`` words of the title and the abstract, ``u:`` words of the author names, and
``c:`` its categories and ``f:`` the followed categories it is listed under, as written. A
``Segment`` indexes the versions one save wrote: its ``members`` (names ``<id>@<digest>``, so a
segment never changes; the most recently announced first) and, per token, the ordinals of the
members that hold it. The store
keeps the segments whose members are still stored (core.store.words).

The tokens a query word is looked up by (``word_tokens``) find a superset of the papers the
word matches: a term's longest word, lower case and ASCII (its needle, as in
``core.text.matching.Term``), is a whole word wherever the term matches, but for a plural's
"s" or "es". So evaluating a query on the papers found here gives what evaluating it on every
stored paper would. A word with no ASCII needle (a Greek term, a category pattern) is not
looked up: the index cannot narrow it. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from core import taxonomy
from core.models import Paper
from core.text.matching import Word, compiled, fold

_RUN = re.compile(r"\w+")
# Where a query field looks, as tokens: (anywhere it looks, in the title).
_FIELDS = {"ti": ("t:", "t:"), "abs": ("w:", ""), "all": ("w:", "t:"), "au": ("u:", "")}
# A segment's members may not outgrow this (a store of any size is indexed in several).
MAX_SEGMENT = 50_000


def paper_tokens(paper: Paper) -> set[str]:
    """Every token of a paper version (its words under their field's prefix)."""
    title = _runs(paper.display_title)
    tokens = {f"t:{w}" for w in title}
    tokens |= {f"w:{w}" for w in (*title, *_runs(paper.display_abstract))}
    tokens |= {f"u:{w}" for name in paper.display_authors for w in _runs(name)}
    tokens |= {f"c:{c}" for c in paper.categories}
    tokens |= {f"f:{f}" for f in paper.listed_in}
    return tokens


def _runs(text: str) -> list[str]:
    return _RUN.findall(fold(text).lower())


@dataclass(frozen=True)
class Lookup:
    """The tokens a word is looked up by: any of ``anywhere`` may hold it; only papers with one
    of ``in_title`` may hold it in the title (what scores the title bonus)."""

    anywhere: tuple[str, ...]
    in_title: tuple[str, ...]


def word_tokens(word: Word, categories: Iterable[str] = ()) -> Lookup | None:
    """The tokens ``word`` is looked up by; None when the index cannot narrow it. A ``cat:``
    word is looked up by the stored ``categories`` it names (``core.text.matching.word_hits``)."""
    if word.field == "cat":
        wanted = word.text.lower()
        named = [c for c in categories if taxonomy.covers(word.text, c) or c.lower() == wanted]
        return Lookup(tuple(f"c:{c}" for c in named), ())
    needle = compiled(word.text).needle
    runs = _RUN.findall(needle)
    if not runs or word.field not in _FIELDS:
        return None
    run = max(runs, key=len)
    forms = (run, f"{run}s", f"{run}es")  # a plural's ending joins the last word
    anywhere, title = _FIELDS[word.field]
    return Lookup(tuple(anywhere + f for f in forms), tuple(title + f for f in forms) if title else ())


def followed_tokens(followed: Iterable[str], categories: Iterable[str]) -> tuple[str, ...]:
    """The ``c:`` tokens of the stored ``categories`` that any of the ``followed`` names covers
    (a topic's categories: ``taxonomy.listed``)."""
    names = list(followed)
    return tuple(f"c:{c}" for c in categories if any(taxonomy.covers(n, c) for n in names))


@dataclass(frozen=True)
class Segment:
    """The tokens of the paper versions one save wrote: ``members`` by ordinal, and per token
    the ordinals of the members holding it, encoded (``encode``)."""

    name: str
    members: tuple[str, ...]
    postings: dict[str, str]
    newest: str = ""  # when its first member was announced (ISO 8601); the others no later

    @property
    def categories(self) -> set[str]:
        return {token[2:] for token in self.postings if token.startswith("c:")}


def build_segment(name: str, papers: Sequence[tuple[str, Paper]]) -> Segment:
    """The segment of these paper versions (each with its stored name), the most recently
    announced first: a reader takes the newest candidates of a segment first, in ordinal order."""
    ordered = sorted(papers, key=lambda named: (named[1].announced, named[1].id), reverse=True)
    found: dict[str, list[int]] = {}
    for ordinal, (_, paper) in enumerate(ordered):
        for token in paper_tokens(paper):
            found.setdefault(token, []).append(ordinal)
    newest = ordered[0][1].announced.isoformat() if ordered else ""
    return Segment(name, tuple(n for n, _ in ordered), {t: encode(o) for t, o in found.items()}, newest)


def encode(ordinals: Sequence[int]) -> str:
    """Increasing ordinals as the decimal gaps between them: "0 4 1" is 0, 4, 5."""
    return " ".join(str(b - a) for a, b in zip((0, *ordinals), ordinals, strict=False))


def decode(encoded: str) -> list[int]:
    return list(accumulate(map(int, encoded.split())))
