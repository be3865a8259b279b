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
stored paper would. A ``cat:`` word is looked up by the ``c:`` tokens of the stored
categories it names. A word with no ASCII needle (a Greek term) is not looked up: the index
cannot narrow it. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate

from core import taxonomy
from core.models import Paper
from core.text.matching import MATCHING_VERSION, Word, compiled, fold

_RUN = re.compile(r"\w+")
# Where a query field looks, as tokens: (anywhere it looks, in the title).
_FIELDS = {"ti": ("t:", "t:"), "abs": ("w:", ""), "all": ("w:", "t:"), "au": ("u:", "")}
# Stored versions not yet indexed that one save reads whole to index (a larger store from
# before the index is indexed over several saves); merges stop at this many members too.
MAX_SEGMENT = 50_000
# The rules a segment's tokens were made by: folding (MATCHING_VERSION) and ``paper_tokens``
# (raise TOKENS when it changes what a text holds). An index of other rules covers nothing.
TOKENS = 1
RULES = f"{MATCHING_VERSION}.{TOKENS}"


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


# When a paper version was announced, and its id: the order of a segment's members, newest first.
Placing = tuple[datetime, str]
# A segment's members (names by ordinal) and postings (token -> encoded ordinals), as stored.
Part = tuple[Sequence[str], Mapping[str, str]]


def build_segment(
    name: str,
    papers: Sequence[tuple[str, Paper]],
    merged: Sequence[Part] = (),
    placed: Mapping[str, Placing] | None = None,
) -> Segment:
    """The segment of these paper versions (each with its stored name) and of the members of
    ``merged`` segments still stored (those ``placed`` names, with when each was announced),
    the most recently announced first: a reader takes the newest candidates of a segment
    first, in ordinal order. Merged members keep their postings (their text is not read)."""
    placed = placed or {}
    rows: list[tuple[Placing, str, Paper | None, int, int]] = [((p.announced, p.id), n, p, -1, -1) for n, p in papers]
    seen = {n for n, _ in papers}
    for part, (members, _) in enumerate(merged):
        for o, n in enumerate(members):
            if n in placed and n not in seen:
                seen.add(n)
                rows.append((placed[n], n, None, part, o))
    rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
    found: dict[str, list[int]] = {}
    moved = [[-1] * len(members) for members, _ in merged]  # a merged member's new ordinal
    for ordinal, (_, _, paper, part, old) in enumerate(rows):
        if paper is not None:
            for token in paper_tokens(paper):
                found.setdefault(token, []).append(ordinal)
        else:
            moved[part][old] = ordinal
    for part, (_, postings) in enumerate(merged):
        for token, encoded in postings.items():
            ordinals = [new for o in decode(encoded) if (new := moved[part][o]) >= 0]
            if ordinals:
                found.setdefault(token, []).extend(ordinals)
    newest = rows[0][0][0].isoformat() if rows else ""
    members = tuple(row[1] for row in rows)
    return Segment(name, members, {t: encode(sorted(o)) for t, o in found.items()}, newest)


def encode(ordinals: Sequence[int]) -> str:
    """Increasing ordinals as the decimal gaps between them: "0 4 1" is 0, 4, 5."""
    return " ".join(str(b - a) for a, b in zip((0, *ordinals), ordinals, strict=False))


def decode(encoded: str) -> list[int]:
    return list(accumulate(map(int, encoded.split())))
