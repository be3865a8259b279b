"""core.render.digest: the daily Markdown digest, from the app, the CLI and the pure renderer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt

from core.config import Config, parse_config
from core.models import RefreshState, Summary
from core.render.digest import Section, escape_markdown, render_digest
from core.settings import Settings
from core.store import Store
from tests.arxiv_fake import FakeArxiv
from tests.conftest import process_env
from tests.papers import make_paper

ROOT = Path(__file__).parents[2]


def test_digest_has_one_section_per_paper(served: TestClient, store: Store, config: Config) -> None:
    assert served.get("/digest").text == served.get("/digest.md").text  # /digest serves it too
    response = served.get("/digest.md")
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    text = response.text
    tokens = MarkdownIt("commonmark").parse(text)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h3"]
    assert len(headings) == 50
    assert headings[0].startswith("1. [")
    assert "- **Total papers**: 50" in text
    assert "- **Categories monitored**: cs.AI, cs.LG, cs.CL" in text
    assert "## 🔍 Keywords" in text
    assert "## ⏰ Schedule" in text
    assert "**arXiv ID**: [" in text


def test_digest_escapes_titles_and_folds_summaries() -> None:
    summary = Summary(
        markdown="## Main\n<script>x</script>",
        model="qwen-long",
        provider="dashscope",
        language="en",
        created=make_paper().announced,
    )
    paper = make_paper("A *bold* [claim] about #hashtags_and_more", "Short.", summary=summary)

    text = render_digest([paper], parse_config({"keywords": ["claim"]}), RefreshState())
    assert r"A \*bold\* \[claim\] about #hashtags\_and\_more" in text
    assert escape_markdown("a|b") == r"a\|b"
    assert "<details>\n<summary>🤖 AI Summary (by qwen-long) - Click to expand</summary>" in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text
    assert "- **Last updated**: never" in text


@pytest.mark.slow
def test_digest_command_writes_a_file(
    arxiv_server: FakeArxiv, settings: Settings, config_path: Path, tmp_path: Path
) -> None:
    env = process_env(settings)
    assert (
        subprocess.run([sys.executable, "-m", "core", "refresh"], cwd=ROOT, env=env, capture_output=True).returncode
        == 0
    )
    out = tmp_path / "digest.md"
    result = subprocess.run(
        [sys.executable, "-m", "core", "digest", "-o", str(out)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().count("\n### ") == 50


def test_digest_follows_the_original_layout() -> None:
    """The original bot's README: one title, the whole abstract under "#### Abstract", the
    summary folded with "AI Summary (by <model>) - Click to expand", its headings one level
    under the paper's, and a section per topic and for the liked papers."""
    abstract = "We study " + "a long abstract sentence that goes on. " * 30 + "The end."
    summary = Summary(
        markdown="### Main contributions\nText.\n#### Detail\nMore.",  # deeper than the prompt asks
        model="qwen-long",
        provider="dashscope",
        language="en",
        created=make_paper().announced,
    )
    paper = make_paper("Attention", abstract, summary=summary)
    topic = Section("🏷️ Topic: Agents", [make_paper("Agents at work", "2. Agents.", id="2411.00002")], "none")
    empty = Section("✨ For you", [], "No stored paper is like the papers you like yet.")
    config = parse_config({"keywords": ["attention"], "min_score": 0})
    text = render_digest([paper], config, RefreshState(), [topic, empty])
    tokens = MarkdownIt("commonmark").parse(text)
    heads = [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert heads[0] == ("h1", "arXiv radar")  # not "arXiv radar: arXiv digest"
    assert [h for h in heads if h[0] == "h1"] == [heads[0]]
    assert ("h4", "Abstract") in heads
    assert ("h4", "Main contributions") in heads  # not demoted to h6
    assert ("h5", "Detail") in heads
    assert ("h2", "🏷️ Topic: Agents") in heads
    assert ("h2", "✨ For you") in heads
    assert heads.index(("h2", "🏷️ Topic: Agents")) < heads.index(("h2", "🔍 Keywords"))
    assert "The end." in text  # whole, not cut at 500 characters
    assert "…" not in text
    assert "\n2\\. Agents.\n" in text  # an abstract starting "2." stays a paragraph, not a list
    assert "<summary>🤖 AI Summary (by qwen-long) - Click to expand</summary>" in text
    assert "No stored paper is like the papers you like yet." in text


def test_only_what_markdown_needs_is_escaped() -> None:
    """Fields sit inside lines: "Real-world (QST)" and "A. V. Baeva" need no backslashes."""
    for text in ("Real-world (QST) results", "A. V. Baeva", "1. item", "+5% #1 !"):
        assert escape_markdown(text) == text
    rendered = MarkdownIt("commonmark").render(f"**Authors**: {escape_markdown('*x* [y](z) <b>w</b> a_b_c')}")
    assert "<em>" not in rendered
    assert "<a " not in rendered
    assert "<b>" not in rendered
    assert "*x* [y](z) &lt;b&gt;w&lt;/b&gt; a_b_c" in rendered


def test_summary_headings_sit_below_the_papers_heading_and_only_web_links_stay() -> None:
    summary = Summary(
        markdown="## Main contributions\n[code](https://github.com/a/b) [x](javascript:alert(1))\n"
        "[ref]: data:text/html,evil\n```\n## not a heading\n```",
        model="qwen-long",
        provider="dashscope",
        language="en",
        created=make_paper().announced,
    )
    hostile = make_paper("T", "A.", summary=summary, categories=["<img src=x onerror=alert(1)>"])
    text = render_digest([hostile], parse_config({"min_score": 0}), RefreshState())
    html = MarkdownIt("commonmark").render(text)
    assert "### 1. [T](https://arxiv.org/abs/2411.00001)" in text
    assert "#### Main contributions" in text
    assert "<h2>Main contributions" not in html  # under the paper (h3), not beside the digest's h2s
    assert 'href="https://github.com/a/b"' in html
    assert "javascript:" not in html
    assert "data:text" not in text
    assert "<img" not in html  # the category is text, not HTML
    assert "## not a heading" in text  # code blocks are left as they are
