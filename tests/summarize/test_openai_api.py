"""core.summarize.openai_api: what an OpenAI-compatible endpoint receives, over real httpx."""

from __future__ import annotations

from core.arxiv.rss import parse_feed
from core.refresh.catalog import merge_papers
from core.summarize.openai_api import OpenAISummarizer
from core.summarize.prompt import build_messages
from tests.arxiv_fake import COMBINED, read
from tests.dashscope_fake import FakeDashScope


def test_one_system_message_and_it_comes_first(dashscope: FakeDashScope) -> None:
    """Qwen3's open-weight chat templates (vLLM, Ollama) refuse a system message that is not
    first ("System message must be at the beginning", vllm-project/vllm#41114)."""
    paper = merge_papers([], parse_feed(read(COMBINED)).papers)[0][0]
    summarizer = OpenAISummarizer("sk-test", "qwen3-8b", dashscope.compatible_base)
    summarizer.complete(build_messages(paper, "en", paper.abstract), timeout_s=5, max_tokens=500)
    (call,) = dashscope.calls
    roles = [m["role"] for m in call.messages]
    assert roles == ["system", "user"]
    assert paper.abstract[:200] in call.content("system")  # the paper, in that one system message
    assert "research assistant" in call.content("system")  # and the role with it
    assert call.max_tokens == 500
