"""The Upstash Redis store, for Vercel, through the ``upstash-redis`` REST client.

Key layout, designed for one writer a day and many readers (prefix ``arb:``):

    arb:manifest              JSON {"gen", "keys", "count"}: which generation of lists is live
    arb:state                 RefreshState JSON (ETag, last refresh, outcome, counts)
    arb:lock                  refresh lock: SET NX EX with a random owner token
    arb:<gen>:all:<feed>      JSON list of every paper listed under <feed>, best first
    arb:<gen>:top:<feed>      the first TOP papers of that list: what a default feed reads

``<feed>`` is a followed category or ``*`` for all of them. A refresh writes a new generation
in pipelined batches (each well under Upstash's 10 MB request limit, with a TTL so a crashed
refresh leaves nothing behind), then switches ``arb:manifest`` to it, makes its keys
permanent and expires the old generation in one MULTI/EXEC: readers see the old lists or the
new ones, never a mix. Papers older than ``days_back`` simply are not in the new generation.

A feed request costs two round trips: MGET manifest + state, then GET one list.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter
from upstash_redis import Redis

from core.errors import StoreError
from core.models import Paper, RefreshState
from core.store import ALL

T = TypeVar("T")
PREFIX = "arb:"
MANIFEST, STATE, LOCK = PREFIX + "manifest", PREFIX + "state", PREFIX + "lock"
TOP = 200  # the longest default feed a request can ask for (query.MAX_LIMIT)
PENDING_TTL_S = 6 * 3600  # a generation that never went live disappears on its own
RETIRED_TTL_S = 600  # an old generation outlives the switch for readers still reading it
BATCH_BYTES = 4_000_000  # per pipelined request; Upstash refuses requests over 10 MB
_PAPERS = TypeAdapter(list[Paper])
# Compare-and-delete: only the owner releases the lock (a late, expired owner must not).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"


class UpstashStore:
    name = "upstash"

    def __init__(self, url: str, token: str, timeout_s: float = 5.0) -> None:
        self.url = url
        # No retries inside the client: a feed request should fail fast (503, CDN serves stale).
        self.redis = Redis(url=url, token=token, rest_retries=0, allow_telemetry=False)
        # upstash-redis gives its httpx client no timeout and no option to set one
        # (upstash/redis-py#46), so set it on that client directly.
        self.redis._http._client.timeout = httpx.Timeout(timeout_s)

    def _call(self, what: str, func: Callable[[], T]) -> T:
        try:
            return func()
        except Exception as exc:  # the client raises UpstashError, httpx errors and, on odd replies, others
            raise StoreError(
                f"Upstash {what} failed: {type(exc).__name__}: {exc}",
                "check UPSTASH_REDIS_REST_URL/_TOKEN (or KV_REST_API_URL/_TOKEN) and Upstash's status",
            ) from exc

    def ping(self) -> None:
        self._call("PING", self.redis.ping)

    # --- papers ----------------------------------------------------------------------------

    def save_papers(self, papers: Sequence[Paper]) -> None:
        gen = f"{int(time.time()):x}{secrets.token_hex(3)}"
        lists: dict[str, list[Paper]] = {ALL: list(papers)}
        for paper in papers:
            for feed in paper.feeds:
                lists.setdefault(feed, []).append(paper)
        values: dict[str, str] = {}
        for feed, members in lists.items():
            values[f"{PREFIX}{gen}:all:{feed}"] = _PAPERS.dump_json(members).decode()
            values[f"{PREFIX}{gen}:top:{feed}"] = _PAPERS.dump_json(members[:TOP]).decode()
        old = self._manifest()
        for batch in _batches(values):
            pipeline = self.redis.pipeline()
            for key, value in batch.items():
                pipeline.set(key, value, ex=PENDING_TTL_S)
            self._call("write of new papers", pipeline.exec)
        manifest = json.dumps({"gen": gen, "keys": sorted(values), "count": len(papers)})
        switch = self.redis.multi()
        switch.set(MANIFEST, manifest)
        for key in values:
            switch.persist(key)
        for key in old.get("keys", []):
            switch.expire(key, RETIRED_TTL_S)
        self._call("switch to the new papers", switch.exec)

    def _manifest(self) -> dict[str, Any]:
        raw = self._call("GET manifest", lambda: self.redis.get(MANIFEST))
        return json.loads(raw) if raw else {}

    def load_papers(self, feed: str | None = None, limit: int | None = None) -> list[Paper]:
        return self._papers(self._manifest(), feed, limit)

    def load_feed(self, feed: str | None = None, limit: int | None = None) -> tuple[RefreshState, list[Paper]]:
        manifest, state = self._call("MGET manifest state", lambda: self.redis.mget(MANIFEST, STATE))
        papers = self._papers(json.loads(manifest) if manifest else {}, feed, limit)
        return _state(state), papers

    def _papers(self, manifest: dict[str, Any], feed: str | None, limit: int | None) -> list[Paper]:
        if not manifest:
            return []
        kind = "top" if limit is not None and limit <= TOP else "all"
        raw = self._call("GET papers", lambda: self.redis.get(f"{PREFIX}{manifest['gen']}:{kind}:{feed or ALL}"))
        papers = _PAPERS.validate_json(raw) if raw else []
        return papers if limit is None else papers[:limit]

    def load_paper(self, paper_id: str) -> Paper | None:
        return next((p for p in self.load_papers() if p.id == paper_id), None)

    def count_papers(self) -> int:
        return int(self._manifest().get("count", 0))

    # --- state and lock --------------------------------------------------------------------

    def load_state(self) -> RefreshState:
        return _state(self._call("GET state", lambda: self.redis.get(STATE)))

    def save_state(self, state: RefreshState) -> None:
        self._call("SET state", lambda: self.redis.set(STATE, state.model_dump_json()))

    def acquire_lock(self, owner: str, ttl_s: float) -> bool:
        ttl_ms = max(int(ttl_s * 1000), 1)
        return bool(self._call("SET lock", lambda: self.redis.set(LOCK, owner, nx=True, px=ttl_ms)))

    def release_lock(self, owner: str) -> None:
        self._call("release lock", lambda: self.redis.eval(_RELEASE, keys=[LOCK], args=[owner]))


def _state(raw: str | None) -> RefreshState:
    return RefreshState.model_validate_json(raw) if raw else RefreshState()


def _batches(values: dict[str, str]) -> list[dict[str, str]]:
    batches: list[dict[str, str]] = [{}]
    size = 0
    for key, value in values.items():
        if batches[-1] and size + len(value) > BATCH_BYTES:
            batches.append({})
            size = 0
        batches[-1][key] = value
        size += len(value)
    return batches
