"""Embeddings for the for-you feed: the optional model (config.json ``similarity.model``).

An OpenAI-compatible ``/embeddings`` endpoint (DashScope's compatible mode with
text-embedding-v4, OpenAI, Ollama) embeds each paper's title and abstract once per (id,
version, model, dimensions); the vectors are cached in the store, and every call counts in
``summary.daily_budget``. At refresh, once every stored and liked paper has a vector, each
stored paper's most similar liked paper (cosine) is recorded on it (``Paper.for_you``) and the
for-you feed is ranked by that. Until then, or on any failure (no key, the endpoint refusing
or answering a vector that is not ``dimensions`` finite numbers, the budget or the time
spent), the lexical model serves and the refresh says why. A malformed reply is never cached.
"""

from __future__ import annotations

import base64
import logging
import math
import operator
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx

from core.config import Config, EmbeddingsConfig, dashscope_base
from core.errors import LLMError
from core.models import Paper, SimilarTo
from core.settings import Settings
from core.store import Store
from core.summarize.openai_api import error_kind, post_json
from core.text.similarity import LIKE_POINTS

log = logging.getLogger(__name__)

MAX_REPLY_BYTES = 20_000_000  # a batch of vectors as JSON numbers
MAX_TEXT_CHARS = 6_000  # title and abstract; an abstract is at most about 2,000 characters


class Embedder:
    """POST {base_url}/embeddings, as OpenAI documents it (DashScope's compatible mode too)."""

    def __init__(self, api_key: str, config: EmbeddingsConfig, base_url: str | None = None) -> None:
        self.config = config
        base = config.base_url or base_url or dashscope_base("cn", "compatible")
        self.url = base.rstrip("/") + "/embeddings"
        self._client = httpx.Client(headers={"Authorization": f"Bearer {api_key}"} if api_key else {})

    def embed(self, texts: list[str], timeout_s: float | None = None) -> tuple[list[list[float]], int]:
        """The texts' vectors, in order, and the tokens the call used, within ``timeout_s`` (at
        most ``timeout_s`` of the config). Raises LLMError."""
        timeout = self.config.timeout_s if timeout_s is None else min(timeout_s, self.config.timeout_s)
        request = {
            "model": self.config.model,
            "input": texts,
            "dimensions": self.config.dimensions,
            "encoding_format": "float",
        }
        try:
            status, reason, body = post_json(self._client, self.url, request, timeout, MAX_REPLY_BYTES)
        except httpx.HTTPError as exc:
            raise LLMError("transient", f"{self.url}: {type(exc).__name__}") from exc
        if status == 200 and isinstance(body, dict) and isinstance(body.get("data"), list):
            try:
                rows = sorted(body["data"], key=lambda row: int(row["index"]))
                vectors = [[float(x) for x in row["embedding"]] for row in rows]
                tokens = int((body.get("usage") or {}).get("total_tokens") or 0)
            except (KeyError, TypeError, ValueError) as exc:
                raise LLMError("transient", f"{self.url} sent a malformed reply ({type(exc).__name__})") from exc
            if len(vectors) != len(texts):
                raise LLMError("transient", f"{self.url} sent {len(vectors)} vectors for {len(texts)} texts")
            # json.loads reads NaN and Infinity (and 1e999 as infinity); one such number or a
            # vector of another length would spoil every similarity, so the whole reply is refused.
            dims = self.config.dimensions
            if (bad := next((i for i, v in enumerate(vectors) if not sound(v, dims)), None)) is not None:
                raise LLMError(
                    "transient", f"{self.url} sent a malformed reply (vector {bad} is not {dims} finite numbers)"
                )
            return vectors, tokens
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code, message = str(error.get("code") or ""), str(error.get("message") or reason)
        raise LLMError(error_kind(status, code), f"{self.url} {status} {code}: {message}")

    def close(self) -> None:
        self._client.close()


def vector_key(config: EmbeddingsConfig, paper: Paper) -> str:
    return f"{config.model}:{config.dimensions}:{paper.id}v{paper.version}"


def sound(vector: Sequence[float], dimensions: int) -> bool:
    """Exactly ``dimensions`` finite numbers: what a vector must be to be kept or compared."""
    return len(vector) == dimensions and all(map(math.isfinite, vector))


def encode(vector: Sequence[float]) -> str:
    """A unit vector as base64 of float32: 512 dimensions in 2.7 KB."""
    norm = math.hypot(*vector) or 1.0  # hypot: no overflow to infinity for large numbers
    return base64.b64encode(array("f", (x / norm for x in vector)).tobytes()).decode()


def decode(data: str) -> array[float]:
    return array("f", base64.b64decode(data))


