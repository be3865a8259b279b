"""The command line: ``python -m core refresh`` and ``python -m core serve``."""

from __future__ import annotations

import argparse
import logging
import sys

from core.errors import AppError
from core.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="arxiv-rss-bot: arXiv as ranked feeds",
        epilog="Settings come from the environment: CONFIG_PATH (what you follow, default ./config.json), "
        "DATA_DIR (the SQLite store, default ./data), and the others README.md lists.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("refresh", help="fetch today's arXiv announcements, rank, store and summarise them")
    commands.add_parser("summarize", help="continue making AI summaries for the stored papers")
    commands.add_parser(
        "check",
        help="check the settings and config.json, exit 1 with the error if they do not load (the Vercel build runs it)",
    )
    backfill = commands.add_parser(
        "backfill", help="fill the feeds' window from the arXiv API now (and refresh), showing progress"
    )
    backfill.add_argument(
        "--days",
        type=_days,
        default=None,
        help="how many days back to fill, 1 to 90 (default: days_back of config.json)",
    )
    digest = commands.add_parser("digest", help="write the Markdown digest of the ranked papers")
    digest.add_argument("-o", "--output", help="file to write (default: standard output)")
    serve = commands.add_parser("serve", help="serve the feeds over HTTP")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    serve.add_argument(
        "--no-schedule",
        dest="schedule",
        action="store_false",
        help="do not run the scheduled refreshes and summaries (the crons of vercel.json) while serving; "
        "SERVE_SCHEDULE=0 does the same",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        settings = Settings.from_env()
        if args.command == "refresh":
            return _refresh(settings)
        if args.command == "backfill":
            return _refresh(settings, backfill=True, days=args.days)
        if args.command == "summarize":
            return _summarize(settings)
        if args.command == "check":
            return _check(settings)
        if args.command == "digest":
            return _digest(settings, args.output)
        return _serve(settings, args.host, args.port, args.schedule and settings.serve_schedule)
    except AppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _days(value: str) -> int:
    days = int(value) if value.strip().isdigit() else 0
    if not 1 <= days <= 90:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days from 1 to 90")
    return days


def _refresh(settings: Settings, backfill: bool = False, days: int | None = None) -> int:
    from core.config import load_config
    from core.refresh import refresh
    from core.store import open_store
    from core.summarize import open_summarizer

    config = load_config(settings.config_path)
    summarizer = open_summarizer(config.summary, settings)
    if not backfill:
        report = refresh(config, settings, open_store(settings), summarizer=summarizer)
    else:
        days = config.days_back if days is None else days
        report = refresh(
            config, settings, open_store(settings), summarizer=summarizer, backfill_days=days, progress=print
        )
    print(report.line())
    if report.summaries and report.summaries.message:
        print(f"summaries: {report.summaries.message}")
    return 0


def _check(settings: Settings) -> int:
    from core.config import load_config

    config = load_config(settings.config_path)
    topics = f", {len(config.topics)} topics" if config.topics else ""
    print(
        f"{settings.config_path}: ok ({len(config.categories)} categories{topics}, summaries by {config.summary.model})"
    )
    return 0


def _summarize(settings: Settings) -> int:
    from core.config import load_config
    from core.refresh import summarize_stored
    from core.store import open_store
    from core.summarize import open_summarizer

    config = load_config(settings.config_path)
    report = summarize_stored(config, settings, open_store(settings), open_summarizer(config.summary, settings))
    print(
        f"summaries made {report.made}, cached {report.cached}, rejected {report.rejected}, failed {report.failed}, "
        f"queued {report.queued}, tokens {report.tokens}" + (f" ({report.message})" if report.message else "")
    )
    return 0


def _digest(settings: Settings, output: str | None) -> int:
    from pathlib import Path

    from core.config import load_config
    from core.render.digest import render_digest
    from core.selection.select import select_papers
    from core.store import open_store

    config = load_config(settings.config_path)
    state, stored, _ = open_store(settings).load_feed(None, config.max_papers)
    text = render_digest(select_papers(stored, config), config, state)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}")
    else:
        sys.stdout.write(text)
    return 0


def _serve(settings: Settings, host: str, port: int, schedule: bool) -> int:
    from functools import partial

    import uvicorn

    from core.config import load_config
    from core.schedule import SCHEDULE_TEXT
    from core.scheduler import Scheduler, run_job
    from core.web.app import create_app

    load_config(settings.config_path)  # locally a bad config.json stops here, with its message
    app = create_app(settings)
    print(f"serving on http://{host}:{port}/ (store: {settings.data_dir})")
    scheduler = Scheduler(partial(run_job, settings))
    if schedule:
        scheduler.start()
        print(f"scheduled jobs: {SCHEDULE_TEXT.lower()} (turn off with --no-schedule)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        scheduler.stop()
    return 0
