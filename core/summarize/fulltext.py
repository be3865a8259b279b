"""Full text for summaries: download a paper's PDF from arXiv politely and extract its text.

Any failure (size, type, a broken PDF) raises FetchError and the caller falls back to the
abstract. Downloads share the refresh's Throttle: arXiv's one-request-every-3-seconds rule.
"""

from __future__ import annotations

import io
import logging

import httpx

from core.arxiv import USER_AGENT, Throttle
from core.errors import FetchError
from core.models import Paper
from core.text import clean_text

log = logging.getLogger(__name__)


def fetch_pdf(client: httpx.Client, base: str, paper: Paper, throttle: Throttle, max_bytes: int) -> bytes:
    url = f"{base.rstrip('/')}/{paper.versioned_id}"
    throttle.wait()
    try:
        with client.stream("GET", url, headers={"User-Agent": USER_AGENT}, follow_redirects=True) as response:
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}")
            kind = response.headers.get("Content-Type", "")
            if "pdf" not in kind.lower():
                raise FetchError(f"{url} is {kind or 'untyped'}, not a PDF")
            if int(response.headers.get("Content-Length") or 0) > max_bytes:
                raise FetchError(f"{url} is larger than summary.pdf_max_bytes ({max_bytes})")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"{url} is larger than summary.pdf_max_bytes ({max_bytes})")
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}") from exc
    if not body.startswith(b"%PDF"):
        raise FetchError(f"{url} does not start with %PDF")
    return bytes(body)


def extract_text(pdf: bytes, max_chars: int) -> str:
    """The PDF's text, whitespace folded, cut to ``max_chars`` (the model's context budget)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(pdf))
        parts: list[str] = []
        size = 0
        for page in reader.pages:
            text = clean_text(page.extract_text() or "")
            parts.append(text)
            size += len(text)
            if size >= max_chars:
                break
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise FetchError(f"the PDF could not be read: {type(exc).__name__}: {exc}") from exc
    text = " ".join(parts)[:max_chars]
    if len(text) < 200:
        raise FetchError("the PDF has almost no extractable text")
    return text
