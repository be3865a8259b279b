"""core.cli: ``python -m core refresh`` and ``python -m core serve`` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from tests.conftest import process_env
from tests.loopback import free_port
from tests.uvicorn_server import wait_for_health

ROOT = Path(__file__).parents[1]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return process_env(settings)


@pytest.mark.slow
def test_refresh_prints_progress_and_a_one_line_summary(env: dict[str, str]) -> None:
    result = run(env, "refresh")
    assert result.returncode == 0, result.stderr
    assert "fetching http://127.0.0.1:" in result.stderr
    assert "parsed 1504 papers, 367 in followed categories" in result.stderr
    last = result.stdout.strip().splitlines()[-2]
    assert last.startswith("refresh ok: fetched 1504, followed 367, new 367, updated 0, matched ")
    assert "stored 367; summaries made 0, cached 0, queued 0, tokens 0, took " in last
    assert "summaries: no DASHSCOPE_API_KEY is set" in result.stdout
    assert (result.stdout + result.stderr).count("refresh ok: fetched 1504") == 1  # said once
    assert "HTTP Request:" not in result.stderr  # httpx's line per request only with -v
    verbose = run(env, "refresh", "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert "httpx: HTTP Request: GET http://127.0.0.1:" in verbose.stderr


@pytest.mark.parametrize(
    ("command", "said"),
    [
        ("refresh", "rank them by your keywords, store them, then make the AI summaries due"),
        ("summarize", "Make the AI summaries still due for the stored papers"),
        ("backfill", "how many days back to fill, 1 to 90"),
    ],
)
def test_each_command_describes_itself_in_help(env: dict[str, str], command: str, said: str) -> None:
    result = run(env, command, "--help")
    assert result.returncode == 0
    assert said in " ".join(result.stdout.split())
    assert "-v, --verbose" in result.stdout


def test_refresh_with_arxiv_down_fails_with_a_clear_message(env: dict[str, str]) -> None:
    result = run({**env, "ARXIV_RSS_BASE": "http://127.0.0.1:9/rss"}, "refresh")
    assert result.returncode == 1
    expected = (
        "error: arxiv: this machine cannot reach arXiv (network or DNS): "
        "http://127.0.0.1:9/rss/cs.AI+cs.LG+cs.CL failed after 3 attempts: ConnectError"
    )
    assert expected in result.stderr
    assert "run `make refresh` (or python -m core refresh) once online" in result.stderr
    assert "arXiv may be down" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_bad_config_stops_with_one_message(env: dict[str, str], config_path: Path) -> None:
    config_path.write_text('{"categories": ["cs.XX"]}')
    for command in ("refresh", "serve"):
        result = run(env, command)
        assert result.returncode == 1
        assert "error: config: " in result.stderr
        assert "'cs.XX' is not an arXiv category" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    assert run(env, "refresh").returncode == 0
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_health(url, process)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.slow
def test_serve_answers_on_the_port(served: str) -> None:
    assert httpx.get(served + "/health").json()["papers"] == 367
    assert httpx.get(served + "/rss/cs.LG").status_code == 200


def test_a_missing_config_path_stops_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    result = run({**env, "CONFIG_PATH": str(tmp_path / "typo.json")}, "refresh")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: config: CONFIG_PATH={str(tmp_path / 'typo.json')!r} names no file "
        "(point CONFIG_PATH at your config.json, or unset it to use ./config.json)"
    ]


def test_help_names_the_environment_and_the_serve_options(env: dict[str, str]) -> None:
    top = run(env, "--help").stdout
    assert "CONFIG_PATH" in top
    assert "DATA_DIR" in top
    serve = run(env, "serve", "--help").stdout
    assert "address to listen on (default: 127.0.0.1" in serve
    assert "port to listen on (default: 8000)" in serve


def test_check_passes_a_good_config_and_fails_a_bad_one_with_its_message(
    env: dict[str, str], config_path: Path
) -> None:
    """What the Vercel build runs (vercel.json's buildCommand): exit 1 fails the build."""
    good = run(env, "check")
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith(f"{config_path}: ok (3 categories")
    config_path.write_text('{"categories": ["cs.AI"], "summary": {"region": "intl", "model": "qwen-long"}}')
    bad = run(env, "check")
    assert bad.returncode == 1
    assert "offered only in DashScope's China (Beijing) region" in bad.stderr
    assert "Traceback" not in bad.stderr
