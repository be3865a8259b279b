"""config.json: what the user follows, validated once on load.

``load_config(path)`` returns a typed ``Config`` or raises ``ConfigError`` with one message
that names the file, the key and the fix. Secrets and server addresses are not here: they
come from the environment (``core.settings``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from core import taxonomy
from core.arxiv.ids import parse_id
from core.errors import ConfigError, QueryError
from core.text.latex import clean_text
from core.text.matching import Node
from core.text.querylang import parse_query

# A text config.json gives feeds (a title, a keyword, a model's name): cleaned of XML-illegal
# characters and folded white space once, here, as every text is where it comes in.
Text = Annotated[str, AfterValidator(clean_text)]


def _known_category(name: str) -> str:
    if not taxonomy.is_known(name):
        raise ValueError(f"{name!r} is not an arXiv category or archive{taxonomy.did_you_mean(name)}")
    return name


Category = Annotated[str, AfterValidator(_known_category)]


def _liked_id(text: str) -> str:
    found = parse_id(text)
    if found is None:
        raise ValueError(f"{text!r} is not an arXiv id (write it like 2411.17775 or hep-th/9901001)")
    return found


LikedId = Annotated[str, AfterValidator(_liked_id)]
# The liked set's caps: every liked paper is kept in the store and compared with every stored
# paper at each refresh, so it stays a reading list, not a library (a 64 MB, 60,000-entry
# export took 439 MB to read).
MAX_LIKED_IDS = 1_000  # config.json's like lists together (its own and its topics')
MAX_BIBTEX_BYTES = 5_000_000
MAX_BIBTEX_ENTRIES = 2_000
_BIBTEX_ENTRY = re.compile(rb"^[ \t]*@(?!(?:comment|string|preamble)\b)[a-z]+[ \t]*[{(]", re.IGNORECASE | re.MULTILINE)
_SMALLER_EXPORT = (
    "export only the collection the for-you feed should follow (in Zotero: right-click it, Export Collection)"
)
AnnounceType = Literal["new", "cross", "replace", "replace-cross"]
ANNOUNCE_TYPES: tuple[str, ...] = ("new", "cross", "replace", "replace-cross")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DailyBudget(_Strict):
    calls: int = Field(100, ge=0)
    tokens: int = Field(2_000_000, ge=0)


# DashScope (Alibaba Cloud Model Studio) by region: an API key works only at its own region's
# endpoint, and the region decides the chat endpoint, the embeddings endpoint and the default
# model. qwen-long (whole documents, 10M-token context) is offered only in the China (Beijing)
# region; qwen-plus (long context) internationally (Singapore) too. text-embedding-v4 is offered
# in both.
REGIONS = ("cn", "intl")
DASHSCOPE_HOSTS = {"cn": "https://dashscope.aliyuncs.com", "intl": "https://dashscope-intl.aliyuncs.com"}
DEFAULT_MODELS = {"cn": "qwen-long", "intl": "qwen-plus"}
BEIJING_ONLY = ("qwen-long",)
MAX_OUTPUT_TOKENS = 8_192  # qwen-long's documented output limit (the default model's)
# text-embedding-v4's documented limits: these dimensions, at most 10 rows (texts) a call.
EMBEDDING_LIMITS: dict[str, tuple[tuple[int, ...], int]] = {
    "text-embedding-v4": ((64, 128, 256, 512, 768, 1024, 1536, 2048), 10),
}


def dashscope_base(region: str, mode: Literal["native", "compatible"], host: str | None = None) -> str:
    """The base URL of DashScope's native API (``/api/v1``) or its OpenAI-compatible mode
    (``/compatible-mode/v1``) in ``region``; ``host`` (DASHSCOPE_BASE_URL) overrides the region's."""
    root = (host or DASHSCOPE_HOSTS[region]).rstrip("/").removesuffix("/api/v1").removesuffix("/compatible-mode/v1")
    return root + ("/api/v1" if mode == "native" else "/compatible-mode/v1")


