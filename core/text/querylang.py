"""A query language close to arXiv's own search syntax, for topics and ``?q=`` on every feed.

    ti:transformer AND (abs:"kv cache" OR au:hinton) ANDNOT cat:cs.CV
    "large language model"^2 OR LLM

Field prefixes ``ti:`` (title), ``abs:`` (abstract), ``au:`` (authors), ``cat:`` (category or
archive) and ``all:`` (title or abstract, the default); quoted phrases; ``AND``, ``OR``,
``ANDNOT`` (upper case, as on arXiv) and parentheses; juxtaposition means AND; ``^2`` weights
a term. Parsing is pure and raises QueryError with the position of the problem; the query it
returns is evaluated by ``core.text.matching``, the same engine as config.json's keywords.
"""

from __future__ import annotations

import re

from core import taxonomy
from core.errors import QueryError
from core.text.latex import clean_text
from core.text.matching import FIELDS, Node, Op, Word

MAX_QUERY_LENGTH = 1000
MAX_TERMS = 50
MAX_DEPTH = 20
_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<field>[A-Za-z]+):|"(?P<phrase>[^"]*)"|(?P<word>[^\s()"]+))')
MAX_WEIGHT = 100.0
_WEIGHT = re.compile(r"^(?P<text>.*?)\^(?P<weight>\d+(?:\.\d+)?)$")


def parse_query(text: str, parameter: str = "q") -> Node:
    """Parse a query; QueryError says where it went wrong and what was expected."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(parameter, f"is {len(text)} characters long", f"keep it under {MAX_QUERY_LENGTH}")
    parser = _Parser(_tokens(text, parameter), parameter)
    node = parser.expression(0)
    if (left := parser.peek()) is not None:
        _, value, position = left
        raise QueryError(
            parameter, f"unexpected {value!r} at position {position}", "expected AND, OR, ANDNOT or the end"
        )
    if parser.terms > MAX_TERMS:
        raise QueryError(parameter, f"has {parser.terms} terms", f"use at most {MAX_TERMS}")
    return node


Token = tuple[str, str, int]


def _tokens(text: str, parameter: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise QueryError(parameter, f"unbalanced quote at position {position + 1}", 'close the phrase with "')
        kind = match.lastgroup or "word"
        tokens.append((kind, match.group(kind), match.start(kind) + 1))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token], parameter: str) -> None:
        self.tokens = tokens
        self.index = 0
        self.parameter = parameter
        self.terms = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise QueryError(self.parameter, "ends too early", "expected a term or '(' at the end")
        self.index += 1
        return token

    def expression(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise QueryError(self.parameter, "is nested too deeply", f"use at most {MAX_DEPTH} levels of parentheses")
        node = self.conjunction(depth)
        while (token := self.peek()) is not None and token[:2] == ("word", "OR"):
            self.take()
            node = Op("OR", node, self.conjunction(depth))
        return node

    def conjunction(self, depth: int) -> Node:
        node = self.unary(depth)
        while (token := self.peek()) is not None and token[0] != "rp" and token[:2] != ("word", "OR"):
            op = "AND"
            if token[0] == "word" and token[1] in ("AND", "ANDNOT"):
                op = self.take()[1]
            node = Op(op, node, self.unary(depth))
        return node

    def unary(self, depth: int) -> Node:
        kind, value, position = self.take()
        if kind == "lp":
            node = self.expression(depth + 1)
            closing = self.peek()
            if closing is None or closing[0] != "rp":
                raise QueryError(self.parameter, f"'(' at position {position} is never closed", "add ')'")
            self.take()
            return node
        if kind == "rp" or (kind == "word" and value in ("AND", "OR", "ANDNOT")):
            raise QueryError(self.parameter, f"unexpected {value!r} at position {position}", "expected a term or '('")
        field = "all"
        if kind == "field":
            field = value.lower()
            if field not in FIELDS:
                raise QueryError(
                    self.parameter,
                    f"unknown field {value + ':'!r} at position {position}",
                    f"use one of {', '.join(f + ':' for f in FIELDS)}",
                )
            field_position = position
            kind, value, position = self.take()
            if kind not in ("word", "phrase"):
                raise QueryError(
                    self.parameter,
                    f"{field}: at position {field_position} has no term (found {value!r} at position {position})",
                    "write a word or a quoted phrase right after the colon, e.g. ti:transformer",
                )
        weight = 1.0
        if (weighted := _WEIGHT.match(value)) is not None and weighted["text"]:
            value, weight = weighted["text"], float(weighted["weight"])
            if weight > MAX_WEIGHT:  # scores stay finite: no Infinity or NaN in any feed
                raise QueryError(
                    self.parameter,
                    f"weight ^{weighted['weight'][:20]} at position {position} is over {MAX_WEIGHT:g}",
                    f"use a weight from 0 to {MAX_WEIGHT:g}, e.g. ti:transformer^2",
                )
        text = clean_text(value)  # a query's terms reach the feeds (why a paper is there): cleaned here
        if not text:
            raise QueryError(self.parameter, f"empty phrase at position {position}", "put words between the quotes")
        if field == "cat" and not taxonomy.is_known(text.rstrip("*")):
            guess = taxonomy.suggest(text)
            raise QueryError(
                self.parameter,
                f"cat:{text} at position {position} is not an arXiv category or archive",
                f"did you mean cat:{guess}?" if guess else "use a name such as cat:cs.AI or cat:hep-th",
            )
        self.terms += 1
        return Word(field, text, weight, position)
