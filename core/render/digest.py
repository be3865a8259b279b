"""The daily Markdown digest, in the layout of the bot arxiv-rss-bot replaces (its README):
the title, statistics, the ranked papers (each with its fields, its whole abstract under
"#### Abstract" and its AI summary folded under "AI Summary (by <model>) - Click to expand"),
a section per topic and one for the papers like the liked ones, keywords, schedule.

Pure: papers, config and refresh state in, Markdown out. Served at /digest and /digest.md and
written by ``python -m core digest``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.config import Config
from core.models import Paper, RefreshState
from core.schedule import SCHEDULE_TEXT

DIGEST_TYPE = "text/markdown; charset=utf-8"
SUMMARY_LEVEL = 4  # a summary's own headings sit at the abstract's level, under the paper's ###
SCHEDULE = f"{SCHEDULE_TEXT}, after arXiv's RSS rebuild (arXiv announces Sunday to Thursday evenings, US Eastern)."
# Inside a line (every field here follows a label), only these mean something to Markdown:
# emphasis, code, links and images, raw HTML, tables, strikethrough, and the escape itself.
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>|~])")
_HEADING = re.compile(r"^(#{1,6})(?=\s)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"\[([^\]]*)\]\(((?:[^()]|\([^()]*\))*)\)")  # [text](target "title"), one level of ()
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(\s.*)?$")
SAFE_SCHEMES = ("http://", "https://")
_BLOCK_START = re.compile(r"^(\d{0,9})([#+=-]|[.)](?=\s|$))")


def escape_markdown(text: str) -> str:
    """``text`` as literal inline Markdown: "Real-world (QST)" stays as it is, "*x*" does not
    become emphasis, "<img>" is not HTML."""
    return _MARKDOWN_INLINE.sub(r"\\\1", text)


def escape_paragraph(text: str) -> str:
    """``text`` as a literal paragraph of its own: inline Markdown escaped, and a start that
    would open a heading, a list or a quote ("# 1", "- x", "2. x") escaped too."""
    escaped = escape_markdown(text)
    if _BLOCK_START.match(escaped):
        return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped, count=1)
    return escaped


def render_summary(markdown: str, level: int = SUMMARY_LEVEL) -> str:
    """A model's Markdown for inside a paper's section: its top headings moved to ``level``
    (whatever level the model wrote them at; deeper ones keep their distance), raw HTML shown
    as text, only http(s) links kept."""
    lines, fenced = [], False
    found = [len(m.group(1)) for m in map(_HEADING.match, _outside_code(markdown)) if m]
    shift = level - min(found, default=level)
    for line in markdown.strip().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            line = _HEADING.sub(lambda m: "#" * min(max(len(m.group(1)) + shift, level), 6), line)
            if (ref := _REFERENCE.match(line)) and not ref.group(1).lower().startswith(SAFE_SCHEMES):
                continue  # a link definition to anything but the web: dropped
            line = _LINK.sub(_safe_link, line)
        lines.append(line.replace("<", "&lt;").replace(">", "&gt;"))
    return "\n".join(lines)


def _outside_code(markdown: str) -> list[str]:
    lines, fenced = [], False
    for line in markdown.strip().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def _safe_link(link: re.Match[str]) -> str:
    text, inside = link.group(1), link.group(2).strip()
    target = inside.split()[0].strip("<>") if inside else ""
    return link.group(0) if target.lower().startswith(SAFE_SCHEMES) else text


@dataclass(frozen=True)
class Section:
    """A list of papers under its own heading: a topic, or the papers like the liked ones."""

    heading: str
    papers: Sequence[Paper]
    empty: str  # said when it has none


def render_digest(papers: list[Paper], config: Config, state: RefreshState, sections: Sequence[Section] = ()) -> str:
    updated = state.last_success_at
    lines = [
        f"# {escape_markdown(config.title)}",
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
    for section in sections:
        lines += [f"## {escape_markdown(section.heading)}", ""]
        if not section.papers:
            lines += [section.empty, ""]
        for number, paper in enumerate(section.papers, 1):
            lines += _paper(number, paper)
    keywords = ", ".join(f"`{k}`" for k in config.keywords) or "(none: every paper is kept)"
    lines += ["## 🔍 Keywords", "", keywords, ""]
    if config.exclude_keywords:
        lines += ["Excluded: " + ", ".join(f"`{k}`" for k in config.exclude_keywords), ""]
    lines += ["## ⏰ Schedule", "", SCHEDULE, ""]
    return "\n".join(lines)


def _paper(number: int, paper: Paper) -> list[str]:
    why = f"{paper.match.score:g}"
    if paper.match.similar is not None:
        why += f" ({round(paper.match.similar.similarity * 100)}% alike {paper.match.similar.id})"
    lines = [
        f"### {number}. [{escape_markdown(paper.display_title)}]({paper.abs_url})",
        "",
        f"**Authors**: {escape_markdown(', '.join(paper.display_authors))}  ",
        f"**Category**: {escape_markdown(', '.join(paper.categories))}  ",
        f"**Published**: {paper.announced.strftime('%Y-%m-%d')}  ",
        f"**Score**: {why}  ",
        f"**Type**: {escape_markdown(paper.announce_type)}  ",
        f"**arXiv ID**: [{paper.versioned_id}]({paper.abs_url}) · [PDF]({paper.pdf_url})",
        "",
        "#### Abstract",
        "",
        escape_paragraph(" ".join(paper.display_abstract.split())),
        "",
    ]
    if paper.summary is not None and paper.summary.status == "ok":
        lines += [
            "<details>",
            f"<summary>🤖 AI Summary (by {html.escape(paper.summary.model)}) - Click to expand</summary>",
            "",
            render_summary(paper.summary.markdown),
            "",
            "</details>",
            "",
        ]
    return [*lines, "---", ""]


def _utc(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "never"
