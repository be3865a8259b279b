"""The daily Markdown digest, in the layout of the bot arxiv-rss-bot replaces.

Pure: papers, config and refresh state in, Markdown out. Served at /digest.md and written by
``python -m core digest``.
"""

from __future__ import annotations

import re
from datetime import datetime

from core.config import Config
from core.models import Paper, RefreshState
from core.schedule import SCHEDULE_TEXT

DIGEST_TYPE = "text/markdown; charset=utf-8"
ABSTRACT_CHARS = 500
SCHEDULE = f"{SCHEDULE_TEXT}, after arXiv's RSS rebuild (arXiv announces Sunday to Thursday evenings, US Eastern)."
# Inside a line (every field here follows a label), only these mean something to Markdown:
# emphasis, code, links and images, raw HTML, tables, strikethrough, and the escape itself.
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>|~])")
_HEADING = re.compile(r"^(#{1,6})(?=\s)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"\[([^\]]*)\]\(((?:[^()]|\([^()]*\))*)\)")  # [text](target "title"), one level of ()
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(\s.*)?$")
SAFE_SCHEMES = ("http://", "https://")


def escape_markdown(text: str) -> str:
    """``text`` as literal inline Markdown: "Real-world (QST)" stays as it is, "*x*" does not
    become emphasis, "<img>" is not HTML."""
    return _MARKDOWN_INLINE.sub(r"\\\1", text)


def render_summary(markdown: str, below: int) -> str:
    """A model's Markdown for inside a paper's section: its headings moved ``below`` levels
    down (the paper is a level-3 heading), raw HTML shown as text, only http(s) links kept."""
    lines, fenced = [], False
    for line in markdown.strip().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            line = _HEADING.sub(lambda m: "#" * min(len(m.group(1)) + below, 6), line)
            if (ref := _REFERENCE.match(line)) and not ref.group(1).lower().startswith(SAFE_SCHEMES):
                continue  # a link definition to anything but the web: dropped
            line = _LINK.sub(_safe_link, line)
        lines.append(line.replace("<", "&lt;").replace(">", "&gt;"))
    return "\n".join(lines)


def _safe_link(link: re.Match[str]) -> str:
    text, inside = link.group(1), link.group(2).strip()
    target = inside.split()[0].strip("<>") if inside else ""
    return link.group(0) if target.lower().startswith(SAFE_SCHEMES) else text


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
        f"**Category**: {escape_markdown(', '.join(paper.categories))}  ",
        f"**Published**: {paper.announced.strftime('%Y-%m-%d')}  ",
        f"**Score**: {paper.match.score:g}  ",
        f"**Type**: {escape_markdown(paper.announce_type)}  ",
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
            render_summary(paper.summary.markdown, below=2),  # its "## Main contributions" -> ####
            "",
            "</details>",
            "",
        ]
    return [*lines, "---", ""]


def _utc(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "never"
