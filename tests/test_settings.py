"""core.settings: environment settings, parsed once, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.config_path == Path("config.json")
    assert settings.data_dir == Path("data")
    assert settings.arxiv_rss_base == "https://rss.arxiv.org/rss"
    assert settings.arxiv_api_base == "https://export.arxiv.org/api/query"
    assert settings.arxiv_min_interval_s == 3.0
    assert settings.cron_secret is None


def test_reads_the_documented_names(tmp_path: Path) -> None:
    (tmp_path / "radar.json").write_text("{}")
    settings = Settings.from_env(
        {
            "CONFIG_PATH": str(tmp_path / "radar.json"),
            "DATA_DIR": "/var/radar",
            "ARXIV_RSS_BASE": "http://127.0.0.1:9999/rss/",
            "ARXIV_API_BASE": "http://127.0.0.1:9999/api/query",
            "ARXIV_MIN_INTERVAL_S": "0.5",
            "CRON_SECRET": "s3cret",
        }
    )
    assert settings.config_path == tmp_path / "radar.json"
    assert settings.data_dir == Path("/var/radar")
    assert settings.arxiv_rss_base == "http://127.0.0.1:9999/rss"
    assert settings.arxiv_min_interval_s == 0.5
    assert settings.cron_secret == "s3cret"


def test_secrets_are_never_described() -> None:
    env = {"CRON_SECRET": "s3cret", "UPSTASH_REDIS_REST_TOKEN": "t0ken", "DASHSCOPE_API_KEY": "sk-1", "X_API_KEY": "k2"}
    described = Settings.from_env(env).describe()
    assert described["cron_secret"] == "set"
    assert described["api_keys_set"] == ["DASHSCOPE_API_KEY", "X_API_KEY"]
    for secret in env.values():
        assert secret not in repr(described)


def test_the_zotero_api_base_defaults_to_zoteros_and_its_key_shows_by_name_only() -> None:
    assert Settings.from_env({}).zotero_api_base == "https://api.zotero.org"
    settings = Settings.from_env({"ZOTERO_API_BASE": "http://127.0.0.1:9/", "ZOTERO_API_KEY": "zk-secret"})
    assert settings.zotero_api_base == "http://127.0.0.1:9"
    assert settings.api_keys["ZOTERO_API_KEY"] == "zk-secret"
    described = settings.describe()
    assert described["api_keys_set"] == ["ZOTERO_API_KEY"]
    assert "zk-secret" not in repr(described)


def test_every_setting_is_described() -> None:
    """describe() is derived from the fields, so a new setting cannot be left out of /config."""
    described = Settings().describe()
    for name in Settings.__dataclass_fields__:
        assert name in described or f"{name}_set" in described, name


def test_public_url_comes_from_the_environment_or_vercel() -> None:
    assert Settings.from_env({}).public_url is None
    assert Settings.from_env({"PUBLIC_URL": "https://radar.example.org/"}).public_url == "https://radar.example.org"
    vercel = {"VERCEL_PROJECT_PRODUCTION_URL": "radar.vercel.app"}
    assert Settings.from_env(vercel).public_url == "https://radar.vercel.app"
    assert Settings.from_env({**vercel, "PUBLIC_URL": "http://x.test"}).public_url == "http://x.test"


def test_a_config_path_naming_no_file_is_an_error(tmp_path: Path) -> None:
    """Silently using the defaults would hide a typo in CONFIG_PATH."""
    with pytest.raises(ConfigError, match=r"CONFIG_PATH='.*nope.json' names no file") as error:
        Settings.from_env({"CONFIG_PATH": str(tmp_path / "nope.json")})
    assert "unset it to use ./config.json" in error.value.hint
    assert Settings.from_env({}).config_path == Path("config.json")  # unset: ./config.json or the defaults


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ARXIV_MIN_INTERVAL_S": "three"}, "ARXIV_MIN_INTERVAL_S='three' is not a number"),
        ({"ARXIV_MIN_INTERVAL_S": "-1"}, "is negative"),
        ({"ARXIV_RSS_BASE": "rss.arxiv.org/rss"}, "is not an http"),
        ({"ZOTERO_API_BASE": "api.zotero.org"}, "ZOTERO_API_BASE='api.zotero.org' is not an http"),
    ],
)
def test_bad_environment_values_are_named(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env(env)


def test_the_upstash_url_and_token_are_read_without_a_pasted_line_break() -> None:
    settings = Settings.from_env({"UPSTASH_REDIS_REST_URL": " https://x.upstash.io\n", "KV_REST_API_TOKEN": "tok\r\n"})
    assert (settings.upstash_url, settings.upstash_token) == ("https://x.upstash.io", "tok")
    assert Settings.from_env({"UPSTASH_REDIS_REST_URL": "  \n"}).upstash_url is None
