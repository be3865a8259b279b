"""Text hygiene shared by parsing and rendering: XML-safe, whitespace-tidy strings."""

from __future__ import annotations

import re

# XML 1.0 allows tab, newline and carriage return below 0x20; arXiv abstracts sometimes carry
# others (form feed, \x0c), and feedgen/lxml refuse them, so they are removed on the way in.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """Drop XML-illegal characters and fold runs of white space into one space."""
    return _SPACES.sub(" ", _ILLEGAL_XML.sub(" ", value)).strip()


def strip_illegal(value: str) -> str:
    """Drop XML-illegal characters, keeping line breaks."""
    return _ILLEGAL_XML.sub("", value)
