"""Any OpenAI-compatible chat endpoint over httpx: DeepSeek, OpenAI, DashScope's compatible
mode, a local Ollama or vLLM."""

from __future__ import annotations

import httpx

from core.errors import LLMError
from core.summarize import Completion


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
            response = self._client.post(self.url, json=request, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise LLMError("transient", f"{self.url}: {type(exc).__name__}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and isinstance(body, dict) and body.get("choices"):
            try:
                text = body["choices"][0]["message"]["content"] or ""
                tokens = int((body.get("usage") or {}).get("total_tokens") or 0)
            except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
                raise LLMError("transient", f"{self.url} sent a malformed reply ({type(exc).__name__})") from exc
            return Completion(text=str(text), tokens=tokens)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code, message = str(error.get("code") or ""), str(error.get("message") or response.reason_phrase)
        text = f"{self.url} {response.status_code} {code}: {message}"
        if response.status_code == 429:
            return_kind = "rate_limit"
        elif "inspection" in code.lower() or code == "content_filter":
            return_kind = "rejected"
        elif response.status_code in (401, 403):
            return_kind = "auth"
        elif response.status_code >= 500 or response.status_code == 200:
            return_kind = "transient"  # a 200 without choices is a malformed reply
        else:
            return_kind = "invalid"
        raise LLMError(return_kind, text)
