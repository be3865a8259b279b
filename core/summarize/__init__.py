"""AI summaries: a Summariser interface, its providers, and the choice between them.

Providers live one per module (``dashscope_api``, ``openai_api``); their SDKs are imported only
when summaries are made, never on the feed-serving path. ``pipeline`` runs the summary stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.config import SummaryConfig, dashscope_base
from core.settings import Settings


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int


class Summarizer(Protocol):
    provider: str
    model: str

    def complete(self, messages: list[dict[str, str]], timeout_s: float, max_tokens: int) -> Completion:
        """One chat completion of at most ``max_tokens``. Raises LLMError with the kind of failure."""


@dataclass(frozen=True)
class SummaryStatus:
    enabled: bool
    message: str  # a sentence for /health and the index page


def status(config: SummaryConfig, settings: Settings) -> SummaryStatus:
    """Whether summaries can be made, and why (not)."""
    if config.provider == "none" or config.max_papers == 0:
        return SummaryStatus(False, "summaries are turned off in config.json")
    if config.provider == "dashscope" and not settings.dashscope_api_key:
        return SummaryStatus(False, "no DASHSCOPE_API_KEY is set, so papers are served without AI summaries")
    if config.provider == "openai":
        if not config.base_url:
            return SummaryStatus(False, "summary.base_url is not set for the openai provider")
        if not settings.api_keys.get(config.api_key_env) and not _is_local(config.base_url):
            return SummaryStatus(False, f"no {config.api_key_env} is set, so papers are served without AI summaries")
    where = f", region {config.region}" if config.provider == "dashscope" else ""
    return SummaryStatus(True, f"summaries by {config.model} ({config.provider}{where})")


def open_summarizer(config: SummaryConfig, settings: Settings) -> Summarizer | None:
    if not status(config, settings).enabled:
        return None
    if config.provider == "dashscope":
        from core.summarize.dashscope_api import DashScopeSummarizer

        base = dashscope_base(config.region, "native", settings.dashscope_base_url)
        return DashScopeSummarizer(settings.dashscope_api_key or "", config.model, base)
    from core.summarize.openai_api import OpenAISummarizer

    return OpenAISummarizer(settings.api_keys.get(config.api_key_env, ""), config.model, config.base_url or "")


def _is_local(url: str) -> bool:
    """A local Ollama or vLLM needs no key."""
    return url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))