class SummaryConfig(_Strict):
    """AI summaries of the top papers (made by the refresh job, never on a reader's request)."""

    provider: Literal["dashscope", "openai", "none"] = "dashscope"
    model: Text = Field(DEFAULT_MODELS["cn"], min_length=1)  # dashscope: follows region when unset
    language: str = Field("zh", min_length=2, max_length=20)
    max_papers: int = Field(15, ge=0, le=200)
    source: Literal["abstract", "fulltext"] = "fulltext"
    region: Literal["cn", "intl"] = "cn"  # DashScope: Beijing or Singapore, for chat and embeddings
    base_url: str | None = None  # openai: e.g. https://api.deepseek.com/v1 or http://127.0.0.1:11434/v1
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^[A-Z][A-Z0-9_]*_API_KEY$")
    concurrency: int = Field(4, ge=1, le=16)
    time_budget_s: float = Field(120, gt=0, le=280)  # below Vercel's 300 s function limit
    request_timeout_s: float = Field(60, gt=0, le=280)
    max_input_chars: int = Field(60_000, ge=1_000, le=2_000_000)
    max_output_tokens: int = Field(2_000, ge=100, le=MAX_OUTPUT_TOKENS)  # sent as max_tokens with every call
    pdf_max_bytes: int = Field(20_000_000, ge=100_000, le=100_000_000)
    daily_budget: DailyBudget = Field(default_factory=DailyBudget)

    @model_validator(mode="before")
    @classmethod
    def _model_for_region(cls, data: Any) -> Any:
        if isinstance(data, dict) and "model" not in data and data.get("provider", "dashscope") == "dashscope":
            region = data.get("region", "cn")
            return (
                {**data, "model": DEFAULT_MODELS.get(region, DEFAULT_MODELS["cn"])} if isinstance(region, str) else data
            )
        return data

    @model_validator(mode="after")
    def _model_in_region(self) -> SummaryConfig:
        if self.provider == "dashscope" and self.region != "cn" and self.model.lower().startswith(BEIJING_ONLY):
            raise ValueError(
                f"summary.model {self.model!r} is offered only in DashScope's China (Beijing) region, "
                f"not with summary.region {self.region!r}: use {DEFAULT_MODELS[self.region]!r} "
                "(or leave summary.model out), or set summary.region to 'cn' with a Beijing API key"
            )
        return self


class Topic(_Strict):
    """A named feed of its own: categories plus a query (or keywords), at /rss/topic/<name>."""

    name: str
    title: Text | None = None
    categories: list[Category] = Field(default_factory=list)  # empty: every followed category
    query: str | None = Field(None, max_length=1000)
    keywords: list[Text] = Field(default_factory=list, max_length=200)
    exclude_keywords: list[Text] = Field(default_factory=list, max_length=200)
    min_score: float | None = Field(None, ge=0)
    max_papers: int | None = Field(None, ge=1, le=500)
    summary: bool = True
    like: list[LikedId] = Field(default_factory=list, max_length=500)  # ranks the topic by similarity
    # The query parsed on load, kept for every feed and refresh; private, so /config and the
    # config's hash show the text alone.
    _parsed_query: Node | None = PrivateAttr(None)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        # The name is a path segment (/rss/topic/<name>): keep it to what needs no escaping.
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", value):
            raise ValueError(
                f"{value!r} is not a topic name: use lower-case letters, digits and hyphens, "
                'starting with a letter or digit, at most 41 characters (e.g. "kv-cache")'
            )
        return value

    @field_validator("query")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _parse_topic_query(value)
            except QueryError as exc:
                raise ValueError(exc.message.removeprefix("parameter 'query': ") + f" ({exc.hint})") from None
        return value

    def model_post_init(self, context: Any) -> None:
        self._parsed_query = _parse_topic_query(self.query) if self.query else None

    @property
    def parsed_query(self) -> Node | None:
        """The topic's query, parsed when config.json was loaded."""
        return self._parsed_query


# A field validator cannot keep what it parsed on the topic, so the check and the topic share
# one parse through this cache (a parsed query is immutable: sharing it is safe).
@lru_cache(maxsize=256)
def _parse_topic_query(text: str) -> Node:
    return parse_query(text, "query")


class BackfillConfig(_Strict):
    """Filling the window from the arXiv API when the store lacks days (a first deploy, a
    newly followed category): pages of ``page_size``, at most ``max_pages`` a run."""

    enabled: bool = True
    page_size: int = Field(200, ge=100, le=500)
    max_pages: int = Field(20, ge=1, le=100)


class EmbeddingsConfig(_Strict):
    """An OpenAI-compatible /embeddings endpoint: DashScope's compatible mode in
    ``summary.region`` (the default: text-embedding-v4), OpenAI, or a local Ollama."""

    base_url: str | None = None  # None: DashScope's compatible mode in summary.region
    model: str = Field("text-embedding-v4", min_length=1)
    api_key_env: str = Field("DASHSCOPE_API_KEY", pattern=r"^[A-Z][A-Z0-9_]*_API_KEY$")
    dimensions: int = Field(512, ge=64, le=4096)
    batch: int = Field(10, ge=1, le=256)
    max_papers: int = Field(1000, ge=0, le=20_000)  # embedded per refresh at most (each paper once)
    timeout_s: float = Field(30, gt=0, le=120)

    @model_validator(mode="after")
    def _documented_limits(self) -> EmbeddingsConfig:
        if self.model not in EMBEDDING_LIMITS:
            return self
        dimensions, rows = EMBEDDING_LIMITS[self.model]
        if self.dimensions not in dimensions:
            raise ValueError(
                f"dimensions {self.dimensions} is not one {self.model} offers: use one of {list(dimensions)}"
            )
        if self.batch > rows:
            raise ValueError(f"batch {self.batch} is more than {self.model}'s {rows} texts a call: use at most {rows}")
        return self


