"""arXiv ids, in every form arXiv writes them.

A paper is known by its version-less id: new style ``2601.08670`` (since April 2007; four
digits after the point until 2014, five since) or old style ``astro-ph/0601001`` (an archive,
for some a subject class as in ``math.AG/0601001``, then seven digits). A version may follow:
``2601.08670v2``. arXiv writes an id bare, after ``arXiv:``, in its abstract, PDF and HTML links
(the API's ``<id>`` is one: ``http://arxiv.org/abs/2601.08670v1``), in the RSS guid
(``oai:arXiv.org:2601.08670v1``) and in its DOIs (``10.48550/arXiv.2601.08670``).

``parse_id`` and ``parse_versioned_id`` read all of these; ``ID_PATTERN`` (the bare form) and
``ID_FORM_PATTERN`` (all of them) are regular expressions that a JSON Schema can carry. Pure.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# ASCII digits only: a str pattern's \d also takes other scripts' digits, which arXiv never uses.
_NEW_STYLE = r"[0-9]{4}\.[0-9]{4,5}"
_OLD_STYLE = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/[0-9]{7}"
# An id with an optional version, without named groups: the OpenAPI schema publishes it as it is.
ID_PATTERN = rf"(?:{_NEW_STYLE}|{_OLD_STYLE})(?:v[0-9]+)?"


def _any_case(word: str) -> str:
    """``doi`` as ``[Dd][Oo][Ii]``: case-insensitive without a flag, which ECMA 262 patterns lack."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


# What may stand before an id: "arXiv:", a link to the abstract, PDF or HTML, the RSS guid's
# prefix, or arXiv's DOI prefix (bare, "doi:" or a doi.org link; any case, as reference
# managers write it). No flags and no named groups: the OpenAPI schema publishes it too.
_PREFIX = (
    r"(?:ar[Xx]iv:"
    r"|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/"
    r"|oai:arXiv\.org:"
    rf"|(?:{_any_case('doi:')}|{_any_case('http')}[Ss]?://(?:{_any_case('dx.')})?{_any_case('doi.org/')})?"
    rf"10\.48550/{_any_case('arxiv.')})"
)
# Every form ``parse_id`` reads, as the OpenAPI schema publishes it (``?like=``).
ID_FORM_PATTERN = rf"{_PREFIX}?{ID_PATTERN}(?:\.pdf)?"
_FORM = re.compile(rf"{_PREFIX}?(?P<id>{_NEW_STYLE}|{_OLD_STYLE})(?:v(?P<version>[0-9]+))?(?:\.pdf)?")


class VersionedId(NamedTuple):
    id: str  # version-less: 2601.08670
    version: int


def parse_id(text: str) -> str | None:
    """The version-less id in "2411.17775v2", "arXiv:hep-th/9901001", an arxiv.org link, an RSS
    guid or an arXiv DOI; None when ``text`` is none of these."""
    found = _match(text)
    return found["id"] if found else None


def parse_versioned_id(text: str) -> VersionedId | None:
    """The id and its version, as the RSS guid and the API's ``<id>`` give them; None when
    ``text`` is no arXiv id or names no version."""
    found = _match(text)
    return VersionedId(found["id"], int(found["version"])) if found and found["version"] else None


def _match(text: str) -> re.Match[str] | None:
    return _FORM.fullmatch(text.strip())
