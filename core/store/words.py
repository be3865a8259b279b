"""The word index's bookkeeping, shared by the backends: which segments a save keeps, which
stored versions it indexes anew, and the record (``WordsHead``) that names the live segments.

Each save (``Store.save_catalog``) writes one segment (core.text.words) of the versions it
wrote, plus any stored version no kept segment holds (a store from before the index, or one
whose save was killed between its papers and its index), at most ``MAX_SEGMENT`` of those a
save; a segment goes when none of its members is stored any more, and a small one is merged
into the next save's (``SMALL_SEGMENT``). The head says which
generation of the papers the segments cover whole, and by which rules their tokens were made
(``core.text.words.RULES``); a reader uses the index only when that is the generation it reads
and the rules are today's, and otherwise reads every paper as before. A save finding a head of
other rules drops its segments and indexes every stored version again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from core.models import Entry, Paper
from core.text.words import MAX_SEGMENT, RULES, Placing, Segment, build_segment, encode

# A segment holding fewer stored papers than this (a save of a few summaries, of a day's late
# papers) is merged into the next save's: a reader asks each segment for its words, so small
# ones are not kept (and segments of a size are merged MERGE_FAN at a time: ``_to_merge``).
SMALL_SEGMENT = 200
MERGE_FAN = 4  # segments of about the same size merged into one


@dataclass(frozen=True)
class WordsHead:
    """The live segments (with the categories each holds), the generation they cover whole
    ("" while some stored version is not indexed yet), and how many versions that is."""

    covers: str = ""
    segments: dict[str, list[str]] = field(default_factory=dict)
    count: int = 0
    shards: dict[str, int] = field(default_factory=dict)  # hashes a segment's postings span (Upstash)
    # Per segment, the ordinals (encoded) of members no longer stored (a paper changed or gone).
    dead: dict[str, str] = field(default_factory=dict)
    newest: dict[str, str] = field(default_factory=dict)  # per segment, its first member's announcement
    # Segments this head's save dropped, with their hashes, for the next save to delete (Upstash:
    # a reader of the generation before may still read them meanwhile).
    retired: dict[str, int] = field(default_factory=dict)
    rules: str = RULES  # what made its tokens (core.text.words.RULES); a head of others covers nothing

    def covering(self, generation: str | None) -> bool:
        """Whether this head covers the papers of ``generation`` whole, by today's rules."""
        return bool(self.covers) and self.covers == generation and self.rules == RULES

    def shard_count(self, segment: str) -> int:
        return self.shards.get(segment, 1)

    @property
    def categories(self) -> list[str]:
        return sorted({c for cats in self.segments.values() for c in cats})

    def dumps(self) -> str:
        fields = {"covers": self.covers, "segments": self.segments, "count": self.count}
        more = {"shards": self.shards, "dead": self.dead, "newest": self.newest, "retired": self.retired}
        more["rules"] = self.rules
        return json.dumps({**fields, **more})

    @classmethod
    def loads(cls, raw: str | bytes | None) -> WordsHead:
        """The head in ``raw``; an empty or unreadable one is an index that covers nothing."""
        try:
            data = json.loads(raw) if raw else {}
            segments = {str(k): list(v) for k, v in data["segments"].items()}
            shards = {str(k): int(v) for k, v in data.get("shards", {}).items()}
            dead = {str(k): str(v) for k, v in data.get("dead", {}).items()}
            newest = {str(k): str(v) for k, v in data.get("newest", {}).items()}
            retired = {str(k): int(v) for k, v in data.get("retired", {}).items()}
            rules = str(data.get("rules", ""))  # none: written before the rules were
            return cls(str(data["covers"]), segments, int(data["count"]), shards, dead, newest, retired, rules)
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls()


def placing(names: Sequence[str], entries: Sequence[Entry]) -> dict[str, Placing]:
    """Each stored version (``names[i]`` the name of ``entries[i]``) with when it was announced
    and its id: what ``plan_words`` orders a segment's members by."""
    return {name: (e.announced, e.id) for name, e in zip(names, entries, strict=True)}


