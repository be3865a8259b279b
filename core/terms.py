"""A keyword or phrase compiled for matching: whole words, case-insensitive, across hyphens,
tolerating a lower-case plural. Terms are escaped, never used as regular expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

_TOKEN_SPLIT = re.compile(r"[\s\-_]+")


@dataclass(frozen=True)
class Term:
    text: str
    pattern: re.Pattern[str]
    needle: str = ""  # the longest word, lower-case, when ASCII: a quick test before the pattern

    @classmethod
    def compile(cls, text: str) -> Term:
        words = [token for token in _TOKEN_SPLIT.split(text) if token]
        body = r"[\s\-]+".join(map(re.escape, words)) or re.escape(text)
        # A lower-case plural only: "LLMs" is a plural of "LLM", "RLS" (least squares) is not one of "RL".
        plural = r"(?-i:e?s)?" if text[-1:].isalpha() else ""
        needle = max(words, key=len, default="").lower()
        pattern = re.compile(rf"(?<!\w){body}{plural}(?!\w)", re.IGNORECASE)
        return cls(text, pattern, needle if needle.isascii() else "")

    def found_in(self, text: str) -> bool:
        # Most texts lack most terms. For ASCII text, case-insensitive matching is lower-casing, so
        # a text whose lower case lacks the needle cannot match: skip the (slower) pattern.
        if self.needle and text.isascii() and self.needle not in text.lower():
            return False
        return self.pattern.search(text) is not None


@cache
def compiled(text: str) -> Term:
    """``Term.compile`` remembered: query words and highlights repeat the same few terms."""
    return Term.compile(text)
