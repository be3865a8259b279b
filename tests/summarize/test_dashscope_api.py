"""core.summarize.dashscope_api: the dashscope SDK against a loopback DashScope of one region."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from core.arxiv.rss import parse_feed
from core.config import parse_config
from core.errors import LLMError
from core.refresh.catalog import merge_papers
from core.refresh.embeddings import embed_papers
from core.settings import Settings
from core.store.sqlite import SqliteStore
from core.summarize import open_summarizer
from core.summarize.prompt import build_messages
from tests.arxiv_fake import COMBINED, read
from tests.dashscope_fake import FakeDashScope
from tests.refresh.test_embeddings import NOW


@pytest.fixture
def singapore() -> Iterator[FakeDashScope]:
    fake = FakeDashScope(region="intl")
    with fake.server:
        yield fake


def test_an_international_key_gets_qwen_plus_and_regional_embeddings(
    singapore: FakeDashScope, settings: Settings
) -> None:
    """With only ``"region": "intl"``, chat and embeddings both go to the Singapore endpoint
    with models it offers."""
    keyed = dataclasses.replace(settings, dashscope_api_key="sk-test", dashscope_base_url=singapore.server.url)
    config = parse_config({"summary": {"region": "intl"}, "similarity": {"model": "embeddings"}})
    paper = merge_papers([], parse_feed(read(COMBINED)).papers)[0][0]
    summarizer = open_summarizer(config.summary, keyed)
    assert summarizer is not None
    completion = summarizer.complete(build_messages(paper, "en", paper.abstract), 10, config.summary.max_output_tokens)
    assert "by qwen-plus" in completion.text
    embedded = embed_papers([paper], config, keyed, SqliteStore(keyed.data_dir / "v.sqlite3"), NOW)
    assert embedded.complete
    assert singapore.embedding_calls == [1]


def test_a_beijing_only_model_is_refused_at_the_singapore_endpoint(
    singapore: FakeDashScope, settings: Settings
) -> None:
    """As DashScope answers it (404 ModelNotFound): an error that says what to change, not a retry."""
    keyed = dataclasses.replace(settings, dashscope_api_key="sk-test", dashscope_base_url=singapore.server.url)
    config = parse_config({"summary": {"region": "cn"}})  # qwen-long, sent to the wrong region's endpoint
    summarizer = open_summarizer(config.summary, keyed)
    assert summarizer is not None
    paper = merge_papers([], parse_feed(read(COMBINED)).papers)[0][0]
    with pytest.raises(LLMError) as caught:
        summarizer.complete(build_messages(paper, "en", paper.abstract), 10, 2_000)
    assert caught.value.kind == "auth"
    assert "ModelNotFound" in caught.value.message
    assert "summary.model" in caught.value.hint


def test_the_stand_in_enforces_qwen_longs_output_limit(dashscope: FakeDashScope, settings: Settings) -> None:
    keyed = dataclasses.replace(settings, dashscope_api_key="sk-test", dashscope_base_url=dashscope.native_base)
    summarizer = open_summarizer(parse_config({}).summary, keyed)
    assert summarizer is not None
    paper = merge_papers([], parse_feed(read(COMBINED)).papers)[0][0]
    messages = build_messages(paper, "en", paper.abstract)
    assert summarizer.complete(messages, 10, 8_192).text
    with pytest.raises(LLMError, match=r"max_tokens should be \[1, 8192\]"):
        summarizer.complete(messages, 10, 16_000)
