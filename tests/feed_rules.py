"""Feed validity as the specifications state it, for tests: Atom 1.0 against a RELAX NG grammar
of RFC 4287 (``tests/data/atom.rng``) plus the rules a grammar cannot see, and RSS 2.0 against
the rules of its specification that the W3C Feed Validator enforces. Each function returns the
problems found, as readable lines; an empty list means valid."""

from __future__ import annotations

import email.utils
import json
import re
from collections import Counter
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
NS = {"a": ATOM, "dc": "http://purl.org/dc/elements/1.1/", "atom": ATOM}


@cache
def _atom_grammar() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(Path(__file__).parent / "data" / "atom.rng")))


def atom_problems(body: bytes) -> list[str]:
    root = etree.fromstring(body)
    grammar = _atom_grammar()
    problems = [f"grammar: line {e.line}: {e.message}" for e in grammar.error_log] if not grammar(root) else []
    entries = root.findall("a:entry", NS)
    # 4.1.1: a feed without an author needs one in every entry.
    if root.find("a:author", NS) is None and any(e.find("a:author", NS) is None for e in entries):
        problems.append("feed: no atom:author, and an entry has none either")
    for where, element in [("feed", root), *((f"entry {e.findtext('a:id', namespaces=NS)}", e) for e in entries)]:
        problems += _link_problems(where, element)
        problems += [f"{where}: {p}" for p in _id_problems(element.findtext("a:id", namespaces=NS) or "")]
        for tag in ("updated", "published"):
            if (value := element.findtext(f"a:{tag}", namespaces=NS)) and not _rfc3339(value):
                problems.append(f"{where}: {tag} {value!r} is not an RFC 3339 date-time")
    if root.find("a:link[@rel='self']", NS) is None:
        problems.append("feed: no rel='self' link (RFC 4287 4.1.1: SHOULD)")
    ids = Counter(e.findtext("a:id", namespaces=NS) for e in entries)
    problems += [f"entry id {i} appears {n} times" for i, n in ids.items() if n > 1]
    for entry in entries:
        content = entry.find("a:content", NS)
        has_alternate = any(link.get("rel", "alternate") == "alternate" for link in entry.findall("a:link", NS))
        if content is None and not has_alternate:  # 4.1.1.1 / 4.1.2
            problems.append(f"entry {entry.findtext('a:id', namespaces=NS)}: no content and no alternate link")
    return problems


def _link_problems(where: str, element: etree._Element) -> list[str]:
    """4.1.1 / 4.1.2: at most one alternate link per (type, hreflang); a link without rel is one."""
    alternates = Counter(
        (link.get("type"), link.get("hreflang"))
        for link in element.findall("a:link", NS)
        if link.get("rel", "alternate") == "alternate"
    )
    return [f"{where}: {n} alternate links of type {t[0]!r}" for t, n in alternates.items() if n > 1]


def _id_problems(value: str) -> list[str]:
    """4.2.6: an id is an absolute IRI."""
    return [] if urlsplit(value).scheme else [f"id {value!r} is not an absolute IRI"]


def _rfc3339(value: str) -> bool:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def rss_problems(body: bytes) -> list[str]:
    """RSS 2.0: the channel's required elements, items with a title or description, RFC 822
    dates with four-digit years, permalink guids that are URLs and appear once, one of each
    element an item may hold once, and the rel='self' link the W3C validator recommends."""
    root = etree.fromstring(body)
    problems = [] if root.tag == "rss" and root.get("version") == "2.0" else ["root is not <rss version='2.0'>"]
    channel = root.find("channel")
    if channel is None:
        return [*problems, "no channel"]
    problems += [f"channel: no {tag}" for tag in ("title", "link", "description") if channel.find(tag) is None]
    problems += _rss_dates("channel", channel, ("pubDate", "lastBuildDate"))
    if channel.find("atom:link[@rel='self']", NS) is None:
        problems.append("channel: no atom:link rel='self'")
    guids: Counter[str] = Counter()
    for item in channel.findall("item"):
        where = f"item {item.findtext('guid')}"
        if item.find("title") is None and item.find("description") is None:
            problems.append(f"{where}: neither title nor description")
        problems += _rss_dates(where, item, ("pubDate",))
        for tag in ("title", "link", "description", "guid", "pubDate", "comments", "source", "dc:creator"):
            if len(item.findall(tag, NS)) > 1:
                problems.append(f"{where}: {tag} appears more than once")
        guid = item.find("guid")
        if guid is not None:
            guids[guid.text or ""] += 1
            if guid.get("isPermaLink", "true") == "true" and not urlsplit(guid.text or "").scheme:
                problems.append(f"{where}: a permalink guid that is not a URL")
        for enclosure in item.findall("enclosure"):
            if not (enclosure.get("url") and enclosure.get("type") and (enclosure.get("length") or "").isdigit()):
                problems.append(f"{where}: an enclosure needs url, length and type")
    problems += [f"guid {g} appears {n} times" for g, n in guids.items() if n > 1]
    return problems


def _rss_dates(where: str, element: etree._Element, tags: tuple[str, ...]) -> list[str]:
    problems = []
    for tag in tags:
        value = element.findtext(tag)
        if value is None:
            continue
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is None or len(value.split()[3]) != 4 or parsed.year < 1991:
            problems.append(f"{where}: {tag} {value!r} is not an RFC 822 date with a four-digit year")
    return problems


# --- XML-illegal characters: cleaned where texts come in, never on the way out ------------------

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def illegal_in_feeds(papers: list[Any], title: str = "Radar", description: str = "ranked") -> list[str]:
    """Render ``papers`` as RSS, Atom and JSON Feed (core.render.feeds, which cleans nothing) and
    name every XML-illegal character in them, and every feed that does not render (feedgen
    refuses those characters). An empty list: clean."""
    from core.render.feeds import build_feed, render_feed

    feed = build_feed(
        papers,
        title=title,
        description=description,
        link="http://127.0.0.1/",
        self_url="http://127.0.0.1/rss",
        updated=None,
    )
    problems = []
    for fmt in ("rss", "atom", "json"):
        try:
            body = render_feed(feed, fmt)  # type: ignore[arg-type]
        except ValueError as exc:  # lxml: "All strings must be XML compatible"
            problems.append(f"{fmt}: does not render ({exc})")
            continue
        # JSON escapes control characters (\u000c): look at the strings it carries.
        text = "\n".join(_strings(json.loads(body))) if fmt == "json" else body.decode()
        problems += [f"{fmt}: {m[0]!r} at {m.start()}" for m in _ILLEGAL.finditer(text)]
    return problems


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    return [s for v in value for s in _strings(v)] if isinstance(value, list) else []
