"""The command line: ``python -m core refresh`` and ``python -m core serve``."""

from __future__ import annotations

import argparse
import logging
import sys

from core.errors import AppError
from core.settings import Settings

SETTINGS = (
    "Settings come from the environment: CONFIG_PATH (what you follow, default ./config.json), "
    "DATA_DIR (the SQLite store, default ./data), and the others README.md lists."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="arxiv-rss-bot: arXiv as ranked feeds",
        epilog=SETTINGS,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _command(
        commands,
        "refresh",
        "fetch today's arXiv announcements, rank, store and summarise them",
        "Fetch today's arXiv announcements for the categories config.json follows (one request; "
        "the window's missing days from the arXiv API when the store lacks them), rank them by your "
        "keywords, store them, then make the AI summaries due until summary.time_budget_s. Prints "
        "progress, then one line: fetched, followed, new, updated, matched, stored, summaries, time. "
        "Exit status 1 with one message when arXiv or the store fails; the stored papers stay.",
    )
    _command(
        commands,
        "summarize",
        "continue making AI summaries for the stored papers",
        "Make the AI summaries still due for the stored papers: those a time budget, a rate limit or "
        "the daily budget (summary.daily_budget) left queued. Summaries already made are never paid "
        "for twice. Needs DASHSCOPE_API_KEY (or the key summary.api_key_env names); prints one line: "
        "made, cached, rejected, failed, queued, tokens.",
    )
    backfill = _command(
        commands,
        "backfill",
        "fill the feeds' window from the arXiv API now (and refresh), showing progress",
        "Ask the arXiv API for the followed categories' submissions of the last N days now, "
        "whatever was filled before (one request every 3 seconds, a line per page), then refresh.",
    )
    _command(
        commands,
        "check",
        "check the settings and config.json, exit 1 with the error if they do not load (the Vercel build runs it)",
        "Load the settings and config.json as the service does and say what is wrong, if anything "
        "(exit status 1), without touching arXiv or the store. The Vercel build runs it.",
    )
    backfill.add_argument(
        "--days",
        type=_days,
        default=None,
        help="how many days back to fill, 1 to 90 (default: days_back of config.json)",
    )
    digest = _command(
        commands, "digest", "write the Markdown digest of the ranked papers", "The daily Markdown digest (as /digest)."
    )
    digest.add_argument("-o", "--output", help="file to write (default: standard output)")
    serve = _command(
        commands, "serve", "serve the feeds over HTTP", "Serve the feeds, the index page and /health with uvicorn."
    )
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
    # httpx and the Upstash store's connections log every request at INFO (one URL of a split
    # arXiv fetch is 1.5 KB): only with -v.
    for noisy in ("httpx", "httpcore", "core.store.connections"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
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


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` says what it does (``help`` is its line in the main help)."""
    command = commands.add_parser(name, help=summary, description=description, epilog=SETTINGS)
    command.add_argument(
        "-v", "--verbose", action="store_true", help="also log every HTTP request (to arXiv, DashScope, Upstash)"
    )
    return command


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
    from core.store import open_store
    from core.web.routes.pages import digest_of
    from core.web.snapshot import Snapshot

    config = load_config(settings.config_path)
    store = open_store(settings)
    text = digest_of(Snapshot(store, *store.load_feed(None, None)), config)
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
