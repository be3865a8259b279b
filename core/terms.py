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

    @classmethod
    def compile(cls, text: str) -> Term:
        tokens = [re.escape(token) for token in _TOKEN_SPLIT.split(text) if token]
        body = r"[\s\-]+".join(tokens) or re.escape(text)
        # A lower-case plural only: "LLMs" is a plural of "LLM", "RLS" (least squares) is not one of "RL".
        plural = r"(?-i:e?s)?" if text[-1:].isalpha() else ""
        return cls(text, re.compile(rf"(?<!\w){body}{plural}(?!\w)", re.IGNORECASE))

    def found_in(self, text: str) -> bool:
        return self.pattern.search(text) is not None


@cache
def compiled(text: str) -> Term:
    """``Term.compile`` remembered: query words and highlights repeat the same few terms."""
    return Term.compile(text)
