"""Model-written Markdown to safe HTML, for feed items and the index page.

markdown-it-py with raw HTML disabled: a model's ``<script>`` or ``<img onerror>`` comes out
as escaped text, and its link validation refuses ``javascript:``/``data:`` URLs.
"""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt

from core.text.latex import strip_illegal


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def render_markdown(text: str) -> str:
    """HTML for clean Markdown, clean itself: a character reference (``&#12;``) decodes to the
    character it names, so what markdown-it makes is cleaned of XML-illegal ones too."""
    return strip_illegal(_parser().render(text))
