"""HTML pages, rendered from Jinja2 templates with autoescaping (arXiv text is never trusted)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from starlette.requests import Request

from core.config import Config
from core.models import Paper, RefreshState

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class FeedLink:
    name: str
    rss: str
    atom: str


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )


def feed_links(request: Request, categories: list[str]) -> list[FeedLink]:
    links = [FeedLink("All followed categories", str(request.url_for("rss")), str(request.url_for("atom")))]
    for category in categories:
        links.append(
            FeedLink(
                category,
                str(request.url_for("rss_category", category=category)),
                str(request.url_for("atom_category", category=category)),
            )
        )
    return links


def render_index(
    config: Config, state: RefreshState, papers: list[Paper], links: list[FeedLink], summaries: str
) -> str:
    template = _environment().get_template("index.html")
    return template.render(config=config, state=state, papers=papers, links=links, summaries=summaries)
