"""Zotero's item JSON read into what a liked set needs: the item's arXiv id, or its text. Pure.

An item of the Web API (``format=json``) is ``{"key", "version", "data": {...}}``; ``data``
holds the fields by their Zotero names. Notes, attachments and annotations are no papers.
An arXiv id is taken from the item's URL (an arxiv.org link), its DOI (``10.48550/arXiv.…``),
its Archive ID (``arXiv:…``, as Zotero's arXiv translator writes it for preprints) or a line
of its Extra field (``arXiv: 2401.12345``); an item with none is kept by its title and abstract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.arxiv.ids import parse_id
from core.text import limits
from core.text.latex import clean_text

NOT_PAPERS = frozenset({"note", "attachment", "annotation"})
MAX_TITLE = 500
MAX_ABSTRACT = 2_000  # characters kept of an abstract (a liked set is read by every refresh)
_ID_FIELDS = ("url", "DOI", "archiveID")
_EXTRA_LINE = re.compile(r"^\s*arxiv(?:\s*id)?\s*:\s*(\S+)", re.IGNORECASE)
# Zotero's rich text in titles: <i>, <b>, <sub>, <sup> and <span style=...>/<span class="nocase">.
_RICH_TEXT = re.compile(r"</?(?:i|b|sub|sup|span)(?:\s[^<>]*)?>", re.IGNORECASE)
_NEXT = re.compile(r'<([^<>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)


@dataclass(frozen=True)
class Item:
    """A Zotero item that is a paper: its arXiv id, or (without one) its title and abstract."""

    key: str
    arxiv: str | None
    title: str
    abstract: str
    collections: tuple[str, ...]
    trashed: bool  # in the library's trash (answered with includeTrashed=1)


def parse_item(raw: Any) -> Item | None:
    """The item in one element of an items answer; None for a note, an attachment, an
    annotation, or anything that is not an item."""
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("key"), str):
        return None
    if data.get("itemType") in NOT_PAPERS:
        return None
    collections = data.get("collections")
    return Item(
        # The key names a liked paper (zotero:<key>) that feeds show; nothing cleans it later.
        key=clean_text(data["key"][: limits.KEY]),
        arxiv=arxiv_id(data),
        title=_text(data.get("title") or data.get("caseName") or data.get("nameOfAct") or "", MAX_TITLE),
        abstract=_text(data.get("abstractNote") or "", MAX_ABSTRACT),
        collections=tuple(c for c in collections if isinstance(c, str)) if isinstance(collections, list) else (),
        trashed=bool(data.get("deleted")),
    )


def arxiv_id(data: dict[str, Any]) -> str | None:
    """The version-less arXiv id an item's fields name, if any."""
    for name in _ID_FIELDS:
        value = data.get(name)
        if isinstance(value, str) and (found := parse_id(value)):
            return found
    extra = data.get("extra")
    if isinstance(extra, str):
        for line in extra.splitlines():
            if (named := _EXTRA_LINE.match(line)) and (found := parse_id(named[1])):
                return found
    return None


def parse_next(link: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header (RFC 8288), as Zotero pages its answers."""
    found = _NEXT.search(link or "")
    return found[1] if found else None


def _text(value: object, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    return limits.cut(clean_text(_RICH_TEXT.sub("", value[: 2 * limit + 64])), limit)
