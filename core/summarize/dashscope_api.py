"""DashScope (Qwen) through the ``dashscope`` SDK's native text-generation endpoint.

The SDK answers errors with a response carrying a code (``Throttling.RateQuota``,
``DataInspectionFailed``, ``InvalidApiKey``...) rather than raising; network failures raise
``requests`` exceptions. Both become ``LLMError`` with the kind the pipeline acts on.
"""

from __future__ import annotations

import math
from typing import Any

from core.errors import LLMError
from core.summarize import Completion


class DashScopeSummarizer:
    provider = "dashscope"

    def __init__(self, api_key: str, model: str, base_url: str) -> None:
        from dashscope import Generation  # the SDK is heavy: imported only when summaries are made

        self._generation = Generation
        self.api_key = api_key
        self.model = model
        self.base_url = base_url

    def complete(self, messages: list[dict[str, str]], timeout_s: float, max_tokens: int) -> Completion:
        import requests

        try:
            response: Any = self._generation.call(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                api_key=self.api_key,
                result_format="message",
                max_tokens=max_tokens,
                base_address=self.base_url,
                request_timeout=max(1, math.ceil(timeout_s)),
            )
        except requests.exceptions.RequestException as exc:
            raise LLMError("transient", f"DashScope request failed: {type(exc).__name__}") from exc
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # the SDK choking on a malformed reply
            raise LLMError("transient", f"DashScope sent a malformed reply ({type(exc).__name__}: {exc})") from exc
        if response.status_code == 200:
            return _completion(response)
        raise classify(int(response.status_code), str(response.code or ""), str(response.message or ""))


def _completion(response: Any) -> Completion:
    """The text and token count of a 200 answer; a reply of another shape is a transient error."""
    try:
        text = response.output.choices[0].message.content or ""
        usage = response.usage or {}
        tokens = int(usage.get("total_tokens") or usage.get("input_tokens", 0) + usage.get("output_tokens", 0))
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise LLMError("transient", f"DashScope sent a malformed reply ({type(exc).__name__}: {exc})") from exc
    if not isinstance(text, str):
        raise LLMError("transient", f"DashScope sent a {type(text).__name__} where the summary text belongs")
    return Completion(text=text, tokens=tokens)


def classify(status: int, code: str, message: str) -> LLMError:
    text = f"DashScope {status} {code}: {message}".strip()
    if code.startswith("Throttling") or status == 429:
        return LLMError("rate_limit", text, "the run backs off; the rest is summarised later")
    if code == "DataInspectionFailed" or "data_inspection" in code.lower():
        return LLMError("rejected", text)
    if code in ("InvalidApiKey", "AccessDenied") or status in (401, 403):
        return LLMError("auth", text, "check DASHSCOPE_API_KEY and summary.region in config.json")
    if code == "ModelNotFound" or status == 404:  # a model not offered in the key's region
        return LLMError("auth", text, "name a model your region offers in summary.model, or leave it out")
    if status >= 500:
        return LLMError("transient", text)
    return LLMError("invalid", text)
