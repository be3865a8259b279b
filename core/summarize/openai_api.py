"""Any OpenAI-compatible chat endpoint over httpx: DeepSeek, OpenAI, DashScope's compatible
mode, a local Ollama or vLLM."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from core.errors import LLMError, LLMErrorKind
from core.summarize import Completion

MAX_REPLY_BYTES = 2_000_000  # a summary is a few KB; a reply far larger is refused unread


class OpenAISummarizer:
    provider = "openai"

    def __init__(self, api_key: str, model: str, base_url: str) -> None:
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers)

    def complete(self, messages: list[dict[str, str]], timeout_s: float, max_tokens: int) -> Completion:
        request = {"model": self.model, "messages": messages, "max_tokens": max_tokens}
        try:
            status, reason, body = self._post(request, timeout_s)
        except httpx.HTTPError as exc:
            raise LLMError("transient", f"{self.url}: {type(exc).__name__}") from exc
        if status == 200 and isinstance(body, dict) and body.get("choices"):
            try:
                text = body["choices"][0]["message"]["content"] or ""
                tokens = int((body.get("usage") or {}).get("total_tokens") or 0)
            except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
                raise LLMError("transient", f"{self.url} sent a malformed reply ({type(exc).__name__})") from exc
            return Completion(text=str(text), tokens=tokens)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code, message = str(error.get("code") or ""), str(error.get("message") or reason)
        raise LLMError(error_kind(status, code), f"{self.url} {status} {code}: {message}")

    def _post(self, request: dict[str, Any], timeout_s: float) -> tuple[int, str, Any]:
        return post_json(self._client, self.url, request, timeout_s, MAX_REPLY_BYTES)


def post_json(
    client: httpx.Client, url: str, request: dict[str, Any], timeout_s: float, max_bytes: int
) -> tuple[int, str, Any]:
    """POST ``request`` as JSON within ``timeout_s`` in all (httpx's timeout is per read) and at
    most ``max_bytes`` read; returns the status, its reason and the decoded JSON (or None)."""
    end = time.monotonic() + timeout_s
    with client.stream("POST", url, json=request, timeout=timeout_s) as response:
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise LLMError("transient", f"{url} sent a reply over {max_bytes:,} bytes")
            if time.monotonic() > end:
                raise httpx.ReadTimeout(f"the reply took longer than {timeout_s:.0f} s")
    try:
        return response.status_code, response.reason_phrase, json.loads(body)
    except ValueError:
        return response.status_code, response.reason_phrase, None


def error_kind(status: int, code: str) -> LLMErrorKind:
    if status == 429:
        return "rate_limit"
    if "inspection" in code.lower() or code == "content_filter":
        return "rejected"
    if status in (401, 403):
        return "auth"
    if status >= 500 or status == 200:  # a 200 without choices is a malformed reply
        return "transient"
    return "invalid"
