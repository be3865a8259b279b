"""HTTP caching: Cache-Control for the CDN, strong ETags and Last-Modified, 304 answers.

Feeds change once a day (the cron refresh). The CDN may serve a cached copy for 15 minutes
and keep serving it while it revalidates in the background for up to a day, so readers are
served from the edge between refreshes and see a refresh within about 15 minutes; browsers
and feed readers keep their own copy 5 minutes. Admin, cron and health answers are never cached.

Feeds and pages are kept gzip-compressed (core.web.response_cache) and sent as they are kept
to a client whose Accept-Encoding takes gzip (browsers and feed readers do), decompressed for
one that does not; each form has its own strong ETag (RFC 9110 8.8.3), and either one, sent
back, matches: both are the same content.
"""

from __future__ import annotations

import email.utils
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

PUBLIC = "public, max-age=300, s-maxage=900, stale-while-revalidate=86400"
NO_STORE = "no-store"
# A last-good answer served while the store fails: short-lived, so the fresh one follows soon.
STALE_IF_ERROR = "public, max-age=60, s-maxage=60"
# A feed a reader's Like changes (the for-you feed with feedback links on): a CDN keeps it a
# minute, not fifteen, so the reader's next poll sees what they liked.
LEARNING = "public, max-age=60, s-maxage=60, stale-while-revalidate=60"
GZIP_SUFFIX = "-gzip"


def etag_of(body: bytes) -> str:
    """A strong ETag: the same bytes, the same tag."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def conditional_response(
    request: Request,
    body: bytes,
    media_type: str,
    last_modified: datetime | None,
    etag: str | None = None,
    now: datetime | None = None,
    cache_control: str = PUBLIC,
) -> Response:
    """``body`` with validators; 304 with no body when the client's copy is current (as of
    ``now``, the server's clock unless given)."""
    etag = etag or etag_of(body)
    headers = _validators(etag, last_modified, cache_control)
    if _not_modified(request, (etag,), last_modified, now or datetime.now(UTC)):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def negotiated_response(
    request: Request,
    gzipped: bytes,
    plain: Callable[[], bytes],
    media_type: str,
    last_modified: datetime | None,
    etag: str,
    cache_control: str = PUBLIC,
    now: datetime | None = None,
) -> Response:
    """An answer kept gzip-compressed: ``gzipped`` as it is to a client that takes gzip, else
    ``plain()`` (decompressed only then); ``etag`` is the plain form's. 304 as in
    ``conditional_response``, to either form's ETag."""
    compressed = accepts_gzip(request)
    headers = _validators(gzip_etag(etag) if compressed else etag, last_modified, cache_control)
    headers["Vary"] = "Accept-Encoding"
    if _not_modified(request, (etag, gzip_etag(etag)), last_modified, now or datetime.now(UTC)):
        return Response(status_code=304, headers=headers)
    if not compressed:
        return Response(plain(), media_type=media_type, headers=headers)
    headers["Content-Encoding"] = "gzip"
    return Response(gzipped, media_type=media_type, headers=headers)


def accepts_gzip(request: Request) -> bool:
    """Whether the request's Accept-Encoding takes gzip (RFC 9110 12.5.3: by name, or by ``*``
    when gzip is not named; ``q=0`` refuses). Without the header, the plain form, as servers
    answer: a client that sends none (curl, a script) would be handed bytes it cannot read."""
    weights: dict[str, float] = {}
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = part.partition(";")
        weights.setdefault(coding.strip().lower(), _weight(params))
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


def gzip_etag(etag: str) -> str:
    """The gzip form's ETag: the plain form's, marked (as Apache's mod_deflate marks it)."""
    return etag[:-1] + GZIP_SUFFIX + '"'


def _weight(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0  # an unreadable weight is not a yes
    return 1.0


def _validators(etag: str, last_modified: datetime | None, cache_control: str) -> dict[str, str]:
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if last_modified is not None:
        headers["Last-Modified"] = email.utils.format_datetime(last_modified.replace(microsecond=0), usegmt=True)
    return headers


def _not_modified(request: Request, etags: tuple[str, ...], last_modified: datetime | None, now: datetime) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        sent = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return if_none_match.strip() == "*" or any(etag in sent for etag in etags)
    since = request.headers.get("if-modified-since")
    if since is None or last_modified is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    # The date is read by the server's clock (RFC 9110 13.1.3); one later than it is invalid and
    # ignored (RFC 2616 14.25, in so many words): a client whose clock runs ahead would
    # otherwise keep its copy through the next refresh.
    if when.tzinfo is None or when > now:
        return False
    return last_modified.replace(microsecond=0) <= when