def parse_cached(cached: Mapping[str, str], dimensions: int) -> dict[str, array[float]]:
    """The cached vectors that are sound. Before replies were checked, a NaN or short vector
    could be cached (for good on SQLite): such a one counts as missing, and is made again."""
    vectors: dict[str, array[float]] = {}
    for key, data in cached.items():
        try:
            vector = decode(data)
        except ValueError:  # not base64 of float32
            continue
        if sound(vector, dimensions):
            vectors[key] = vector
    return vectors


def text_of(paper: Paper) -> str:
    return f"{paper.display_title}\n\n{paper.display_abstract}"[:MAX_TEXT_CHARS]


@dataclass
class Embedded:
    vectors: dict[str, array[float]]  # by paper id
    complete: bool  # every paper asked for has a vector
    calls: int = 0
    message: str = ""


def embed_papers(
    papers: Sequence[Paper],
    config: Config,
    settings: Settings,
    store: Store,
    now: datetime,
    stop_at: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    embedder: Embedder | None = None,
) -> Embedded:
    """Vectors for ``papers``: from the store, or made now (at most ``embeddings.max_papers``
    this run, within the daily budget, before ``stop_at``) and kept."""
    ec = config.similarity.embeddings
    keys = {p.id: vector_key(ec, p) for p in papers}
    cached = parse_cached(store.load_vectors(list(dict.fromkeys(keys.values()))), ec.dimensions)
    todo = [p for p in papers if keys[p.id] not in cached]
    result = Embedded({p.id: cached[keys[p.id]] for p in papers if keys[p.id] in cached}, not todo)
    if not todo:
        return result
    api_key = settings.api_keys.get(ec.api_key_env) or (
        settings.dashscope_api_key if ec.api_key_env == "DASHSCOPE_API_KEY" else None
    )
    if embedder is None and not api_key:
        result.message = f"no {ec.api_key_env} is set for the embeddings"
        return result
    region_base = dashscope_base(config.summary.region, "compatible", settings.dashscope_base_url)
    client = embedder or Embedder(api_key or "", ec, region_base)
    budget, day = config.summary.daily_budget, now.strftime("%Y-%m-%d")
    try:
        for start in range(0, min(len(todo), ec.max_papers), ec.batch):
            batch = todo[start : min(start + ec.batch, ec.max_papers)]
            calls_used, tokens_used = store.add_usage(day, 0, 0)
            if calls_used >= budget.calls or tokens_used >= budget.tokens:
                result.message = "the daily budget (summary.daily_budget) is spent"
                break
            # A call gets what is left before stop_at, never its whole timeout: one started just
            # before the stop would otherwise run on past the function's limit.
            left = None if stop_at is None else stop_at - clock()
            if left is not None and left <= 0:
                result.message = "the run's time budget ran out"
                break
            vectors, tokens = client.embed([text_of(p) for p in batch], left)
            store.add_usage(day, 1, tokens)
            encoded = {keys[p.id]: encode(v) for p, v in zip(batch, vectors, strict=True)}
            store.save_vectors(encoded)
            result.vectors |= {p.id: decode(encoded[keys[p.id]]) for p in batch}
            result.calls += 1
    except LLMError as exc:
        cut = stop_at is not None and clock() >= stop_at
        result.message = "the run's time budget ran out" if cut else f"the embeddings endpoint failed: {exc.message}"
    finally:
        if embedder is None:
            client.close()
    result.complete = all(p.id in result.vectors for p in papers)
    if not result.complete and not result.message:
        result.message = f"{len(result.vectors)} of {len(papers)} papers have vectors so far (embeddings.max_papers)"
    return result


def most_like(paper: Paper, liked: Sequence[Paper], vectors: dict[str, array[float]]) -> SimilarTo | None:
    """The liked paper with the highest cosine to ``paper`` (vectors are unit length)."""
    mine = vectors[paper.id]
    best: tuple[float, Paper] | None = None
    for other in liked:
        theirs = vectors[other.id]
        if len(theirs) != len(mine):  # map stops at the shorter one: a meaningless cosine
            continue
        cosine = sum(map(operator.mul, mine, theirs))
        # A NaN similarity is stored as null, which no longer reads back as a paper.
        if not math.isfinite(cosine):
            continue
        if best is None or cosine > best[0]:
            best = (cosine, other)
    if best is None or best[0] <= 0:
        return None
    cosine = min(best[0], 1.0)
    return SimilarTo(
        id=best[1].id,
        title=best[1].display_title,
        similarity=round(cosine, 4),
        points=round(LIKE_POINTS * cosine, 2),
    )
