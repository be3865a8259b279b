"""The Upstash Redis store, for Vercel, over Upstash's REST API (``core.store.upstash_rest``).

Key layout, designed for one writer a day, many readers, and Upstash's limits (no request or
answer over 10 MB; bandwidth and commands counted) as papers accumulate (prefix ``arb:``):

    arb:paper                 hash: "<id>@<digest>" -> paper JSON: each version of a paper once
    arb:entry                 hash: "<id>@<digest>" -> that version's entry (core.models.Entry)
    arb:<gen>:ids:<feed>      list of "<id>@<digest>", best first, of the papers under <feed>
    arb:manifest              JSON {"gen", "keys", "count", "retired"}: the live generation
    arb:state                 RefreshState JSON (ETag, last refresh, outcome, counts)
    arb:lock                  refresh lock: host:pid:machine:token of its owner, with a TTL
    arb:summary:<key>         a cached summary (JSON), kept SUMMARY_TTL_S
    arb:liked:<id>            a liked paper (JSON) fetched from the arXiv API, kept LIKED_TTL_S
    arb:likes                 LikedSet JSON: the ids of the liked papers kept (the others are deleted)
    arb:pending               sorted set: ids readers' ?like= named, not stored yet (score: when)
    arb:zotero                the Zotero sync record (core.models.ZoteroLibrary JSON, at most ~3 MB)
    arb:vec:<model>:<dims>:<id>v<n>  a paper's embedding (base64 float32), kept SUMMARY_TTL_S
    arb:usage:<day>           hash {calls, tokens}: the day's summary spending, kept 3 days

``<feed>`` is a followed category or ``*`` for all of them. A paper's field name carries a
digest of its JSON, so a save knows from the live ``*`` list (ids only) which papers are new
or changed and writes just those, in pipelined batches of a few MB; then a new generation of
lists (with a TTL, so a crashed save leaves nothing behind); then one MULTI/EXEC switches
``arb:manifest`` to it, makes its lists permanent and expires the old generation. Readers
see the old generation or the new one, each with its own versions of the papers, never a
mix. Versions no generation uses any more (changed or aged-out papers) are deleted at the
save after (the manifest's ``retired``), so readers of the old generation still find them,
unless that save lists them again (a paper back to an earlier version).
Every read is bounded: a feed reads its ids and those papers in one script call; all papers
are read in chunks of ``READ_CHUNK``. A refresh reads the ``*`` list and the entries (about
150 bytes a paper), and whole papers only where something changed.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from core.errors import StoreError
from core.models import Entry, LikedSet, Paper, RefreshState, Summary, ZoteroLibrary
from core.store import ALL, version_of
from core.store.records import (
    decode_entries,
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
from core.store.upstash_rest import Command, UpstashREST

T = TypeVar("T")
PREFIX = "arb:"
MANIFEST, STATE, LOCK, SUMMARY = PREFIX + "manifest", PREFIX + "state", PREFIX + "lock", PREFIX + "summary:"
PAPERS, ENTRIES = PREFIX + "paper", PREFIX + "entry"
SUMMARY_TTL_S = 120 * 86400  # longer than any paper stays in the feeds (days_back <= 90)
LIKED = PREFIX + "liked:"
LIKED_TTL_S = 400 * 86400  # renewed whenever a refresh finds the paper still liked
LIKED_SET, PENDING = PREFIX + "likes", PREFIX + "pending"
SCAN_COUNT = 1_000  # keys a SCAN step looks at
VECTOR = PREFIX + "vec:"
PENDING_TTL_S = 6 * 3600  # a generation that never went live disappears on its own
RETIRED_TTL_S = 600  # an old generation outlives the switch for readers still reading it
BATCH_BYTES = 4_000_000  # per pipelined request; Upstash refuses requests over 10 MB
READ_CHUNK = 1_000  # papers per read: about 3 MB, under Upstash's 10 MB answer limit
ID_CHUNK = 20_000  # list entries ("<id>@<digest>") per LRANGE: about 600 KB
ENTRY_CHUNK = 10_000  # entries per HMGET: about 1.5 MB
SUMMARY_CHUNK = 100  # summaries per MGET: a summary may reach about 70 KB (Markdown and HTML)
VECTOR_CHUNK = 200  # vectors per MGET: 4,096 dimensions (the most config.json allows) are 22 KB in base64
# A feed's ids and its papers in one round trip (a feed shows at most a few hundred).
_READ_PREFIX = (
    "local ids = redis.call('LRANGE', KEYS[1], 0, ARGV[1]) "
    "if #ids == 0 then return {} end "
    "return redis.call('HMGET', KEYS[2], unpack(ids))"
)
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

    def _call(self, what: str, func: Callable[..., T], *args: Any) -> T:
        try:
            return func(*args)
        except Exception as exc:  # UpstashError, httpx errors, and a reply our parsing chokes on
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
        # The versions the last save retired are deleted at the end of this one (unless listed
        # again): none counts as already stored, so no write is skipped for a version about to go.
        doomed = set(old.get("retired", []))
        live = set(self._all_names(old)) - doomed
        entries: list[Entry] = []
        encoded: dict[str, tuple[str, str]] = {}  # name -> (paper JSON, entry JSON) to write
        for entry in order:
            paper = changed.get(entry.id)
            if paper is not None:
                text, entry = encode_paper(paper)
                if stored_name(entry) not in live:  # new or changed
                    encoded[stored_name(entry)] = (text, encode_entry(entry))
            elif stored_name(entry) not in live:
                raise StoreError(f"Upstash save: {entry.id} is not stored as {entry.digest}", "save the paper whole")
            entries.append(entry)
        writes: list[Command] = []
        for batch in _sized_batches(list(encoded), lambda n: len(encoded[n][0]) + len(encoded[n][1]) + 80):
            writes.append(["HSET", PAPERS, *[part for n in batch for part in (n, encoded[n][0])]])
            writes.append(["HSET", ENTRIES, *[part for n in batch for part in (n, encoded[n][1])]])
        lists: dict[str, list[str]] = {_key(gen, ALL): [stored_name(e) for e in entries]}
        for entry in entries:
            for feed in entry.listed_in:
                lists.setdefault(_key(gen, feed), []).append(stored_name(entry))
        for key, names in lists.items():
            writes += [["RPUSH", key, *batch] for batch in _sized_batches(names, lambda i: len(i) + 4)]
            writes.append(["EXPIRE", key, PENDING_TTL_S])
        self._pipelined("write of new papers", writes)
        # Versions the new generation no longer uses stay one more generation for readers of the
        # old one, then go at the next save.
        retired = sorted(live - set(lists[_key(gen, ALL)]))
        manifest = json.dumps({"gen": gen, "keys": sorted(lists), "count": len(entries), "retired": retired})
        switch: list[Command] = [["SET", MANIFEST, manifest]]
        switch += [["PERSIST", key] for key in lists]
        switch += [["EXPIRE", key, RETIRED_TTL_S] for key in old.get("keys", []) if key not in lists]
        self._call("switch to the new papers", self.redis.multi, switch)
        self._names = (gen, lists[_key(gen, ALL)])
        removals: list[Command] = []
        # Never delete a version the new generation lists: it came back since it was retired.
        for batch in _sized_batches(sorted(doomed - set(lists[_key(gen, ALL)])), lambda i: len(i) + 4):
            removals += [["HDEL", PAPERS, *batch], ["HDEL", ENTRIES, *batch]]
        self._pipelined("removal of old papers", removals)
        return entries

    def load_index(self) -> list[Entry]:
        names = self._all_names(self._manifest())
        entries: list[Entry | None] = []
        for start in range(0, len(names), ENTRY_CHUNK):
            part = names[start : start + ENTRY_CHUNK]
            entries += decode_entries(self._call("HMGET entries", self.redis.call, "HMGET", ENTRIES, *part))
        # A paper saved before entries were kept (or whose entry cannot be read) is read whole,
        # once: its entry is written for the next refresh.
        lacking = [name for name, entry in zip(names, entries, strict=True) if entry is None]
        made: dict[str, Entry] = {}
        for name, raw in zip(lacking, self._raw(lacking), strict=True):
            if raw is not None and (paper := decode_paper(raw)) is not None:
                made[name] = Entry.of(paper, digest=name.rpartition("@")[2])  # as stored
        if made:
            fields = [part for name, e in made.items() for part in (name, encode_entry(e))]
            self._call("HSET entries", self.redis.call, "HSET", ENTRIES, *fields)
        return [e or made[n] for n, e in zip(names, entries, strict=True) if e is not None or n in made]

    def load_whole(self, entries: Sequence[Entry]) -> list[Paper]:
        return self._read([stored_name(e) for e in entries])

    def _read(self, names: Sequence[str]) -> list[Paper]:
        """The papers stored under these names (those that can be read)."""
        return decode_papers(self._raw(names))

    def _raw(self, names: Sequence[str]) -> list[Any]:
        """The stored JSON under each name (None where there is none), READ_CHUNK a request."""
        raws: list[Any] = []
        for start in range(0, len(names), READ_CHUNK):
            raws += self._call("HMGET papers", self.redis.call, "HMGET", PAPERS, *names[start : start + READ_CHUNK])
        return raws

    def _pipelined(self, what: str, commands: list[Command]) -> None:
        """Send ``commands`` in pipelines of at most BATCH_BYTES each, in order."""
        sizes = {id(c): sum(len(str(part)) + 3 for part in c) for c in commands}
        for batch in _sized_batches(commands, lambda c: sizes[id(c)]):
            self._call(what, self.redis.pipeline, batch)

    def _manifest(self) -> dict[str, Any]:
        raw = self._call("GET manifest", self.redis.call, "GET", MANIFEST)
        return json.loads(raw) if raw else {}

    def load_papers(self, feed: str | None = None, limit: int | None = None) -> list[Paper]:
        return self._papers(self._manifest(), feed, limit)

    def load_version(self) -> str:
        return self._head()[2]

    def load_feed(self, feed: str | None = None, limit: int | None = None) -> tuple[RefreshState, list[Paper], str]:
        manifest, state, version = self._head()
        # The papers are read from the generation the manifest named, so they match the version.
        return _state(state), self._papers(manifest, feed, limit), version

    def _head(self) -> tuple[dict[str, Any], str | None, str]:
        """The manifest, the raw state and their version, in one MGET."""
        raw, state = self._call("MGET manifest state", self.redis.call, "MGET", MANIFEST, STATE)
        manifest = json.loads(raw) if raw else {}
        return manifest, state, version_of(manifest.get("gen"), state)

    def _papers(self, manifest: dict[str, Any], feed: str | None, limit: int | None) -> list[Paper]:
        if not manifest or limit == 0:
            return []
        key = _key(manifest["gen"], feed or ALL)
        if limit is not None and limit <= READ_CHUNK:  # a feed: its ids and papers in one call
            items = self._call("read of a feed", self.redis.call, "EVAL", _READ_PREFIX, 2, key, PAPERS, limit - 1)
            return decode_papers(items)
        return self._read(self._ids(manifest, feed or ALL)[:limit])

    def _all_names(self, manifest: dict[str, Any]) -> list[str]:
        """The generation's ``*`` list, read once per generation."""
        gen = manifest.get("gen", "")
        if gen and self._names[0] == gen:
            return self._names[1]
        names = self._ids(manifest, ALL)
        self._names = (gen, names)
        return names

    def _ids(self, manifest: dict[str, Any], feed: str) -> list[str]:
        """Every id of a generation's list, read in bounded ranges."""
        if not manifest:
            return []
        key, ids = _key(manifest["gen"], feed), list[str]()
        while True:
            part = self._call("LRANGE ids", self.redis.call, "LRANGE", key, len(ids), len(ids) + ID_CHUNK - 1)
            ids += part
            if len(part) < ID_CHUNK:
                return ids

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
        self._set_keyed(LIKED, {p.id: p.model_dump_json() for p in papers}, LIKED_TTL_S, "liked")

    def load_liked_set(self) -> LikedSet:
        return decode_liked_set(self._call("GET likes", self.redis.call, "GET", LIKED_SET))

    def save_liked_set(self, liked: LikedSet) -> None:
        self._call("SET likes", self.redis.call, "SET", LIKED_SET, liked.model_dump_json())
        kept = {LIKED + i for i in [*liked.ids, *liked.requested]}
        # Every kept liked paper, named or not (ids readers' requests once stored too): a few
        # thousand keys at most, since the liked set is capped.
        cursor, gone = "0", list[str]()
        while True:
            cursor, keys = self._call(
                "SCAN liked", self.redis.call, "SCAN", cursor, "MATCH", LIKED + "*", "COUNT", SCAN_COUNT
            )
            gone += [k for k in keys if k not in kept]
            if str(cursor) == "0":
                break
        self._pipelined("DEL liked", [["DEL", key] for key in gone])

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
        found: dict[str, Any] = {}
        for start in range(0, len(keys), chunk):
            part = list(keys[start : start + chunk])
            values = self._call(f"MGET {what}", self.redis.call, "MGET", *[prefix + k for k in part])
            found |= {k: v for k, v in zip(part, values, strict=True) if v}
        return found

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


def _state(raw: str | None) -> RefreshState:
    return decode_state(raw)


def _key(gen: str, feed: str) -> str:
    return f"{PREFIX}{gen}:ids:{feed}"


def _sized_batches(items: Sequence[T], size: Callable[[T], int], limit: int = BATCH_BYTES) -> list[list[T]]:
    """Consecutive batches of ``items`` whose sizes add up to at most ``limit`` (one item alone
    may exceed it: a single paper is far under Upstash's 10 MB)."""
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
