"""The word index's bookkeeping, shared by the backends: which segments a save keeps, which
stored versions it indexes anew, and the record (``WordsHead``) that names the live segments.

Each save (``Store.save_catalog``) writes one segment (core.text.words) of the versions it
wrote, plus any stored version no kept segment holds (a store from before the index, or one
whose save was killed between its papers and its index), at most ``MAX_SEGMENT`` of those a
save; a segment goes when none of its members is stored any more, and a small one is merged
into the next save's (``SMALL_SEGMENT``). The head says which
generation of the papers the segments cover whole; a reader uses the index only when that is
the generation it reads, and otherwise reads every paper as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from core.models import Paper
from core.text.words import MAX_SEGMENT, Segment, build_segment, encode

# A segment holding fewer stored papers than this (a save of a few summaries, of a day's late
# papers) is merged into the next save's: a reader asks each segment for its words, so the
# segments stay about one a day.
SMALL_SEGMENT = 200


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

    def shard_count(self, segment: str) -> int:
        return self.shards.get(segment, 1)

    @property
    def categories(self) -> list[str]:
        return sorted({c for cats in self.segments.values() for c in cats})

    def dumps(self) -> str:
        fields = {"covers": self.covers, "segments": self.segments, "count": self.count}
        return json.dumps({**fields, "shards": self.shards, "dead": self.dead, "newest": self.newest})

    @classmethod
    def loads(cls, raw: str | bytes | None) -> WordsHead:
        """The head in ``raw``; an empty or unreadable one is an index that covers nothing."""
        try:
            data = json.loads(raw) if raw else {}
            segments = {str(k): list(v) for k, v in data["segments"].items()}
            shards = {str(k): int(v) for k, v in data.get("shards", {}).items()}
            dead = {str(k): str(v) for k, v in data.get("dead", {}).items()}
            newest = {str(k): str(v) for k, v in data.get("newest", {}).items()}
            return cls(str(data["covers"]), segments, int(data["count"]), shards, dead, newest)
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls()


@dataclass(frozen=True)
class WordsPlan:
    """What one save does to the index: the segment to write (None: nothing new), the
    segments to keep, those to drop, and the head to write."""

    segment: Segment | None
    kept: list[str]
    dropped: list[str]
    head: WordsHead
    before: WordsHead  # the head this save replaces

    def shards(self, segment: str) -> int:
        """How many hashes a segment of the head before spans."""
        return self.before.shard_count(segment)


def plan_words(
    generation: str,
    head: WordsHead,
    members: Mapping[str, Sequence[str]],
    live: Sequence[str],
    written: Mapping[str, Paper],
    read: Callable[[list[str]], Mapping[str, Paper]],
    cap: int = MAX_SEGMENT,
) -> WordsPlan:
    """The index after a save of generation ``generation`` whose stored versions are ``live``
    (names), ``written`` (by name) the versions it wrote: ``members`` of the head's segments as
    stored (a segment missing there is dropped), and ``read`` the stored papers of names no
    segment holds, at most ``cap`` of them."""
    stored = set(live)
    alive = {s: sum(n in stored for n in members[s]) for s in head.segments if s in members}
    kept = [s for s, count in alive.items() if count]
    small = [s for s in kept if alive[s] < SMALL_SEGMENT]
    if len(small) > 1 or (small and written):  # merged into this save's segment
        kept = [s for s in kept if s not in small]
    covered = {n for s in kept for n in members[s]}
    wanted = [n for n in live if n not in covered]
    lacking = [n for n in wanted if n not in written]
    found = {**written, **read(lacking[:cap])} if lacking else written
    chosen = [(n, found[n]) for n in wanted if n in found]
    segment = build_segment(generation, chosen) if chosen else None
    segments = {s: head.segments[s] for s in kept}
    shards = {s: head.shards[s] for s in kept if s in head.shards}
    newest = {s: head.newest.get(s, "") for s in kept}
    dead = {s: encode(gone) for s in kept if (gone := [o for o, n in enumerate(members[s]) if n not in stored])}
    if segment is not None:
        segments[segment.name] = sorted(segment.categories)
        newest[segment.name] = segment.newest
    # Whole when every stored version was indexed (one that cannot be read is never shown).
    whole = len(lacking) <= cap
    dropped = [s for s in head.segments if s not in segments]
    after = WordsHead(generation if whole else "", segments, len(live), shards, dead, newest)
    return WordsPlan(segment, kept, dropped, after, head)
