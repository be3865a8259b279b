"""The Upstash Redis store, for Vercel, over Upstash's REST API (``core.store.upstash_rest``).

Key layout, designed for one writer a day, many readers, and Upstash's limits (no request or
answer over 10 MB; no single key over 100 MB; bandwidth and commands counted) as papers
accumulate (prefix ``arb:``):

    arb:paper:<id>@<digest>   paper JSON: one key per stored version of a paper
    arb:entry:<id>@<digest>   that version's entry (core.models.Entry)
    arb:<gen>:ids:<feed>      list of "<id>@<digest>", best first, of the papers under <feed>
    arb:<gen>:retired         list of the versions generation <gen> no longer uses
    arb:manifest              JSON {"gen", "keys", "count", "layout"}: the live generation
    arb:state                 RefreshState JSON (ETag, last refresh, outcome, counts)
    arb:lock                  refresh lock: host:pid:machine:token of its owner, with a TTL
    arb:summary:<key>         a cached summary (JSON), kept SUMMARY_TTL_S
    arb:liked:<id>            a liked paper (JSON) fetched from the arXiv API, kept LIKED_TTL_S
    arb:likes                 LikedSet JSON: the ids of the liked papers kept (the others are deleted)
    arb:liked-ids             set: the ids of the arb:liked:<id> records written, so pruning them needs no SCAN
    arb:liked-swept           set once the liked records of older versions (not in liked-ids) were swept
    arb:pending               sorted set: ids readers' ?like= named, not stored yet (score: when)
    arb:zotero                the Zotero sync record (core.models.ZoteroLibrary JSON, at most ~3 MB)
    arb:feedback              opinions given from the feeds (core.models.Feedback JSON, at most 3 MB)
    arb:feedback:version      its version token, read with the state by every version check
    arb:vec:<model>:<dims>:<id>v<n>  a paper's embedding (base64 float32), kept SUMMARY_TTL_S
    arb:words                 the word index's head (core.store.words.WordsHead JSON)
    arb:words:<gen>:<n>       hashes: one segment of the word index, token -> ordinals (core.text.words)
    arb:words-pending         the segment a save wrote before its switch (deleted by the next if it died)
    arb:words:<gen>:members   that segment's members, "<id>@<digest>" by ordinal, one a line
    arb:usage:<day>           hash {calls, tokens}: the day's summary spending, kept 3 days

``<feed>`` is a followed category or ``*`` for all of them. No key grows with the store but
the id lists (about 30 bytes a paper: 100 MB would take three million papers, while
``days_back`` <= 90 keeps a store of every archive near 200,000). A paper's name carries a
digest of its JSON, so a save knows from the live ``*`` list (ids only) which papers are new
or changed and writes just those (``MSET``, in pipelined batches of a few MB); then a new
generation of lists (with a TTL, so a crashed save leaves nothing behind); then one
MULTI/EXEC switches ``arb:manifest`` to it, makes its lists permanent and expires the old
generation. Readers see the old generation or the new one, each with its own versions of the
papers, never a mix. Versions no generation uses any more (changed or aged-out papers) are
deleted at the save after (the generation's ``retired`` list), so readers of the old
generation still find them, unless that save lists them again (a paper back to an earlier
version). A paper too big for one request (``MAX_RECORD_BYTES``) is not written: its stored
version stays if it has one, and the refresh reports it.

Every read is bounded: a feed reads its ids (``LRANGE``) and then those papers (``MGET``);
all papers are read in chunks of ``READ_CHUNK``, a chunk halved until its answer fits. A
refresh reads the ``*`` list and the entries (about 150 bytes a paper), and whole papers only
where something changed. Stores of the layout before this one (every paper in one hash,
``arb:paper``, and every entry in ``arb:entry``) are read as they are, and moved to keys of
their own by the next save (see ``_move_legacy``).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar, cast

from core.errors import StoreError
from core.models import Entry, Feedback, LikedSet, Paper, RefreshState, Summary, ZoteroLibrary
from core.store import ALL, version_of
from core.store.records import (
    decode_entries,
    decode_feedback,
    decode_liked_set,
    decode_paper,
    decode_papers,
    decode_state,
    decode_summary,
    decode_zotero,
    encode_entry,
    encode_paper,
    stored_name,
)
from core.store.upstash_rest import Command, UpstashREST, encode_command, request_bytes
from core.store.words import WordsHead, WordsPlan, placing, plan_words
from core.text.words import Placing

log = logging.getLogger(__name__)

T = TypeVar("T")
PREFIX = "arb:"
MANIFEST, STATE, LOCK, SUMMARY = PREFIX + "manifest", PREFIX + "state", PREFIX + "lock", PREFIX + "summary:"
PAPER, ENTRY = PREFIX + "paper:", PREFIX + "entry:"  # + "<id>@<digest>"
LAYOUT = 2  # one key per paper version; a manifest without "layout" names papers in the hashes below
LEGACY_PAPERS, LEGACY_ENTRIES = PREFIX + "paper", PREFIX + "entry"
SUMMARY_TTL_S = 120 * 86400  # longer than any paper stays in the feeds (days_back <= 90)
LIKED = PREFIX + "liked:"
LIKED_TTL_S = 400 * 86400  # renewed whenever a refresh finds the paper still liked
LIKED_SET, PENDING = PREFIX + "likes", PREFIX + "pending"
SCAN_COUNT = 1_000  # keys a SCAN step looks at
LIKED_IDS = PREFIX + "liked-ids"
LIKED_SWEPT = PREFIX + "liked-swept"
VECTOR = PREFIX + "vec:"
WORDS = PREFIX + "words"  # the word index's head; its segments under arb:words:<gen>
WORDS_PENDING = PREFIX + "words-pending"  # the segment a save wrote before its switch
SHARD_FLOOR = 64_000  # bytes: a segment smaller than this is one hash
MEMBERS_CHUNK = 4  # segments' member lists per MGET (~1.6 MB each at 50,000 names; halved if refused)
PENDING_TTL_S = 6 * 3600  # a generation that never went live disappears on its own
RETIRED_TTL_S = 600  # an old generation outlives the switch for readers still reading it
BATCH_BYTES = 4_000_000  # per pipelined request; Upstash refuses requests over 10 MB
# A paper past this is not stored. Real ones are about 3 KB (70 KB with a summary); this keeps
# any stored paper readable in one answer under 10 MB even if every character of it came back
# escaped in six bytes (JSON's \u003c), and well inside one write request.
MAX_RECORD_BYTES = 1_500_000
READ_CHUNK = 1_000  # papers per read: about 3 MB, under Upstash's 10 MB answer limit
ID_CHUNK = 20_000  # list entries ("<id>@<digest>", at most ~40 bytes) per LRANGE or RPUSH: under 1 MB
ENTRY_CHUNK = 10_000  # entries per MGET: about 1.5 MB
SUMMARY_CHUNK = 100  # summaries per MGET: a summary may reach about 70 KB (Markdown and HTML)
VECTOR_CHUNK = 200  # vectors per MGET: 4,096 dimensions (the most config.json allows) are 22 KB in base64
# Compare-and-delete: only the owner releases the lock (a late, expired owner must not).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"
# Set-if-free-or-mine: taking the lock again renews it; someone else's unexpired lock stays.
_ACQUIRE = (
    "local held = redis.call('GET', KEYS[1]) "
    "if held and held ~= ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1"
)


class UpstashStore:
    name = "upstash"

    def __init__(self, url: str, token: str, timeout_s: float = 5.0) -> None:
        self.url = url
        # No retries: a feed request should fail fast (503, the CDN serves stale).
        self.redis = UpstashREST(url, token, timeout_s)
        # The names of the last generation whose ``*`` list this instance read: a generation's
        # lists never change, so the save after load_index need not read the list again.
        self._names: tuple[str, list[str]] = ("", [])
        self._legacy = False  # the last manifest read names papers in the old layout's hashes

    def _call(self, what: str, func: Callable[..., T], *args: Any) -> T:
        try:
            return func(*args)
        except Exception as exc:  # UpstashError (network failures too), and a reply our parsing chokes on
            raise StoreError(
                f"Upstash {what} failed: {type(exc).__name__}: {exc}",
                "check UPSTASH_REDIS_REST_URL/_TOKEN (or KV_REST_API_URL/_TOKEN) and Upstash's status",
            ) from exc

    def ping(self) -> None:
        self._call("PING", self.redis.call, "PING")

    # --- papers ----------------------------------------------------------------------------

    def save_papers(self, papers: Sequence[Paper]) -> list[Entry]:
        return self.save_catalog([Entry.of(p) for p in papers], {p.id: p for p in papers})

    def save_catalog(self, order: Sequence[Entry], changed: Mapping[str, Paper]) -> list[Entry]:
        gen = f"{int(time.time()):x}{secrets.token_hex(3)}"
        old = self._manifest()
        moved = _legacy(old) and self._move_legacy(old)
        # The versions the last save retired are deleted at the end of this one (unless listed
        # again): none counts as already stored, so no write is skipped for a version about to go.
        doomed = set(self._list(old, _retired_key(old["gen"]))) if old and not moved else set()
        live = set(self._all_names(old)) - doomed
        records, too_big = self._encode_changed(order, changed, live)
        kept = self._stored_instead(too_big, live)
        entries: list[Entry] = []
        names: list[str] = []  # each entry's stored_name, made once (60,000 of them)
        for entry in order:
            if entry.id in too_big:
                if entry.id not in kept:
                    continue
                entry = kept[entry.id]  # its stored version stays
                name = stored_name(entry)
            elif entry.id in changed:
                entry = records[entry.id][0]
                name = stored_name(entry)
            elif (name := f"{entry.id}@{entry.digest}") not in live:
                raise StoreError(f"Upstash save: {entry.id} is not stored as {entry.digest}", "save the paper whole")
            entries.append(entry)
            names.append(name)
        self._write_versions({stored_name(e): (text, encode_entry(e)) for e, text in records.values() if text})
        written = {stored_name(e): changed[e.id] for e, _ in records.values()}
        words = self._write_words(gen, placing(names, entries), written)
        by_feed: dict[str, list[str]] = defaultdict(list)
        for name, entry in zip(names, entries, strict=True):
            for feed in entry.listed_in:
                by_feed[feed].append(name)
        lists = {_key(gen, ALL): names} | {_key(gen, feed): listed for feed, listed in by_feed.items()}
        # Versions the new generation no longer uses stay one more generation for readers of the
        # old one, then go at the next save.
        lists[_retired_key(gen)] = sorted(live.difference(names))
        writes: list[Command] = []
        for key, listed in lists.items():
            writes += [["RPUSH", key, *batch] for batch in _chunks(listed, ID_CHUNK)]
            writes.append(["EXPIRE", key, PENDING_TTL_S])
        self._pipelined("write of the new lists", writes)
        manifest = {"gen": gen, "keys": sorted(lists), "count": len(entries), "layout": LAYOUT}
        manifest |= {"moved": True} if moved else {}
        switch: list[Command] = [["SET", MANIFEST, json.dumps(manifest)], ["SET", WORDS, words.head.dumps()]]
        switch += [["DEL", WORDS_PENDING], *[["PERSIST", key] for key in lists]]
        switch += [["EXPIRE", key, RETIRED_TTL_S] for key in old.get("keys", []) if key not in lists]
        if old.get("moved"):  # the papers left the old hashes a save ago: no reader needs them now
            switch.append(["DEL", LEGACY_PAPERS, LEGACY_ENTRIES])
        self._call("switch to the new papers", self.redis.multi, switch)
        self._names, self._legacy = (gen, names), False
        # Never delete a version the new generation lists: it came back since it was retired.
        gone = sorted(doomed.difference(names))
        removals: list[Command] = [
            ["DEL", *[PAPER + n for n in b], *[ENTRY + n for n in b]] for b in _chunks(gone, 500)
        ]
        self._pipelined("removal of old papers", removals)
        return entries

    def _write_words(self, gen: str, placed: dict[str, Placing], written: dict[str, Paper]) -> WordsPlan:
        """The word index of generation ``gen`` (core.store.words): its new segment written
        and named in ``arb:words-pending`` until the switch to ``gen``, so that if this save
        dies first the next one deletes it (as it deletes the segments the last save retired). A
        segment's postings are spread over hashes (shards) each about the size of its list of
        members at most, so no key outgrows a list of names (Upstash refuses any over 100 MB)."""
        raw, pending = self._call("MGET words", self.redis.call, "MGET", WORDS, WORDS_PENDING)
        head = WordsHead.loads(raw)
        # Segments no head uses: a dead save's, and those the last save retired (kept for the
        # readers of the generation before it). Deleted first: if this fails, so does the save,
        # and the next one tries again, so none is ever left behind.
        orphans = [(s, int(n)) for s, n in json.loads(pending or "{}").items() if s not in head.segments]
        unused = [key for s, n in [*orphans, *head.retired.items()] for key in _segment_keys(s, n)]
        self._pipelined("removal of unused word index", [["DEL", *keys] for keys in _chunks(unused, 500)])
        members = self.load_members(list(head.segments))
        plan = plan_words(
            gen, head, members, placed, written, self._named_stored, lambda segments: self._postings_of(head, segments)
        )
        retired = {s: head.shard_count(s) for s in plan.dropped}
        plan = replace(plan, head=replace(plan.head, retired=retired))
        if (segment := plan.segment) is None:
            return plan
        listed = "\n".join(segment.members)
        fields = list(segment.postings.items())
        size = sum(len(token) + len(ordinals) + 8 for token, ordinals in fields)
        shards = max(1, -(-2 * size // max(len(listed), SHARD_FLOOR)))
        split: list[list[tuple[str, str]]] = [[] for _ in range(shards)]
        for token, ordinals in fields:
            split[_shard(token, shards)].append((token, ordinals))
        keys = _segment_keys(segment.name, shards)
        self._call("SET words pending", self.redis.call, "SET", WORDS_PENDING, json.dumps({gen: shards}))
        writes: list[Command] = [["SET", keys[-1], listed]]
        for key, pairs in zip(keys, split, strict=False):
            for batch in _sized_batches(pairs, lambda pair: len(pair[0]) + len(pair[1]) + 8):
                writes.append(["HSET", key, *(part for pair in batch for part in pair)])
        self._pipelined("write of the word index", writes)
        return replace(plan, head=replace(plan.head, shards={**plan.head.shards, segment.name: shards}))

    def _postings_of(self, head: WordsHead, segments: list[str]) -> dict[str, dict[str, str]]:
        """Every posting of these segments (to merge them): each hash whole, one by one (each
        is about the size of the segment's list of names)."""
        found: dict[str, dict[str, str]] = {}
        for segment in segments:
            found[segment] = {}
            for key in _segment_keys(segment, head.shard_count(segment))[:-1]:
                flat = self._call("HGETALL words", self.redis.call, "HGETALL", key)
                found[segment].update(zip(flat[::2], flat[1::2], strict=True))
        return found

    def load_words(self) -> WordsHead:
        raw, told = self._call("MGET manifest words", self.redis.call, "MGET", MANIFEST, WORDS)
        head, manifest = WordsHead.loads(told), self._read_manifest(raw)
        return head if head.covering(manifest.get("gen")) else WordsHead()

    def load_postings(self, head: WordsHead, tokens: Sequence[str]) -> dict[tuple[str, str], str]:
        asks: list[tuple[str, list[str]]] = []
        for segment in head.segments:
            shards = head.shard_count(segment)
            keys = _segment_keys(segment, shards)
            by_key: dict[str, list[str]] = {}
            for token in tokens:
                by_key.setdefault(keys[_shard(token, shards)], []).append(token)
            asks += [(segment, [key, *wanted]) for key, wanted in by_key.items()]
        if not asks:
            return {}
        answers = self._call("HMGET words", self.redis.pipeline, [["HMGET", *ask] for _, ask in asks])
        return {
            (segment, token): value
            for (segment, ask), values in zip(asks, answers, strict=True)
            for token, value in zip(ask[1:], values, strict=True)
            if value is not None
        }

    def load_members(self, segments: Sequence[str]) -> dict[str, tuple[str, ...]]:
        values = self._values("MGET word members", [_segment_keys(s, 0)[-1] for s in segments], MEMBERS_CHUNK)
        return {s: tuple(v.split("\n")) for s, v in zip(segments, values, strict=True) if v is not None}

    def load_entries(self, names: Sequence[str]) -> dict[str, Entry]:
        entries = decode_entries(self._entries(names, legacy=False))
        return {n: e for n, e in zip(names, entries, strict=True) if e is not None}

    def load_named(self, names: Sequence[str]) -> dict[str, Paper]:
        return self._named_stored(list(names))

    def _named_stored(self, names: list[str]) -> dict[str, Paper]:
        """The stored papers of these versions, by name (absent where there is none)."""
        raws = self._raw(names, legacy=False)
        return {n: p for n, raw in zip(names, raws, strict=True) if raw and (p := decode_paper(raw)) is not None}

    def _encode_changed(
        self, order: Sequence[Entry], changed: Mapping[str, Paper], live: set[str]
    ) -> tuple[dict[str, tuple[Entry, str]], set[str]]:
        """The entry of each changed paper in ``order`` with its JSON to write ("" when that
        version is stored already), and the ids of those too big to store."""
        records: dict[str, tuple[Entry, str]] = {}
        too_big: set[str] = set()
        for entry in order:
            paper = changed.get(entry.id)
            if paper is None:
                continue
            text, entry = encode_paper(paper)
            if stored_name(entry) in live:
                records[entry.id] = (entry, "")
            elif (size := request_bytes(["MSET", PAPER + stored_name(entry), text])) > MAX_RECORD_BYTES:
                log.warning(
                    "store: %s v%d not stored: %.1f MB of JSON (at most %.1f MB)",
                    entry.id,
                    entry.version,
                    size / 1e6,
                    MAX_RECORD_BYTES / 1e6,
                )
                too_big.add(entry.id)
            else:
                records[entry.id] = (entry, text)
        return records, too_big

    def _stored_instead(self, ids: set[str], live: set[str]) -> dict[str, Entry]:
        """The entries of the stored versions of these papers, where there is one."""
        if not ids:  # as almost always: no look through every stored version
            return {}
        names = [n for n in live if n.rpartition("@")[0] in ids]
        entries = decode_entries(self._values("MGET entries", [ENTRY + n for n in names], ENTRY_CHUNK)) if names else []
        return {e.id: e for e in entries if e is not None}

    def _write_versions(self, records: Mapping[str, tuple[str | None, str | None]]) -> None:
        """Write each name's paper JSON and entry (None: not that one) to keys of their own, in
        MSETs of at most BATCH_BYTES."""
        papers = {n: p for n, (p, _) in records.items() if p is not None}
        entries = {n: e for n, (_, e) in records.items() if e is not None}
        sizes = {n: request_bytes([PAPER + n, p or "", ENTRY + n, e or ""]) for n, (p, e) in records.items()}
        commands: list[Command] = []
        for batch in _sized_batches(list(records), sizes.__getitem__):
            for prefix, values in ((PAPER, papers), (ENTRY, entries)):
                parts = [part for n in batch if n in values for part in (prefix + n, values[n])]
                if parts:
                    commands.append(["MSET", *parts])
        self._pipelined("write of new papers", commands)

    def _move_legacy(self, manifest: dict[str, Any]) -> bool:
        """Copy the papers and entries of the live generation out of the old layout's two hashes
        (each a single record, which Upstash refuses past 100 MB: about 37,000 paper versions)
        into keys of their own. Run by a save, under the refresh lock, before anything else it
        writes; it only adds keys, so a save killed half-way leaves the old layout live and the
        next save copies again. The save's manifest says ``moved``; the save after deletes the
        hashes (the versions retired in the old layout go with them)."""
        names = self._all_names(manifest)
        for start in range(0, len(names), READ_CHUNK):
            part = names[start : start + READ_CHUNK]
            papers = self._values("HMGET old papers", part, READ_CHUNK, ["HMGET", LEGACY_PAPERS])
            entries = self._values("HMGET old entries", part, READ_CHUNK, ["HMGET", LEGACY_ENTRIES])
            found = {n: (p, e) for n, p, e in zip(part, papers, entries, strict=True) if p is not None}
            self._write_versions(found)
        return True

    def load_index(self) -> list[Entry]:
        manifest = self._manifest()
        names = self._all_names(manifest)
        entries = decode_entries(self._entries(names, _legacy(manifest)))
        # A paper saved before entries were kept (or whose entry cannot be read) is read whole,
        # once: its entry is written for the next refresh.
        lacking = [name for name, entry in zip(names, entries, strict=True) if entry is None]
        if not lacking:
            return cast(list[Entry], entries)
        made: dict[str, Entry] = {}
        for name, raw in zip(lacking, self._raw(lacking, _legacy(manifest)), strict=True):
            if raw is not None and (paper := decode_paper(raw)) is not None:
                made[name] = Entry.of(paper, digest=name.rpartition("@")[2])  # as stored
        if made and not _legacy(manifest):
            self._write_versions({name: (None, encode_entry(e)) for name, e in made.items()})
        return [e or made[n] for n, e in zip(names, entries, strict=True) if e is not None or n in made]

    def load_whole(self, entries: Sequence[Entry]) -> list[Paper]:
        # The refresh reads these after load_index, in the layout of the manifest it read.
        return decode_papers(self._raw([stored_name(e) for e in entries], self._legacy))

    def _raw(self, names: Sequence[str], legacy: bool) -> list[Any]:
        """The stored JSON under each name (None where there is none), from the old layout's
        hash or from keys of their own."""
        if legacy:
            return self._values("HMGET papers", names, READ_CHUNK, ["HMGET", LEGACY_PAPERS])
        return self._values("MGET papers", [PAPER + n for n in names], READ_CHUNK)

    def _entries(self, names: Sequence[str], legacy: bool) -> list[Any]:
        if legacy:
            return self._values("HMGET entries", names, ENTRY_CHUNK, ["HMGET", LEGACY_ENTRIES])
        return self._values("MGET entries", [ENTRY + n for n in names], ENTRY_CHUNK)

    def _values(self, what: str, args: Sequence[str], chunk: int, head: Sequence[str] = ("MGET",)) -> list[Any]:
        """``head + args`` (MGET keys, HMGET fields), ``chunk`` arguments a command."""
        values: list[Any] = []
        for start in range(0, len(args), chunk):
            values += self._bounded(what, list(head), list(args[start : start + chunk]))
        return values

    def _bounded(self, what: str, head: list[str], args: list[str]) -> list[Any]:
        """One read, halved until its answer fits under Upstash's 10 MB (a chunk of papers
        larger than most)."""
        try:
            return list(self._call(what, self.redis.call, *head, *args))
        except StoreError as exc:
            if len(args) < 2 or "max request size exceeded" not in str(exc):
                raise
            half = len(args) // 2
            return self._bounded(what, head, args[:half]) + self._bounded(what, head, args[half:])

    def _pipelined(self, what: str, commands: list[Command]) -> None:
        """Send ``commands`` in pipelines of at most BATCH_BYTES each, in order."""
        encoded = [encode_command(c) for c in commands]
        for batch in _sized_batches(encoded, lambda command: len(command) + 1):
            self._call(what, self.redis.pipeline_encoded, batch)

    def _manifest(self) -> dict[str, Any]:
        return self._read_manifest(self._call("GET manifest", self.redis.call, "GET", MANIFEST))

    def _read_manifest(self, raw: str | None) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads(raw) if raw else {}
        self._legacy = _legacy(manifest)
        return manifest

    def load_papers(self, feed: str | None = None, limit: int | None = None) -> list[Paper]:
        return self._papers(self._manifest(), feed, limit)

    def load_version(self) -> str:
        return self._head()[2]

    def load_feed(self, feed: str | None = None, limit: int | None = None) -> tuple[RefreshState, list[Paper], str]:
        manifest, state, version = self._head()
        # The papers are read from the generation the manifest named, so they match the version.
        return _state(state), self._papers(manifest, feed, limit), version

    def _head(self) -> tuple[dict[str, Any], str | None, str]:
        """The manifest, the raw state and their version (with the feedback's), in one MGET."""
        raw, state, told = self._call("MGET manifest state", self.redis.call, "MGET", MANIFEST, STATE, FEEDBACK_VERSION)
        manifest = self._read_manifest(raw)
        return manifest, state, version_of(manifest.get("gen"), state, told)

    def _papers(self, manifest: dict[str, Any], feed: str | None, limit: int | None) -> list[Paper]:
        """A feed's papers: its names, then those papers (two round trips for a feed)."""
        if not manifest or limit == 0:
            return []
        names = self._list(manifest, _key(manifest["gen"], feed or ALL), limit)
        return decode_papers(self._raw(names, _legacy(manifest)))

    def _all_names(self, manifest: dict[str, Any]) -> list[str]:
        """The generation's ``*`` list, read once per generation."""
        gen = manifest.get("gen", "")
        if gen and self._names[0] == gen:
            return self._names[1]
        names = self._list(manifest, _key(gen, ALL)) if gen else []
        self._names = (gen, names)
        return names

    def _list(self, manifest: dict[str, Any], key: str, limit: int | None = None) -> list[str]:
        """The first ``limit`` (all) names of a generation's list, read in bounded ranges."""
        if not manifest:
            return []
        names: list[str] = []
        while limit is None or len(names) < limit:
            size = ID_CHUNK if limit is None else min(ID_CHUNK, limit - len(names))
            part = self._call("LRANGE ids", self.redis.call, "LRANGE", key, len(names), len(names) + size - 1)
            names += part
            if len(part) < size:
                break
        return names

    def load_status(self) -> tuple[RefreshState, int]:
        manifest, state, _ = self._head()
        return _state(state), int(manifest.get("count", 0))

    # --- state and lock --------------------------------------------------------------------

    def load_state(self) -> RefreshState:
        return _state(self._call("GET state", self.redis.call, "GET", STATE))

    def save_state(self, state: RefreshState) -> None:
        self._call("SET state", self.redis.call, "SET", STATE, state.model_dump_json())

    def load_summaries(self, keys: Sequence[str]) -> dict[str, Summary]:
        found = self._get_keyed(SUMMARY, keys, "summaries", SUMMARY_CHUNK)
        return {k: s for k, v in found.items() if (s := decode_summary(v)) is not None}

    def save_summaries(self, summaries: Mapping[str, Summary]) -> None:
        self._set_keyed(SUMMARY, {k: s.model_dump_json() for k, s in summaries.items()}, SUMMARY_TTL_S, "summaries")

    def load_liked(self, ids: Sequence[str]) -> dict[str, Paper]:
        found = self._get_keyed(LIKED, ids, "liked", READ_CHUNK)
        return {i: p for i, v in found.items() if (p := decode_paper(v)) is not None}

    def save_liked(self, papers: Sequence[Paper]) -> None:
        if not papers:
            return
        self._set_keyed(LIKED, {p.id: p.model_dump_json() for p in papers}, LIKED_TTL_S, "liked")
        self._call("SADD liked", self.redis.call, "SADD", LIKED_IDS, *(p.id for p in papers))

    def load_liked_set(self) -> LikedSet:
        return decode_liked_set(self._call("GET likes", self.redis.call, "GET", LIKED_SET))

    def save_liked_set(self, liked: LikedSet) -> None:
        self._call("SET likes", self.redis.call, "SET", LIKED_SET, liked.model_dump_json())
        kept = {*liked.ids, *liked.requested}
        stored = set(self._call("SMEMBERS liked", self.redis.call, "SMEMBERS", LIKED_IDS))
        swept = self._call("GET liked-swept", self.redis.call, "GET", LIKED_SWEPT)
        if swept is None:  # once: the records older versions wrote (readers' ?like= too), listed nowhere
            stored |= self._scan_ids(LIKED)
        gone = sorted(stored - kept)
        self._pipelined("DEL liked", [["DEL", LIKED + i] for i in gone])
        if gone:
            self._call("SREM liked", self.redis.call, "SREM", LIKED_IDS, *gone)
        if swept is None:
            self._call("SET liked-swept", self.redis.call, "SET", LIKED_SWEPT, "1")

    def _scan_ids(self, prefix: str) -> set[str]:
        """The ids of every ``prefix + id`` key: a walk over the whole keyspace, so rarely."""
        cursor, ids = "0", set[str]()
        while True:
            cursor, keys = self._call(
                "SCAN", self.redis.call, "SCAN", cursor, "MATCH", prefix + "*", "COUNT", SCAN_COUNT
            )
            ids |= {k[len(prefix) :] for k in keys}
            if str(cursor) == "0":
                return ids

    def add_pending_likes(self, ids: Sequence[str], cap: int) -> None:
        if not ids:
            return
        now = time.time()
        self._call(
            "ZADD pending",
            self.redis.pipeline,
            [["ZADD", PENDING, *(x for i in ids for x in (now, i))], ["ZREMRANGEBYRANK", PENDING, 0, -cap - 1]],
        )

    def load_pending_likes(self) -> list[str]:
        return list(self._call("ZREVRANGE pending", self.redis.call, "ZREVRANGE", PENDING, 0, -1))

    def drop_pending_likes(self, ids: Sequence[str]) -> None:
        if ids:
            self._call("ZREM pending", self.redis.call, "ZREM", PENDING, *ids)

    def load_vectors(self, keys: Sequence[str]) -> dict[str, str]:
        found = self._get_keyed(VECTOR, keys, "vectors", VECTOR_CHUNK)
        return {k: v.decode() if isinstance(v, bytes) else v for k, v in found.items()}

    def save_vectors(self, vectors: Mapping[str, str]) -> None:
        self._set_keyed(VECTOR, vectors, SUMMARY_TTL_S, "vectors")

    def _get_keyed(self, prefix: str, keys: Sequence[str], what: str, chunk: int) -> dict[str, Any]:
        """The values of ``prefix + key`` for ``keys`` that exist, MGET ``chunk`` keys at a time
        (sized so that an answer of the largest values stays under Upstash's 10 MB)."""
        values = self._values(f"MGET {what}", [prefix + k for k in keys], chunk)
        return {k: v for k, v in zip(keys, values, strict=True) if v}

    def _set_keyed(self, prefix: str, values: Mapping[str, str], ttl_s: int, what: str) -> None:
        """SET every ``prefix + key`` with its expiry, pipelined in batches of a few MB."""
        self._pipelined(f"SET {what}", [["SET", prefix + k, v, "EX", ttl_s] for k, v in values.items()])

    def add_usage(self, day: str, calls: int, tokens: int) -> tuple[int, int]:
        key = f"{PREFIX}usage:{day}"
        transaction: list[Command] = [
            ["HINCRBY", key, "calls", calls],
            ["HINCRBY", key, "tokens", tokens],
            ["EXPIRE", key, 3 * 86400],
        ]
        results: list[Any] = self._call("HINCRBY usage", self.redis.multi, transaction)
        return int(results[0]), int(results[1])

    def acquire_lock(self, owner: str, ttl_s: float) -> bool:
        ttl_ms = max(int(ttl_s * 1000), 1)
        return bool(self._call("take lock", self.redis.call, "EVAL", _ACQUIRE, 1, LOCK, owner, ttl_ms))

    def release_lock(self, owner: str) -> None:
        self._call("release lock", self.redis.call, "EVAL", _RELEASE, 1, LOCK, owner)

    def lock_holder(self) -> str | None:
        holder = self._call("GET lock", self.redis.call, "GET", LOCK)
        return str(holder) if holder is not None else None

    def load_zotero(self) -> ZoteroLibrary:
        return decode_zotero(self._call("GET zotero", self.redis.call, "GET", PREFIX + "zotero"))

    def save_zotero(self, library: ZoteroLibrary) -> None:
        self._call("SET zotero", self.redis.call, "SET", PREFIX + "zotero", library.model_dump_json())

    def load_feedback(self) -> Feedback:
        raw, version = self._call("MGET feedback", self.redis.call, "MGET", FEEDBACK, FEEDBACK_VERSION)
        # The version is the one written beside it, even when the record cannot be read.
        return decode_feedback(raw).but(version=version or "")

    def save_feedback(self, feedback: Feedback, replaces: str) -> bool:
        record, version = feedback.model_dump_json(), feedback.version
        keys = (FEEDBACK, FEEDBACK_VERSION)
        return bool(
            self._call("save feedback", self.redis.call, "EVAL", _SAVE_FEEDBACK, 2, *keys, replaces, record, version)
        )


FEEDBACK, FEEDBACK_VERSION = PREFIX + "feedback", PREFIX + "feedback:version"
# Compare-and-set on the version: two readers' clicks on two instances never lose one another.
_SAVE_FEEDBACK = (
    "if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[2]) redis.call('SET', KEYS[2], ARGV[3]) return 1"
)


def _segment_keys(segment: str, shards: int) -> list[str]:
    """A word index segment's keys: its postings' hashes (``shards`` of them), then its members."""
    return [f"{WORDS}:{segment}:{n}" for n in range(shards)] + [f"{WORDS}:{segment}:members"]


def _shard(token: str, shards: int) -> int:
    """Which of a segment's hashes holds ``token``: by the first two letters of its word,
    whatever its field, so a word's forms (``t:agent``, ``w:agents``) and a topic's categories
    (``c:cs.AI``, ``c:cs.LG``) are read from one hash of each segment. (``crc32``: the same in
    every process, unlike ``hash``.)"""
    return zlib.crc32(token[2:4].encode()) % shards


def _state(raw: str | None) -> RefreshState:
    return decode_state(raw)


def _key(gen: str, feed: str) -> str:
    return f"{PREFIX}{gen}:ids:{feed}"


def _legacy(manifest: dict[str, Any]) -> bool:
    """Whether the manifest's papers are in the old layout's two hashes."""
    return bool(manifest) and manifest.get("layout") != LAYOUT


def _retired_key(gen: str) -> str:
    return f"{PREFIX}{gen}:retired"


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _sized_batches(items: Sequence[T], size: Callable[[T], int], limit: int = BATCH_BYTES) -> list[list[T]]:
    """Consecutive batches of ``items`` whose sizes add up to at most ``limit`` (one item alone
    may exceed it: a paper is at most MAX_RECORD_BYTES, far under Upstash's 10 MB)."""
    batches: list[list[T]] = []
    current: list[T] = []
    total = 0
    for item in items:
        if current and total + size(item) > limit:
            batches.append(current)
            current, total = [], 0
        current.append(item)
        total += size(item)
    if current:
        batches.append(current)
    return batches