class SimilarityConfig(_Strict):
    """How the for-you feed measures "like": the built-in lexical model, or embeddings."""

    model: Literal["lexical", "embeddings"] = "lexical"
    embeddings: EmbeddingsConfig = Field(default_factory=EmbeddingsConfig)


def _zotero_library_id(value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]{0,11}", value):
        raise ValueError(
            f"{value!r} is not a Zotero library id: a user's is the number on https://www.zotero.org/settings/keys"
            ' ("your user ID for use in API calls"), a group\'s the number in its address'
        )
    return value


def _zotero_collection(value: str) -> str:
    if not re.fullmatch(r"[23456789ABCDEFGHIJKLMNPQRSTUVWXYZ]{8}", value):
        raise ValueError(
            f"{value!r} is not a Zotero collection key: it is the 8 letters and digits after"
            " /collections/ in the address of the collection in Zotero's web library"
        )
    return value


class ZoteroConfig(_Strict):
    """A Zotero library (or one collection of it) whose papers count as liked, synced by the
    refresh through the Zotero Web API; its key comes from the environment variable named here."""

    library_type: Literal["user", "group"]
    library_id: Annotated[str, AfterValidator(_zotero_library_id)]
    collection: Annotated[str, AfterValidator(_zotero_collection)] | None = None
    api_key_env: str = Field("ZOTERO_API_KEY", pattern=r"^[A-Z][A-Z0-9_]*_API_KEY$")

    @field_validator("library_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def prefix(self) -> str:
        """The library's path in the Web API: ``users/<id>`` or ``groups/<id>``."""
        return f"{self.library_type}s/{self.library_id}"


class Config(_Strict):
    title: Text = "arXiv radar"
    categories: list[Category] = Field(default_factory=lambda: ["cs.AI", "cs.LG", "cs.CL"], min_length=1, max_length=50)
    keywords: list[str] = Field(default_factory=list, max_length=200)
    exclude_keywords: list[str] = Field(default_factory=list, max_length=200)
    max_papers: int = Field(50, ge=1, le=500)
    min_score: float = Field(1.0, ge=0)
    days_back: int = Field(7, ge=1, le=90)
    announce_types: list[AnnounceType] = Field(default_factory=lambda: ["new", "cross"], min_length=1)  # type: ignore[arg-type]
    summary: SummaryConfig = Field(default_factory=SummaryConfig)
    topics: list[Topic] = Field(default_factory=list, max_length=50)
    enrich: bool = True  # ask the arXiv API for comments, venue, code links, primary category
    backfill: BackfillConfig = Field(default_factory=BackfillConfig)
    # Papers you love: arXiv ids, and a BibTeX export next to config.json (for the for-you feed).
    like: list[LikedId] = Field(default_factory=list, max_length=500)
    like_bibtex: str | None = Field(None, max_length=300)
    similarity: SimilarityConfig = Field(default_factory=SimilarityConfig)
    zotero: ZoteroConfig | None = None  # a Zotero library as liked papers

    @property
    def liked_ids(self) -> list[str]:
        """Every id liked in config.json: its own and its topics' (not the BibTeX file's)."""
        return list(dict.fromkeys([*self.like, *(i for t in self.topics for i in t.like)]))

    @model_validator(mode="after")
    def _likes_fit(self) -> Config:
        if len(self.liked_ids) > MAX_LIKED_IDS:
            raise ValueError(
                f"like: {len(self.liked_ids):,} liked ids in all (like and the topics' like lists); at most"
                f" {MAX_LIKED_IDS:,} are taken: keep the papers you want more of, or list them in like_bibtex"
            )
        return self

    @model_validator(mode="after")
    def _topics_fit(self) -> Config:
        names = [t.name for t in self.topics]
        if len(names) != len(set(names)):
            raise ValueError("topics: two topics share a name")
        for topic in self.topics:
            if not topic.query and not topic.keywords:
                raise ValueError(f"topics: topic {topic.name!r} needs a query or keywords")
            stray = [c for c in topic.categories if c not in self.categories]
            if stray:
                raise ValueError(f"topics: topic {topic.name!r} uses {stray[0]!r}, which categories does not follow")
        return self

    @field_validator("categories")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("keywords", "exclude_keywords")
    @classmethod
    def _clean_terms(cls, value: list[str]) -> list[str]:
        terms = [clean_text(term) for term in value]
        if any(not term for term in terms):
            raise ValueError("contains an empty keyword")
        return list(dict.fromkeys(terms))


_FIXES = {
    "categories": 'use arXiv names such as "cs.AI" or "cs" (https://arxiv.org/category_taxonomy)',
    "announce_types": f"use some of {list(ANNOUNCE_TYPES)}",
    "zotero": (
        'write it like {"library_type": "user", "library_id": "123456"};'
        ' README.md\'s "Follow a Zotero library" says where each value is'
    ),
}


def load_config(path: Path) -> Config:
    """Read and validate config.json; a missing file gives the defaults."""
    if not path.exists():
        return Config()
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # -sig: a BOM from Notepad is fine
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})",
            "save the file as UTF-8",
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: arrays or objects nested too deeply", "config.json needs three levels") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            "fix the JSON syntax (a trailing comma or a missing quote is the usual cause)",
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}", "check the path in CONFIG_PATH") from None
    config = parse_config(data, source=str(path))
    if config.like_bibtex and not bibtex_path(config, path).is_file():
        raise ConfigError(
            f"{path}: key 'like_bibtex': {config.like_bibtex!r} names no file next to config.json",
            'export your library as BibTeX into the repository and name it here, e.g. "likes.bib"',
        )
    if config.like_bibtex:
        _check_bibtex(bibtex_path(config, path), f"{path}: key 'like_bibtex': {config.like_bibtex!r}")
    return config


