"""Text hygiene shared by parsing and rendering: XML-safe, whitespace-tidy strings."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

# XML 1.0 allows tab, newline and carriage return below 0x20; arXiv abstracts sometimes carry
# others (form feed, \x0c), and feedgen/lxml refuse them, so they are removed on the way in.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """Drop XML-illegal characters and fold runs of white space into one space."""
    return _SPACES.sub(" ", _ILLEGAL_XML.sub(" ", value)).strip()


def strip_illegal(value: str) -> str:
    """Drop XML-illegal characters, keeping line breaks."""
    return _ILLEGAL_XML.sub("", value)


@lru_cache(maxsize=20_000)  # pylatexenc is slow; a refresh meets the same texts again and again
def latex_to_unicode(text: str) -> str:
    """Readable text for titles and abstracts: ``$\\mathcal{O}(n)$`` -> "𝒪(n)", ``\\emph{x}`` -> "x".

    Text without LaTeX is returned as it is. A literal "%" is escaped first: to LaTeX it starts
    a comment, and "5% faster" must not lose the rest of the abstract.
    """
    if "\\" not in text and "$" not in text:
        return text
    try:
        converted = _latex().latex_to_text(text.replace("%", "\\%"))
    except Exception:  # pylatexenc raises assorted errors on malformed LaTeX: show the original
        return text
    if "%s" in converted:  # a macro that lacked its arguments comes out as its template
        return text
    return clean_text(converted) or text


@cache
def _latex() -> Any:
    from pylatexenc.latex2text import LatexNodes2Text  # only the refresh converts

    return LatexNodes2Text(math_mode="text")
