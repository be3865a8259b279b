"""HTTP caching: Cache-Control for the CDN, strong ETags and Last-Modified, 304 answers.

Feeds change once a day (the cron refresh). The CDN may serve a cached copy for 15 minutes
and keep serving it while it revalidates in the background for up to a day, so readers are
served from the edge between refreshes and see a refresh within about 15 minutes; browsers
and feed readers keep their own copy 5 minutes. Admin, cron and health answers are never cached.
"""

from __future__ import annotations

import email.utils
import hashlib
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
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if last_modified is not None:
        headers["Last-Modified"] = email.utils.format_datetime(last_modified.replace(microsecond=0), usegmt=True)
    if _not_modified(request, etag, last_modified, now or datetime.now(UTC)):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _not_modified(request: Request, etag: str, last_modified: datetime | None, now: datetime) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:  # RFC 9110: If-None-Match wins over If-Modified-Since
        return if_none_match.strip() == "*" or etag in [
            tag.strip().removeprefix("W/") for tag in if_none_match.split(",")
        ]
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
