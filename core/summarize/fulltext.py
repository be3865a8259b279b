"""Full text for summaries: download a paper's PDF from arXiv politely and extract its text.

Any failure (size, type, a broken PDF) raises FetchError and the caller falls back to the
abstract. Downloads go through the run's ``ArxivClient``: the same throttle as the RSS and
API requests (arXiv's one-request-every-3-seconds rule), the same retries, a size cap.
"""

from __future__ import annotations

import io
import logging

from core.arxiv.client import ArxivClient
from core.errors import FetchError
from core.models import Paper
from core.text.latex import clean_text

log = logging.getLogger(__name__)


def fetch_pdf(client: ArxivClient, base: str, paper: Paper, max_bytes: int) -> bytes:
    url = f"{base.rstrip('/')}/{paper.versioned_id}"
    response = client.get(url, max_bytes=max_bytes)
    kind = response.headers.get("Content-Type", "")
    if "pdf" not in kind.lower():
        raise FetchError(f"{url} is {kind or 'untyped'}, not a PDF")
    if not response.body.startswith(b"%PDF"):
        raise FetchError(f"{url} does not start with %PDF")
    return response.body


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
