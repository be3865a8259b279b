"""The Upstash Redis store, for Vercel, over Upstash's REST API (``core.store.upstash_rest``).

Key layout, designed for one writer a day and many readers (prefix ``arb:``):

    arb:manifest              JSON {"gen", "keys", "count"}: which generation of lists is live
    arb:state                 RefreshState JSON (ETag, last refresh, outcome, counts)
    arb:lock                  refresh lock: host:pid:token of its owner, with a TTL it renews
    arb:<gen>:papers:<feed>   Redis list of paper JSON, best first, of the papers under <feed>
    arb:summary:<key>         a cached summary (JSON), kept SUMMARY_TTL_S
    arb:usage:<day>           hash {calls, tokens}: the day's summary spending, kept 3 days

``<feed>`` is a followed category or ``*`` for all of them. A refresh writes a new generation
with RPUSH in pipelined batches (each well under Upstash's 10 MB request limit, with a TTL so
a crashed refresh leaves nothing behind), then switches ``arb:manifest`` to it, makes its
keys permanent and expires the old generation in one MULTI/EXEC: readers see the old lists or
the new ones, never a mix. Papers older than ``days_back`` are not in the new generation, so
the database does not grow.

A feed request costs two round trips and two commands: MGET manifest + state, then one
LRANGE that reads only as many papers as the feed shows.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter

from core.errors import StoreError
from core.models import Paper, RefreshState, Summary
from core.store import ALL, version_of
from core.store.upstash_rest import Command, UpstashREST

T = TypeVar("T")
PREFIX = "arb:"
MANIFEST, STATE, LOCK, SUMMARY = PREFIX + "manifest", PREFIX + "state", PREFIX + "lock", PREFIX + "summary:"
SUMMARY_TTL_S = 120 * 86400  # longer than any paper stays in the feeds (days_back <= 90)
PENDING_TTL_S = 6 * 3600  # a generation that never went live disappears on its own
RETIRED_TTL_S = 600  # an old generation outlives the switch for readers still reading it
BATCH_BYTES = 4_000_000  # per pipelined request; Upstash refuses requests over 10 MB
CHUNK_BYTES = 1_000_000  # per RPUSH
_PAPERS = TypeAdapter(list[Paper])
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

    def save_papers(self, papers: Sequence[Paper]) -> None:
        gen = f"{int(time.time()):x}{secrets.token_hex(3)}"
        encoded = [p.model_dump_json() for p in papers]
        lists: dict[str, list[str]] = {_key(gen, ALL): encoded}
        for paper, text in zip(papers, encoded, strict=True):
            for feed in paper.feeds:
                lists.setdefault(_key(gen, feed), []).append(text)
        old = self._manifest()
        for batch in _batches(lists):
            writes: list[Command] = []
            for key, chunk in batch:
                writes += [["RPUSH", key, *chunk], ["EXPIRE", key, PENDING_TTL_S]]
            self._call("write of new papers", self.redis.pipeline, writes)
        manifest = json.dumps({"gen": gen, "keys": sorted(lists), "count": len(papers)})
        switch: list[Command] = [["SET", MANIFEST, manifest]]
        switch += [["PERSIST", key] for key in lists]
        switch += [["EXPIRE", key, RETIRED_TTL_S] for key in old.get("keys", [])]
        self._call("switch to the new papers", self.redis.multi, switch)

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
        items = self._call("LRANGE papers", self.redis.call, "LRANGE", key, 0, -1 if limit is None else limit - 1)
        return _PAPERS.validate_json("[" + ",".join(items) + "]")

    def load_paper(self, paper_id: str) -> Paper | None:
        return next((p for p in self.load_papers() if p.id == paper_id), None)

    def count_papers(self) -> int:
        return int(self._manifest().get("count", 0))

    # --- state and lock --------------------------------------------------------------------

    def load_state(self) -> RefreshState:
        return _state(self._call("GET state", self.redis.call, "GET", STATE))

    def save_state(self, state: RefreshState) -> None:
        self._call("SET state", self.redis.call, "SET", STATE, state.model_dump_json())

    def load_summaries(self, keys: Sequence[str]) -> dict[str, Summary]:
        if not keys:
            return {}
        values = self._call("MGET summaries", self.redis.call, "MGET", *[SUMMARY + k for k in keys])
        return {k: Summary.model_validate_json(v) for k, v in zip(keys, values, strict=True) if v}

    def save_summaries(self, summaries: Mapping[str, Summary]) -> None:
        writes: list[Command] = [
            ["SET", SUMMARY + key, summary.model_dump_json(), "EX", SUMMARY_TTL_S] for key, summary in summaries.items()
        ]
        if writes:
            self._call("SET summaries", self.redis.pipeline, writes)

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


def _state(raw: str | None) -> RefreshState:
    return RefreshState.model_validate_json(raw) if raw else RefreshState()


def _key(gen: str, feed: str) -> str:
    return f"{PREFIX}{gen}:papers:{feed}"


def _batches(
    lists: dict[str, list[str]], chunk_bytes: int = CHUNK_BYTES, batch_bytes: int = BATCH_BYTES
) -> list[list[tuple[str, list[str]]]]:
    """Split the lists into RPUSH chunks, and the chunks into pipelines, by size (order kept)."""
    batches: list[list[tuple[str, list[str]]]] = [[]]
    batch_size = 0
    for key, items in lists.items():
        chunk: list[str] = []
        chunk_size = 0
        for item in [*items, None]:
            if chunk and (item is None or chunk_size + len(item) > chunk_bytes):
                if batches[-1] and batch_size + chunk_size > batch_bytes:
                    batches.append([])
                    batch_size = 0
                batches[-1].append((key, chunk))
                batch_size += chunk_size
                chunk, chunk_size = [], 0
            if item is not None:
                chunk.append(item)
                chunk_size += len(item)
    return [batch for batch in batches if batch]