def _check_bibtex(bib: Path, where: str) -> None:
    """Refuse a BibTeX file over the liked set's caps (size first: it is not read past it)."""
    size = bib.stat().st_size
    if size > MAX_BIBTEX_BYTES:
        raise ConfigError(
            f"{where} is {size / 1e6:.1f} MB; at most {MAX_BIBTEX_BYTES / 1e6:.0f} MB is read", _SMALLER_EXPORT
        )
    entries = len(_BIBTEX_ENTRY.findall(bib.read_bytes()))
    if entries > MAX_BIBTEX_ENTRIES:
        raise ConfigError(f"{where} has {entries:,} entries; at most {MAX_BIBTEX_ENTRIES:,} are taken", _SMALLER_EXPORT)


def bibtex_path(config: Config, config_path: Path) -> Path:
    """Where ``like_bibtex`` is: relative to config.json's folder."""
    return config_path.parent / (config.like_bibtex or "")


def parse_config(data: Any, source: str = "config.json") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a JSON object", 'start the file with "{"')
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, source) from None


def _explain(exc: ValidationError, source: str) -> ConfigError:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    key = ".".join(part for part in loc if not part.isdigit()) or "(top level)"
    where = loc[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:]) if loc else key
    first = loc[0] if loc else ""
    if error["type"] == "extra_forbidden":
        model: type[BaseModel] = Config
        if first == "summary" and len(loc) > 1:
            model = DailyBudget if len(loc) > 2 and loc[1] == "daily_budget" else SummaryConfig
        elif first == "topics" and len(loc) > 2:
            model = Topic
        elif first == "backfill" and len(loc) > 1:
            model = BackfillConfig
        elif first == "similarity" and len(loc) > 1:
            model = EmbeddingsConfig if len(loc) > 2 and loc[1] == "embeddings" else SimilarityConfig
        elif first == "zotero" and len(loc) > 1:
            model = ZoteroConfig
        known = sorted(model.model_fields)
        import difflib  # here, not at import: only a mistyped key needs it (a cold start never does)

        close = difflib.get_close_matches(loc[-1], known, n=1)
        fix = f"did you mean {close[0]!r}? " if close else ""
        return ConfigError(f"{source}: unknown key {where!r}", f"{fix}valid keys: {', '.join(known)}")
    message = str(error["msg"]).removeprefix("Value error, ")
    fix = _FIXES.get(first, "see the config keys in README.md")
    if error["type"] == "list_type" and isinstance(error.get("input"), str):
        items = [part.strip() for part in error["input"].split(",") if part.strip()] or ["LLM", "agent"]
        message = "a string where a list of strings is needed"
        fix = f"write it as a JSON list, e.g. {json.dumps(items, ensure_ascii=False)}"
    if not loc:  # a rule across keys (topics): the message names them
        return ConfigError(f"{source}: {message}", fix)
    return ConfigError(f"{source}: key {where!r}: {message}", fix)