@dataclass(frozen=True)
class WordsPlan:
    """What one save does to the index: the segment to write (None: nothing new), the
    segments to keep, those to drop, and the head to write."""

    segment: Segment | None
    kept: list[str]
    dropped: list[str]
    head: WordsHead


def plan_words(
    generation: str,
    head: WordsHead,
    members: Mapping[str, Sequence[str]],
    placed: Mapping[str, Placing],
    written: Mapping[str, Paper],
    read: Callable[[list[str]], Mapping[str, Paper]],
    postings: Callable[[list[str]], Mapping[str, Mapping[str, str]]],
    cap: int = MAX_SEGMENT,
) -> WordsPlan:
    """The index after a save of generation ``generation`` whose stored versions are ``placed``
    (by name, best first, with when each was announced), ``written`` (by name) the versions it
    wrote: ``members`` of the head's segments as stored (a segment missing there is dropped),
    ``read`` the stored papers of names no segment holds (at most ``cap`` of them), and
    ``postings`` every posting of segments to merge."""
    # Each segment's members no longer stored, by ordinal. Segments of other rules are dropped:
    # every stored version is indexed again.
    ours = [s for s in head.segments if s in members and head.rules == RULES]
    gone = {s: [o for o, n in enumerate(members[s]) if n not in placed] for s in ours}
    alive = {s: len(members[s]) - len(gone[s]) for s in ours}
    kept = [s for s, count in alive.items() if count]
    merging = _to_merge(kept, alive, bool(written))
    kept = [s for s in kept if s not in merging]
    covered = {n for s in [*kept, *merging] for n in members[s]}
    wanted = [n for n in placed if n not in covered]
    lacking = [n for n in wanted if n not in written]
    found = {**written, **read(lacking[:cap])} if lacking else written
    chosen = [(n, found[n]) for n in wanted if n in found]
    segment = None
    if chosen or merging:
        parts = postings(merging)
        merged = [(members[s], parts.get(s, {})) for s in merging]
        segment = build_segment(generation, chosen, merged, placed)
    segments = {s: head.segments[s] for s in kept}
    shards = {s: head.shards[s] for s in kept if s in head.shards}
    newest = {s: head.newest.get(s, "") for s in kept}
    dead = {s: encode(gone[s]) for s in kept if gone[s]}
    if segment is not None:
        segments[segment.name] = sorted(segment.categories)
        newest[segment.name] = segment.newest
    # Whole when every stored version was indexed (one that cannot be read is never shown).
    whole = len(lacking) <= cap
    dropped = [s for s in head.segments if s not in segments]
    after = WordsHead(generation if whole else "", segments, len(placed), shards, dead, newest)
    return WordsPlan(segment, kept, dropped, after)


def _to_merge(kept: list[str], alive: Mapping[str, int], writing: bool) -> list[str]:
    """The segments to merge into this save's: the small ones (a save of a few summaries, of a
    day's late papers), when there is more than one or this save writes papers anyway; else
    ``MERGE_FAN`` or more of about the same size (their stored papers within a factor of
    ``MERGE_FAN``), the smallest such, at most ``MAX_SEGMENT`` papers in all. So a store has
    about ``MERGE_FAN`` segments of each size (a logarithm of the store's), and each paper's
    postings are rewritten a few times in its life."""
    small = [s for s in kept if alive[s] < SMALL_SEGMENT]
    if len(small) > 1 or (small and writing):
        return small
    tiers: dict[int, list[str]] = {}
    for s in kept:
        tiers.setdefault(int(math.log(alive[s] / SMALL_SEGMENT, MERGE_FAN)), []).append(s)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= MERGE_FAN and sum(alive[s] for s in tiers[tier]) <= MAX_SEGMENT:
            return tiers[tier]
    return []
