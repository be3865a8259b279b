"""A filtered feed found through the store's word index (core.text.words): only the papers its
query may match are looked at, and only the best of those are read whole.

The index gives the candidates (the papers holding a needle of each word the query needs) and,
per candidate, a bound on its score (the points of every word it may hold, with the title
bonus where a title may hold it). Candidates are taken best bound first, and at equal bounds
newest first (their entries say when each was announced); they are read whole in batches and
selected exactly as any feed selects (``select``, e.g. ``select_papers``), and the search
stops once the papers shown are certain to beat every candidate not read. So the feed is the
one ``select`` gives over every stored paper, for a fraction of the reading.

A query the index cannot narrow (a word with no ASCII needle where every paper may match, a
filter on stored scores alone, a ranking by similarity) gives None: the caller selects over
every stored paper. Pure: what it reads comes through a ``Reader``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from core.config import Config
from core.models import Entry, Paper
from core.selection.query import FeedQuery
from core.text.matching import Node, Op, Word, query_words
from core.text.scoring import points
from core.text.words import Lookup, word_tokens

MIN_BATCH = 10  # candidates read whole at a time, at least
ENTRY_BATCH = 200  # candidates' entries read at a time, at least
_LAST = "\U0010ffff"  # after every id
_UNKNOWN = datetime.max.replace(tzinfo=UTC)  # a segment whose newest announcement is not known


class Placed(NamedTuple):
    """A key with its segment (``segment``: its place) and the newest announcement there."""

    key: int
    segment: int
    newest: datetime | None


class Reader(Protocol):
    """What a search reads of one version of the store (core.web.words reads it, and remembers)."""

    @property
    def categories(self) -> Sequence[str]:
        """Every category a stored paper has."""

    def postings(self, tokens: Sequence[str]) -> dict[str, set[int]]:
        """The keys of the papers holding each token (a key names one stored paper version)."""

    def holding_any(self, tokens: Sequence[str]) -> set[int]:
        """The keys of the papers holding any of these tokens (what a feed lists)."""

    def names(self, keys: Iterable[int]) -> dict[int, str]:
        """The stored name (``<id>@<digest>``) of each key."""

    def placed(self, keys: Iterable[int]) -> list[Placed]:
        """Each key with its segment and that segment's newest announcement. In a segment, a
        smaller key is a member announced no earlier (``core.text.words.build_segment``)."""

    def entries(self, names: Sequence[str]) -> dict[str, Entry]: ...

    def papers(self, names: Sequence[str]) -> dict[str, Paper]: ...


@dataclass(frozen=True)
class Search:
    """A feed's query as the index answers it: ``node`` finds the candidates, ``scored`` bounds
    their scores, ``within`` (tokens) the papers the feed may show at all (empty: any)."""

    node: Node
    scored: tuple[Word, ...]
    min_score: float
    types: tuple[str, ...]
    limit: int
    within: tuple[str, ...] = ()
    crossed: bool = False  # a category's feed: a "new" paper may show as a cross-list (as_seen_in)


def search_of(query: FeedQuery, config: Config) -> Search | None:
    """How the index answers ``query`` (a feed's, or a topic's with the request's on top);
    None when it cannot narrow it (see the module's doc)."""
    types = query.types or tuple(config.announce_types)
    limit = query.limit or config.max_papers
    if query.like:
        return None
    if query.q is not None:
        return Search(query.q, tuple(_positive(query.q)), query.min_score or 0.0, types, limit)
    keywords = query.keywords or tuple(config.keywords)
    min_score = config.min_score if query.min_score is None else query.min_score
    if not (query.keywords or query.exclude) or not keywords or min_score <= 0:
        return None  # a paper without a keyword may show: every stored paper is a candidate
    words = [Word("all", k) for k in keywords]
    node: Node = words[0]
    for word in words[1:]:
        node = Op("OR", node, word)
    return Search(node, tuple(words), min_score, types, limit)


def _positive(node: Node) -> list[Word]:
    """The words whose hits a match may count (not those after ANDNOT)."""
    if isinstance(node, Word):
        return [node]
    return _positive(node.left) if node.op == "ANDNOT" else [*_positive(node.left), *_positive(node.right)]


def find(search: Search, reader: Reader, select: Callable[[list[Paper]], list[Paper]]) -> list[Paper] | None:
    """The papers ``select`` shows of every stored paper, reading only candidates; None when
    the index cannot narrow the search."""
    lookups = {id(w): word_tokens(w, reader.categories) for w in query_words(search.node)}
    tokens = {t for lookup in lookups.values() if lookup for t in (*lookup.anywhere, *lookup.in_title)}
    found = reader.postings(sorted(tokens))
    candidates = _candidates(search.node, lookups, found)
    if candidates is None:
        return None
    if search.within:
        candidates &= reader.holding_any(search.within)
    groups = _bounded(search, candidates, lookups, found)
    shown: list[Paper] = []
    for bound in sorted(groups, reverse=True):
        if _full(shown, search) and shown[-1].match.score > bound:
            break  # no paper bounded this low can beat the ones shown
        placed = _reading_order(reader.placed(groups[bound]))
        shown, certain = _read_group(search, reader, select, shown, bound, placed)
        if certain:
            break
    return shown


Key = tuple[datetime, str]


def _read_group(
    search: Search,
    reader: Reader,
    select: Callable[[list[Paper]], list[Paper]],
    shown: list[Paper],
    bound: float,
    placed: list[Placed],
) -> tuple[list[Paper], bool]:
    """The papers shown once the candidates of one bound are read, newest first, until no
    candidate left (of this bound or a lower one) can beat them (then True), or to the last.

    Their entries are read a batch at a time in ``placed`` order; an entry read is certain to
    come before every candidate not read when it is newer than the frontier: the last entry
    read in a segment begun, or the newest announcement of the next segment."""
    pool: list[Entry] = []  # entries read whose papers are not
    last: dict[int, Key] = {}  # per segment begun, the key of its last entry read
    done = 0
    while True:
        frontier = _frontier(placed, done, last)
        certain = sorted((e for e in pool if frontier is None or _entry_key(e) > frontier), key=_entry_key)
        if not certain and done < len(placed):
            chunk = placed[done : done + max(ENTRY_BATCH, 2 * _batch(shown, search))]
            done += len(chunk)
            names = reader.names(p.key for p in chunk)
            entries = reader.entries(list(names.values()))
            for p in chunk:
                if (entry := entries.get(names.get(p.key, ""))) is not None:
                    last[p.segment] = _entry_key(entry)
                    if _may_show(entry, search):
                        pool.append(entry)
            continue
        if not certain:
            return shown, False
        part = certain[-_batch(shown, search) :]  # the newest
        chosen = {id(e) for e in part}
        pool = [e for e in pool if id(e) not in chosen]
        shown = select([*shown, *reader.papers([f"{e.id}@{e.digest}" for e in part]).values()])
        rest = max([_entry_key(e) for e in pool] + ([frontier] if frontier is not None else []), default=None)
        if rest is not None and _full(shown, search) and _key(shown[-1]) >= (bound, *rest):
            return shown, True  # it beats every candidate left, of this bound and all lower ones


def _reading_order(placed: list[Placed]) -> list[Placed]:
    """Segment by segment, the one announced most recently first (one not known, first), and in
    each segment newest first."""
    return sorted(placed, key=lambda p: (p.newest or _UNKNOWN, -p.segment, -p.key), reverse=True)


def _frontier(placed: list[Placed], done: int, last: dict[int, Key]) -> Key | None:
    """The newest key a candidate not read yet may have (None: all read): in the segment being
    read, no newer than its last entry read; in the next one, than its newest announcement."""
    if done >= len(placed):
        return None
    current = placed[done]
    newest = (current.newest or _UNKNOWN, _LAST)
    frontier = last.get(current.segment, newest)
    following = next((p for p in placed[done:] if p.segment != current.segment), None)
    if following is not None:
        frontier = max(frontier, (following.newest or _UNKNOWN, _LAST))
    return frontier


def _batch(shown: list[Paper], search: Search) -> int:
    """How many candidates to read next: the places left and a quarter more (a few fail the
    exact match), or a few when every place is taken by a paper a candidate might still beat."""
    return max((search.limit - len(shown)) * 5 // 4, MIN_BATCH)


def _full(shown: list[Paper], search: Search) -> bool:
    return len(shown) >= search.limit


def _candidates(node: Node, lookups: dict[int, Lookup | None], found: dict[str, set[int]]) -> set[int] | None:
    """The keys of the papers ``node`` may match (None: any paper may)."""
    if isinstance(node, Word):
        lookup = lookups[id(node)]
        return None if lookup is None else set().union(*(found.get(t, set()) for t in lookup.anywhere))
    left = _candidates(node.left, lookups, found)
    if node.op == "ANDNOT":
        return left
    right = _candidates(node.right, lookups, found)
    if node.op == "OR":
        return None if left is None or right is None else left | right
    if left is None or right is None:
        return left if right is None else right
    return left & right


def _bounded(
    search: Search, candidates: set[int], lookups: dict[int, Lookup | None], found: dict[str, set[int]]
) -> dict[float, list[int]]:
    """The candidates by their highest possible score: the points of every scored word each
    may hold (``core.text.scoring.points``), those under the minimum score left out.

    The points are added word by word in the query's order, as a match's hits are (in the
    query's order, a subset of these words), and float addition never decreases when a
    non-negative term is added: so a paper's score is never above its bound, to the last bit."""
    bounds = dict.fromkeys(candidates, 0.0)
    for word in search.scored:
        lookup = lookups[id(word)]
        if lookup is None:  # not indexed: it may be anywhere
            bounds = {k: b + points(word.weight, word.field, word.field in ("ti", "all")) for k, b in bounds.items()}
            continue
        anywhere = set().union(*(found.get(t, set()) for t in lookup.anywhere)) & candidates
        title = set().union(*(found.get(t, set()) for t in lookup.in_title)) & anywhere
        for keys, gain in (
            (anywhere - title, points(word.weight, word.field, False)),
            (title, points(word.weight, word.field, True)),
        ):
            for key in keys:
                bounds[key] += gain
    groups: dict[float, list[int]] = {}
    for key, bound in bounds.items():
        if bound >= search.min_score:
            groups.setdefault(bound, []).append(key)
    return groups


def _may_show(entry: Entry, search: Search) -> bool:
    """Whether the feed's announce types may keep this paper (a category's feed sees a "new"
    paper of another primary category as a cross-list)."""
    kind = entry.announce_type
    return kind in search.types or (search.crossed and kind == "new" and "cross" in search.types)


def _entry_key(entry: Entry) -> tuple[datetime, str]:
    return entry.announced, entry.id


def _key(paper: Paper) -> tuple[float, datetime, str]:
    return paper.match.score, paper.announced, paper.id
