"""Reading an HTTP answer's body within a size cap and a time limit, for every upstream client
(arXiv, Zotero).

The body is inflated here a megabyte at a time (httpx would inflate each network read whole,
and a 64 KB read of a gzip bomb is 64 MB), so a refused body costs at most the cap in memory;
the whole read, not each network read, must end by ``end`` (a ``clock()`` value). Clients ask
only for the encodings read here (``ACCEPT_ENCODING``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import httpx

ACCEPT_ENCODING = "gzip"
INFLATE = {"identity": 0, "gzip": 47, "x-gzip": 47, "deflate": 15}  # zlib wbits (0: not compressed)
INFLATE_STEP = 1 << 20


class BodyRefused(ValueError):
    """The body is over its cap (sent or inflated), or in an encoding not asked for."""


def read_capped(response: httpx.Response, max_bytes: int, end: float, clock: Callable[[], float]) -> bytes:
    """The body, refusing more than ``max_bytes`` (sent or inflated, BodyRefused) or a read past
    ``end`` (httpx.ReadTimeout)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyRefused(f"{response.url} is {int(declared):,} bytes, over the {max_bytes:,}-byte cap")
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in INFLATE:
        raise BodyRefused(f"{response.url} is sent with Content-Encoding {encoding!r}, which is not asked for")
    inflater = zlib.decompressobj(INFLATE[encoding]) if INFLATE[encoding] else None
    body, sent = bytearray(), 0
    for raw in response.iter_raw():
        sent += len(raw)
        pending = raw
        while pending:
            if inflater is None:
                piece, pending = pending, b""
            else:
                piece = inflater.decompress(pending, INFLATE_STEP)
                pending = inflater.unconsumed_tail
            if sent > max_bytes or len(body) + len(piece) > max_bytes:
                raise BodyRefused(f"{response.url} is over the {max_bytes:,}-byte cap (sent or inflated)")
            body += piece
            if clock() > end:
                raise httpx.ReadTimeout("the whole response took longer than the timeout")
    if inflater is not None:
        body += inflater.flush()
    if clock() > end:
        raise httpx.ReadTimeout("the whole response took longer than the timeout")
    return bytes(body)
