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
    escaped = _BARE_PERCENT.sub(r"\\%", text)
    try:
        converted = by_parts(escaped)
    except Exception:  # a part pylatexenc refuses on its own: try the whole
        converted = None
    if converted is None:
        try:
            converted = _to_text(escaped)
        except Exception:  # pylatexenc raises assorted errors on malformed LaTeX: show the original
            return text
    if "%s" in converted:  # a macro that lacked its arguments comes out as its template
        return text
    return clean_text(converted) or text


# What pylatexenc makes of plain text (no backslash, no "$"): its "specials", read left to right
# taking the longest at each place ("!``" is "¡`"), and braces dropped.
_SPECIALS = {
    "---": "\u2014",
    "--": "\u2013",
    "``": "\u201c",
    "''": "\u201d",
    "!`": "\u00a1",
    "?`": "\u00bf",
    "~": "\u00a0",
    "&": "   ",
}
_SPECIAL = re.compile("|".join(map(re.escape, _SPECIALS)))
_INLINE_MATH = re.compile(r"(\$[^$]*\$)")
_WORD_WITH_LATEX = re.compile(r"\S*\\\S*")
_ENDS_IN_MACRO = re.compile(r"\\[A-Za-z]+$")
_WHOLE_ONLY = ("$$", "\\(", "\\[", "\\begin")  # delimiters a part cannot be cut around


def by_parts(text: str) -> str | None:
    """pylatexenc's conversion of ``text`` (``%`` escaped), made by converting only the parts
    that hold LaTeX: each inline ``$...$`` and each word with a backslash. The plain text
    between gets the few substitutions pylatexenc makes there. An abstract is mostly plain
    text with a formula or two, so this is a fraction of the work; None when a part cannot be
    cut out cleanly (braces across parts, display math, a macro whose argument follows a
    space): then the whole text is converted."""
    if any(mark in text for mark in _WHOLE_ONLY) or text.count("$") % 2:
        return None
    out = []
    for position, part in enumerate(_INLINE_MATH.split(text)):
        if position % 2:
            if not _balanced(part):
                return None
            out.append(_to_text(part))
            continue
        start = 0
        for word in _WORD_WITH_LATEX.finditer(part):
            if not _balanced(word[0]) or _ENDS_IN_MACRO.search(word[0]):
                return None
            between = part[start : word.start()]
            if not _balanced(between):
                return None
            out += [_plain(between), _to_text(word[0])]
            start = word.end()
        if not _balanced(part[start:]):
            return None
        out.append(_plain(part[start:]))
    return "".join(out)


def _plain(text: str) -> str:
    return _SPECIAL.sub(lambda special: _SPECIALS[special[0]], text).replace("{", "").replace("}", "")


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _to_text(latex: str) -> str:
    converter, context = _latex()
    return str(converter.latex_to_text(latex, latex_context=context))


@cache
def _latex() -> tuple[Any, Any]:
    """pylatexenc's converter, and its default macro table made once: left to itself, pylatexenc
    builds the table again for every text, a fifth of the conversion's time."""
    from pylatexenc.latex2text import LatexNodes2Text  # only the refresh converts
    from pylatexenc.latexwalker import get_default_latex_context_db

    return LatexNodes2Text(math_mode="text"), get_default_latex_context_db()


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
    if paper.authors_to_convert:
        update["authors_text"] = [latex_to_unicode(name) for name in paper.authors]
    return paper.model_copy(update=update) if update else paper
