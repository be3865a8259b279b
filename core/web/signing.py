"""Signed feedback links: only this deployment can make a "Like" or "Not for me" URL.

A link is ``/feedback/<arXiv id>/<action>?sig=<HMAC-SHA256 over action and id>``, so a
signature is good for one paper and one action only, and a forged or missing one changes
nothing (403). The key is ``FEEDBACK_SECRET``, or one derived from ``CRON_SECRET`` (an HMAC
of it under a fixed label: the cron secret itself never signs anything that readers see, and
a signature reveals nothing of it); with neither, feeds carry no links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from core.settings import Settings

_DERIVED = b"arxiv-rss-bot feedback links v1"


def feedback_key(settings: Settings) -> bytes | None:
    """The signing key, or None when the deployment has no secret to make one from."""
    if settings.feedback_secret:
        return settings.feedback_secret.encode()
    if settings.cron_secret:
        return hmac.new(settings.cron_secret.encode(), _DERIVED, hashlib.sha256).digest()
    return None


def sign(key: bytes, paper_id: str, action: str) -> str:
    """The signature of one paper's one action (43 URL-safe characters)."""
    digest = hmac.new(key, f"{action}\n{paper_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(key: bytes | None, paper_id: str, action: str, signature: str | None) -> bool:
    """Whether ``signature`` was made by ``sign`` with this key for this paper and action."""
    if key is None or not signature:
        return False
    return hmac.compare_digest(sign(key, paper_id, action).encode(), signature.encode())
