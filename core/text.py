"""Text hygiene shared by parsing and rendering: XML-safe, whitespace-tidy strings."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.models import Paper

# XML 1.0 allows tab, newline and carriage return below 0x20; arXiv abstracts sometimes carry
# others (form feed, \x0c), and feedgen/lxml refuse them, so they are removed on the way in.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"\s+")
_BARE_PERCENT = re.compile(r"(?<!\\)%")


def clean_text(value: str) -> str:
    """Drop XML-illegal characters and fold runs of white space into one space."""
    return _SPACES.sub(" ", _ILLEGAL_XML.sub(" ", value)).strip()


def strip_illegal(value: str) -> str:
    """Drop XML-illegal characters, keeping line breaks."""
    return _ILLEGAL_XML.sub("", value)


@lru_cache(maxsize=20_000)  # pylatexenc is slow; a refresh meets the same texts again and again
def latex_to_unicode(text: str) -> str:
    """Readable text for titles and abstracts: ``$\\mathcal{O}(n)$`` -> "𝒪(n)", ``\\emph{x}`` -> "x".

    Text without LaTeX is returned as it is. A bare "%" is escaped first: to LaTeX it starts a
    comment, and "5% faster" must not lose the rest of the abstract. One arXiv escaped already
    ("5\\% faster") is left alone: escaped again it would be a line break and a comment.
    """
    if "\\" not in text and "$" not in text:
        return text
    try:
        converted = _latex().latex_to_text(_BARE_PERCENT.sub(r"\\%", text))
    except Exception:  # pylatexenc raises assorted errors on malformed LaTeX: show the original
        return text
    if "%s" in converted:  # a macro that lacked its arguments comes out as its template
        return text
    return clean_text(converted) or text


@cache
def _latex() -> Any:
    from pylatexenc.latex2text import LatexNodes2Text  # only the refresh converts

    return LatexNodes2Text(math_mode="text")


def readable(paper: Paper) -> Paper:
    """The paper with its LaTeX converted to Unicode for showing and matching, once per paper
    (pylatexenc is slow): "Michal Hajdu\\v{s}ek" is shown "Michal Hajdušek"."""
    update: dict[str, object] = {}
    if not paper.title_text:
        abstract = latex_to_unicode(paper.abstract)
        # The title is always set (it marks the paper as converted); the abstract only when it
        # differs, so stored papers do not carry their abstract twice.
        update |= {
            "title_text": latex_to_unicode(paper.title),
            "abstract_text": "" if abstract == paper.abstract else abstract,
        }
    if authors_to_convert(paper):
        update["authors_text"] = [latex_to_unicode(name) for name in paper.authors]
    return paper.model_copy(update=update) if update else paper


def authors_to_convert(paper: Paper) -> bool:
    return not paper.authors_text and any("\\" in name or "$" in name for name in paper.authors)
