"""The daily Markdown digest, in the layout of the bot arxiv-rss-bot replaces.

Pure: papers, config and refresh state in, Markdown out. Served at /digest.md and written by
``python -m core digest``.
"""

from __future__ import annotations

import re
from datetime import datetime

from core.config import Config
from core.cron import REFRESH_AT_UTC
from core.models import Paper, RefreshState

DIGEST_TYPE = "text/markdown; charset=utf-8"
ABSTRACT_CHARS = 500
SCHEDULE = (
    f"Updated every day at {REFRESH_AT_UTC} UTC, after arXiv's RSS rebuild "
    "(arXiv announces Sunday to Thursday evenings, US Eastern)."
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def escape_markdown(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def shorten(text: str, limit: int = ABSTRACT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def render_digest(papers: list[Paper], config: Config, state: RefreshState) -> str:
    updated = state.last_success_at
    lines = [
        f"# {escape_markdown(config.title)}: arXiv digest",
        "",
        "## 📊 Statistics",
        "",
        f"- **Last updated**: {_utc(updated)}",
        f"- **Total papers**: {len(papers)}",
        f"- **Categories monitored**: {', '.join(config.categories)}",
        "",
        "## 📚 Papers",
        "",
    ]
    if not papers:
        lines += ["No papers match the configured keywords yet.", ""]
    for number, paper in enumerate(papers, 1):
        lines += _paper(number, paper)
    keywords = ", ".join(f"`{k}`" for k in config.keywords) or "(none: every paper is kept)"
    lines += ["## 🔍 Keywords", "", keywords, ""]
    if config.exclude_keywords:
        lines += ["Excluded: " + ", ".join(f"`{k}`" for k in config.exclude_keywords), ""]
    lines += ["## ⏰ Schedule", "", SCHEDULE, ""]
    return "\n".join(lines)


def _paper(number: int, paper: Paper) -> list[str]:
    lines = [
        f"### {number}. [{escape_markdown(paper.display_title)}]({paper.abs_url})",
        "",
        f"**Authors**: {escape_markdown(', '.join(paper.display_authors))}  ",
        f"**Category**: {', '.join(paper.categories)}  ",
        f"**Published**: {paper.announced.strftime('%Y-%m-%d')}  ",
        f"**Score**: {paper.match.score:g}  ",
        f"**Type**: {paper.announce_type}  ",
        f"**arXiv ID**: [{paper.versioned_id}]({paper.abs_url}) · [PDF]({paper.pdf_url})",
        "",
        f"**Abstract**: {escape_markdown(shorten(paper.display_abstract))}",
        "",
    ]
    if paper.summary is not None and paper.summary.status == "ok":
        lines += [
            "<details>",
            f"<summary>🤖 AI summary ({paper.summary.model})</summary>",
            "",
            # The model's Markdown, with any raw HTML in it shown as text.
            paper.summary.markdown.strip().replace("<", "&lt;").replace(">", "&gt;"),
            "",
            "</details>",
            "",
        ]
    return [*lines, "---", ""]


def _utc(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "never"
