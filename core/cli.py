"""The command line: ``python -m core refresh`` and ``python -m core serve``."""

from __future__ import annotations

import argparse
import logging
import sys

from core.errors import AppError
from core.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="arxiv-rss-bot: arXiv as ranked feeds")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("refresh", help="fetch today's arXiv announcements, rank and store them")
    serve = commands.add_parser("serve", help="serve the feeds over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        settings = Settings.from_env()
        if args.command == "refresh":
            return _refresh(settings)
        return _serve(settings, args.host, args.port)
    except AppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _refresh(settings: Settings) -> int:
    from core.config import load_config
    from core.refresh import refresh
    from core.store import open_store

    report = refresh(load_config(settings.config_path), settings, open_store(settings))
    print(report.line())
    return 0


def _serve(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from core.web import create_app

    app = create_app(settings)
    print(f"serving on http://{host}:{port}/ (store: {settings.data_dir})")
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0
