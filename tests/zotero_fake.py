"""A loopback stand-in for the Zotero Web API v3, written from Zotero's documentation (Basics,
Syncing) and its server (zotero/dataserver), for the read requests a sync makes:

  GET /{users|groups}/<id>/items                    every item, trashed ones with includeTrashed=1
  GET /{users|groups}/<id>/collections/<key>/items  the items in one collection
      ?since=<version>  only objects changed after that library version
      ?start=&limit=    paging: limit 25 by default, at most 100 (more is cut to 100)
      ?format=json|keys keys: every key, one a line, never paged
  GET /{users|groups}/<id>/deleted?since=<version>  {"collections", "items", "searches", "tags", "settings"}

Every answer carries ``Last-Modified-Version`` (the library's version) and ``Zotero-API-Version``;
a multi-object answer ``Total-Results`` and a ``Link`` header (first, prev, next, last,
alternate). ``If-Modified-Since-Version`` on items requests answers 304 when the library is
no newer. Access: a key the server does not know is 403 "Invalid key"; a private library
asked without a key that may read it is 403 "Forbidden"; a library that does not exist is
404 (a user's "User <id> not found"), a missing collection 404 "Collection not found"; a
``since`` that is not a number is 400, and /deleted without one is 400. Zotero slows clients
down with ``Backoff: <s>`` on any answer and 429 + ``Retry-After: <s>``; both can be set here.

Items are kept as Zotero's JSON (``{"key", "version", "library", "links", "meta", "data"}``),
each change raising the library's version and stamping the item with it, as Zotero does.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.loopback import LoopbackServer, Reply, Request

KEY_CHARS = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
_PATH = re.compile(r"^/(users|groups)/(\d+)(?:/collections/([A-Z0-9]{8}))?/(items|deleted)$")


@dataclass
class Library:
    prefix: str  # users/<id> or groups/<id>
    public: bool = False
    version: int = 1
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> the item's JSON
    deleted: dict[str, int] = field(default_factory=dict)  # key -> the version that deleted it
    collections: set[str] = field(default_factory=set)


def item_key(n: int) -> str:
    """An 8-character Zotero key, from a number."""
    chars = []
    for _ in range(8):
        n, r = divmod(n, len(KEY_CHARS))
        chars.append(KEY_CHARS[r])
    return "".join(reversed(chars))


class FakeZotero:
    def __init__(self) -> None:
        self.libraries: dict[str, Library] = {}
        self.keys: dict[str, set[str]] = {}  # API key -> the libraries it may read
        self.backoff: int | None = None  # Backoff seconds sent with every answer
        self.rate_limited: deque[int] = deque()  # the next answers are 429, each with this Retry-After
        self.broken_deleted = False  # /deleted answers a JSON list instead of the documented object
        # Changes made by someone else between two requests: run before answering the n-th (from 1).
        self.before: dict[int, Callable[[], None]] = {}
        self._lock = threading.Lock()
        self._made = 0
        self.server = LoopbackServer(self._handle)

    # --- the test's side: libraries, keys and changes --------------------------------------

    def library(self, prefix: str, key: str | None = None, public: bool = False) -> Library:
        library = self.libraries.setdefault(prefix, Library(prefix, public))
        if key is not None:
            self.keys.setdefault(key, set()).add(prefix)
        return library

    def add(self, prefix: str, item_type: str = "journalArticle", **fields: Any) -> str:
        """A new item (in one write: the library's version goes up by one); returns its key."""
        with self._lock:
            self._made += 1
            key = item_key(self._made * 7919)
            data = {"key": key, "itemType": item_type, "title": "", "collections": [], **fields}
            self._write(self.libraries[prefix], key, data)
        return key

    def change(self, prefix: str, key: str, **fields: Any) -> None:
        with self._lock:
            library = self.libraries[prefix]
            self._write(library, key, {**library.items[key]["data"], **fields})

    def trash(self, prefix: str, key: str) -> None:
        self.change(prefix, key, deleted=1)

    def delete(self, prefix: str, key: str) -> None:
        """Deleted for good (emptied from the trash): listed by /deleted from the new version."""
        with self._lock:
            library = self.libraries[prefix]
            library.version += 1
            del library.items[key]
            library.deleted[key] = library.version

    def _write(self, library: Library, key: str, data: dict[str, Any]) -> None:
        library.version += 1
        library.collections.update(data.get("collections", []))
        number, kind = library.prefix.split("/")[1], library.prefix.split("/")[0][:-1]
        library.items[key] = {
            "key": key,
            "version": library.version,
            "library": {"type": kind, "id": int(number), "name": "library"},
            "links": {"self": {"href": f"{self.server.url}/{library.prefix}/items/{key}"}},
            "meta": {"numChildren": 0},
            "data": {**data, "version": library.version},
        }

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    # --- the server -------------------------------------------------------------------------

    def _handle(self, request: Request) -> Reply:
        if change := self.before.pop(len(self.server.requests), None):
            change()
        headers = {"Zotero-API-Version": "3"}
        if self.backoff is not None:
            headers["Backoff"] = str(self.backoff)
        with self._lock:
            if self.rate_limited:
                retry_after = self.rate_limited.popleft()
                return _text(429, "Too many requests", {**headers, "Retry-After": str(retry_after)})
            return self._answer(request, headers)

    def _answer(self, request: Request, headers: dict[str, str]) -> Reply:
        split = urlsplit(request.path)
        query = dict(parse_qsl(split.query))
        found = _PATH.match(split.path)
        if request.method != "GET" or not found:
            return _text(404, "Not found", headers)
        kind, number, collection, action = found.groups()
        library = self.libraries.get(f"{kind}/{number}")
        if library is None:
            return _text(404, f"User {number} not found" if kind == "users" else "Not found", headers)
        key = request.headers.get("zotero-api-key")
        if key is not None and key not in self.keys:
            return _text(403, "Invalid key", headers)
        if not library.public and library.prefix not in self.keys.get(key or "", set()):
            return _text(403, "Forbidden", headers)
        if collection is not None and collection not in library.collections:
            return _text(404, "Collection not found", headers)
        since = query.get("since")
        if since is not None and not since.isdigit():
            return _text(400, "Invalid value for 'since' parameter", headers)
        headers["Last-Modified-Version"] = str(library.version)
        if action == "deleted":
            if since is None:
                return _text(400, "'since' parameter must be provided", headers)
            gone = sorted(k for k, v in library.deleted.items() if v > int(since))
            body: Any = {"collections": [], "items": gone, "searches": [], "tags": [], "settings": []}
            if self.broken_deleted:
                body = gone
            return Reply(200, json.dumps(body).encode(), {**headers, "Content-Type": "application/json"})
        asked = request.headers.get("if-modified-since-version")
        if asked is not None and asked.isdigit() and library.version <= int(asked):
            return Reply(304, b"", headers)
        items = [
            i
            for i in library.items.values()
            if (since is None or i["version"] > int(since))
            and (collection is None or collection in i["data"].get("collections", []))
            and (query.get("includeTrashed") == "1" or not i["data"].get("deleted"))
        ]
        items.sort(key=lambda i: (-i["version"], i["key"]))  # dateModified, newest first
        if query.get("format") == "keys":
            return _text(200, "\n".join(i["key"] for i in items) + "\n", headers)
        start = int(query.get("start") or 0)
        limit = min(int(query.get("limit") or DEFAULT_LIMIT), MAX_LIMIT)
        headers["Total-Results"] = str(len(items))
        headers["Link"] = self._links(split.path, query, start, limit, len(items))
        page = items[start : start + limit]
        return Reply(200, json.dumps(page).encode(), {**headers, "Content-Type": "application/json"})

    def _links(self, path: str, query: dict[str, str], start: int, limit: int, total: int) -> str:
        """The Link header as the dataserver builds it: absolute URLs, the query kept, start moved."""

        def at(offset: int) -> str:
            params = {k: v for k, v in query.items() if k != "start"}
            if offset > 0:
                params["start"] = str(offset)
            return f"<{self.server.url}{path}{'?' + urlencode(params) if params else ''}>"

        parts = [] if start == 0 else [f'{at(0)}; rel="first"', f'{at(max(start - limit, 0))}; rel="prev"']
        if start + limit < total:
            parts.append(f'{at(start + limit)}; rel="next"')
            parts.append(f'{at(total - (total % limit or limit))}; rel="last"')
        parts.append(f'<https://www.zotero.org{path.removesuffix("/items")}/items>; rel="alternate"')
        return ", ".join(parts)

    def start(self) -> FakeZotero:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()


def _text(status: int, text: str, headers: dict[str, str]) -> Reply:
    return Reply(status, text.encode(), {**headers, "Content-Type": "text/plain; charset=utf-8"})
