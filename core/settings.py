"""Environment settings: where things live and which servers to talk to.

The only module that reads the environment. ``Settings.from_env`` takes the environment as
an argument so tests (and the CLI) pass their own; everything else receives a ``Settings``.
What a user follows (categories, keywords, ...) lives in config.json, see ``core.config``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from core.errors import ConfigError

DEFAULT_RSS_BASE = "https://rss.arxiv.org/rss"
DEFAULT_API_BASE = "https://export.arxiv.org/api/query"
DEFAULT_PDF_BASE = "https://export.arxiv.org/pdf"  # arXiv asks automated clients to use its export host
SECRETS = frozenset({"cron_secret", "upstash_token", "dashscope_api_key"})
DEFAULT_ZOTERO_BASE = "https://api.zotero.org"
FEEDBACK_SECRETS = frozenset({"feedback_secret"})


@dataclass(frozen=True)
class Settings:
    config_path: Path = Path("config.json")
    data_dir: Path = Path("data")
    arxiv_rss_base: str = DEFAULT_RSS_BASE
    arxiv_api_base: str = DEFAULT_API_BASE
    arxiv_pdf_base: str = DEFAULT_PDF_BASE
    # arXiv's terms of use: no more than one request every three seconds.
    arxiv_min_interval_s: float = 3.0
    arxiv_timeout_s: float = 30.0
    cron_secret: str | None = None
    # The base of every link this service makes to itself (None: the request's Host).
    public_url: str | None = None
    # The function's time limit (Vercel: maxDuration in vercel.json); the cron job stays inside it.
    function_max_s: float = 300.0
    # A deployment that has never refreshed runs its first refresh at the first page visit (on
    # Vercel the first cron may be a day away). On by default on Vercel; FIRST_VISIT_REFRESH=0|1.
    first_visit_refresh: bool = False
    # ``python -m core serve`` runs the crons' jobs itself on their schedule; SERVE_SCHEDULE=0 (or
    # --no-schedule) turns that off.
    serve_schedule: bool = True
    # Upstash Redis: either the names Upstash's console gives, or those of Vercel's integration.
    upstash_url: str | None = None
    upstash_token: str | None = None
    store_timeout_s: float = 5.0
    # DashScope: the key, and a base URL that overrides config.json's region (tests, proxies).
    dashscope_api_key: str | None = None
    dashscope_base_url: str | None = None
    # Keys of OpenAI-compatible providers, by variable name (config.json names the variable).
    api_keys: Mapping[str, str] = field(default_factory=dict)
    # The Zotero Web API (config.json's "zotero" names the library and its key's variable).
    zotero_api_base: str = DEFAULT_ZOTERO_BASE
    # The key that signs the feeds' "Like" / "Not for me" links (core.web.signing); without it,
    # one derived from cron_secret; without either, no links.
    feedback_secret: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            config_path=_config_path(env),
            data_dir=Path(env.get("DATA_DIR") or "data"),
            arxiv_rss_base=_url(env, "ARXIV_RSS_BASE", DEFAULT_RSS_BASE),
            arxiv_api_base=_url(env, "ARXIV_API_BASE", DEFAULT_API_BASE),
            arxiv_pdf_base=_url(env, "ARXIV_PDF_BASE", DEFAULT_PDF_BASE),
            arxiv_min_interval_s=_number(env, "ARXIV_MIN_INTERVAL_S", 3.0),
            arxiv_timeout_s=_number(env, "ARXIV_TIMEOUT_S", 30.0),
            cron_secret=env.get("CRON_SECRET") or None,
            public_url=_public_url(env),
            function_max_s=_number(env, "FUNCTION_MAX_S", 300.0),
            first_visit_refresh=_flag(env, "FIRST_VISIT_REFRESH", default=bool(env.get("VERCEL"))),
            serve_schedule=_flag(env, "SERVE_SCHEDULE", default=True),
            # Stripped: a value pasted with a line break (a common slip) would fail every request.
            upstash_url=(env.get("UPSTASH_REDIS_REST_URL") or env.get("KV_REST_API_URL") or "").strip() or None,
            upstash_token=(env.get("UPSTASH_REDIS_REST_TOKEN") or env.get("KV_REST_API_TOKEN") or "").strip() or None,
            store_timeout_s=_number(env, "STORE_TIMEOUT_S", 5.0),
            dashscope_api_key=env.get("DASHSCOPE_API_KEY") or None,
            dashscope_base_url=_url(env, "DASHSCOPE_BASE_URL", "") if env.get("DASHSCOPE_BASE_URL") else None,
            api_keys={k: v for k, v in env.items() if k.endswith("_API_KEY") and v},
            zotero_api_base=_url(env, "ZOTERO_API_BASE", DEFAULT_ZOTERO_BASE),
            feedback_secret=env.get("FEEDBACK_SECRET") or None,
        )

    def describe(self) -> dict[str, object]:
        """The settings as shown by /config, every field: secrets only say whether they are set,
        and of the ``*_API_KEY`` variables only the names show."""
        described: dict[str, object] = {"store": "upstash" if self.upstash_url and self.upstash_token else "sqlite"}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in SECRETS | FEEDBACK_SECRETS:
                described[item.name] = "set" if value else "not set"
            elif item.name == "api_keys":
                described["api_keys_set"] = sorted(value)
            else:
                described[item.name] = str(value) if isinstance(value, Path) else value
        return described


def _config_path(env: Mapping[str, str]) -> Path:
    """CONFIG_PATH must name a file that exists; without it, ./config.json (or the defaults)."""
    named = env.get("CONFIG_PATH")
    if not named:
        return Path("config.json")
    path = Path(named)
    if not path.is_file():
        raise ConfigError(
            f"CONFIG_PATH={named!r} names no file",
            "point CONFIG_PATH at your config.json, or unset it to use ./config.json",
        )
    return path


def _public_url(env: Mapping[str, str]) -> str | None:
    """PUBLIC_URL, or on Vercel the production domain it provides (VERCEL_PROJECT_PRODUCTION_URL)."""
    if env.get("PUBLIC_URL"):
        return _url(env, "PUBLIC_URL", "https://arxiv.example.org")
    domain = env.get("VERCEL_PROJECT_PRODUCTION_URL")
    return f"https://{domain.strip('/')}" if domain else None


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or default).rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name}={value!r} is not an http(s) URL", f"set {name} like {default}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return raw in ("1", "true", "yes", "on")
    raise ConfigError(f"{name}={env[name]!r} is not a yes or no", f"set {name}=1 or {name}=0")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number", f"set {name} to seconds, e.g. {default:g}") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} is negative", f"set {name} to 0 or more seconds")
    return value
