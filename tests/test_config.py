"""core.config: config.json validation, with messages that name the file, the key and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import Config, Topic, dashscope_base, load_config, parse_config
from core.errors import ConfigError
from core.text.latex import clean_text
from core.text.matching import Matcher, match_papers
from core.text.querylang import parse_query
from tests.feed_rules import illegal_in_feeds
from tests.papers import make_paper


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_the_shipped_config_is_valid() -> None:
    config = load_config(Path(__file__).parents[1] / "config.json")
    assert config.categories
    assert config.keywords


@pytest.mark.parametrize(
    ("region", "model", "host"), [("cn", "qwen-long", "dashscope"), ("intl", "qwen-plus", "dashscope-intl")]
)
def test_the_shipped_config_works_in_either_region_by_changing_only_region(
    tmp_path: Path, region: str, model: str, host: str
) -> None:
    """One region decides the chat endpoint, the embeddings endpoint and the default model."""
    shipped = json.loads((Path(__file__).parents[1] / "config.json").read_text())
    shipped["summary"]["region"] = region
    config = load_config(write(tmp_path, shipped))
    assert config.summary.model == model
    assert dashscope_base(config.summary.region, "native") == f"https://{host}.aliyuncs.com/api/v1"
    assert dashscope_base(config.summary.region, "compatible") == f"https://{host}.aliyuncs.com/compatible-mode/v1"
    assert config.similarity.embeddings.base_url is None  # so embeddings follow the region too
    assert dashscope_base(region, "compatible", "http://127.0.0.1:9/api/v1") == "http://127.0.0.1:9/compatible-mode/v1"


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"summary": {"max_output_tokens": 16_000}}, r"summary.max_output_tokens.*8192"),
        ({"similarity": {"embeddings": {"dimensions": 4096}}}, r"dimensions 4096 .*text-embedding-v4.*2048"),
        ({"similarity": {"embeddings": {"dimensions": 300}}}, r"dimensions 300 "),
        ({"similarity": {"embeddings": {"batch": 25}}}, r"batch 25 .*at most 10"),
    ],
)
def test_limits_follow_each_models_documented_ones(data: dict[str, object], pattern: str) -> None:
    """qwen-long answers at most 8,192 tokens; text-embedding-v4 offers eight dimensions and
    takes at most 10 texts a call (Model Studio's model pages)."""
    with pytest.raises(ConfigError, match=pattern):
        parse_config(data)
    other = {"model": "nomic-embed-text", "base_url": "http://127.0.0.1:11434/v1", "dimensions": 300, "batch": 64}
    assert parse_config({"similarity": {"embeddings": other}}).similarity.embeddings.batch == 64
    assert parse_config({"summary": {"max_output_tokens": 8_192}}).summary.max_output_tokens == 8_192


def test_a_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "nope.json")
    assert config == Config()
    assert config.announce_types == ["new", "cross"]
    assert config.days_back == 7


def test_the_summary_model_follows_the_region() -> None:
    """qwen-long exists only in DashScope's Beijing region; the international default is qwen-plus."""
    assert parse_config({}).summary.model == "qwen-long"
    assert parse_config({"summary": {"region": "cn"}}).summary.model == "qwen-long"
    assert parse_config({"summary": {"region": "intl"}}).summary.model == "qwen-plus"
    assert parse_config({"summary": {"region": "intl", "model": "qwen-max"}}).summary.model == "qwen-max"
    assert parse_config({"summary": {"provider": "openai", "region": "intl", "model": "qwen-long"}}).summary.model


def test_summaries_read_the_whole_paper_by_default() -> None:
    assert parse_config({}).summary.source == "fulltext"
    assert parse_config({"summary": {"source": "abstract"}}).summary.source == "abstract"


def test_keywords_are_tidied_and_deduplicated() -> None:
    config = parse_config({"keywords": ["  kv   cache ", "LLM", "LLM"]})
    assert config.keywords == ["kv cache", "LLM"]


def test_archives_are_valid_categories() -> None:
    assert parse_config({"categories": ["cs", "hep-th", "math.NT"]}).categories == ["cs", "hep-th", "math.NT"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"categories": ["cs.AI", "cs.XX"]}, r"key 'categories\[1\]': 'cs.XX' is not an arXiv category"),
        ({"categories": ["CS.ai"]}, r"did you mean 'cs.AI'\?"),
        ({"categories": ["cs.ML"]}, r"'cs.ML' is not an arXiv category.*\(did you mean 'cs.LG' or 'stat.ML'\?"),
        (
            {"keywords": "LLM, agent"},
            r"key 'keywords': a string where a list of strings is needed.*e.g. \[\"LLM\", \"agent\"\]",
        ),
        (
            {"topics": [{"name": "KV Cache", "keywords": ["kv cache"]}]},
            r"'KV Cache' is not a topic name: use lower-case letters, digits and hyphens",
        ),
        ({"keyword": ["llm"]}, r"unknown key 'keyword' \(did you mean 'keywords'\?"),
        ({"summary": {"modle": "qwen-max"}}, r"unknown key 'summary.modle' \(did you mean 'model'\?"),
        ({"max_papers": "many"}, r"key 'max_papers': Input should be a valid integer"),
        ({"max_papers": 0}, r"key 'max_papers': Input should be greater than or equal to 1"),
        ({"announce_types": ["new", "old"]}, r"key 'announce_types\[1\]'.*use some of"),
        ({"keywords": ["llm", "  "]}, r"key 'keywords': contains an empty keyword"),
        ({"categories": []}, r"key 'categories'"),
        ([1, 2], r"top level must be a JSON object"),
        (
            {"zotero": {"library_type": "users", "library_id": "1"}},
            r"key 'zotero.library_type': Input should be 'user'",
        ),
        ({"zotero": {"library_type": "user", "library_id": "me"}}, r"'me' is not a Zotero library id.*settings/keys"),
        ({"zotero": {"library_type": "user"}}, r"key 'zotero.library_id': Field required.*library_type"),
        (
            {"zotero": {"library_type": "user", "library_id": 1, "collection": "my papers"}},
            r"'my papers' is not a Zotero collection key: it is the 8 letters and digits after /collections/",
        ),
        (
            {"zotero": {"library_type": "user", "library_id": 1, "api_key": "x"}},
            r"unknown key 'zotero.api_key' \(did you mean 'api_key_env'",
        ),
        (
            {"summary": {"region": "intl", "model": "qwen-long"}},
            r"key 'summary': summary.model 'qwen-long' is offered only in DashScope's China \(Beijing\) "
            r"region.*use 'qwen-plus'",
        ),
    ],
)
def test_bad_configs_get_one_clear_message(tmp_path: Path, data: object, expected: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=expected) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"config: {path}")
    assert "(" in message  # every message carries a fix
    assert "Traceback" not in message


def test_a_topic_query_is_parsed_on_load_and_kept_out_of_the_dump() -> None:
    text = 'abs:"kv cache" OR ti:"kv cache"'
    config = parse_config({"topics": [{"name": "kv", "query": text}, {"name": "rl", "keywords": ["agent"]}]})
    kv, rl = config.topics
    assert kv.parsed_query == parse_query(text, "query")
    assert rl.parsed_query is None
    dumped = config.model_dump(mode="json")["topics"][0]
    assert set(dumped) == set(Topic.model_fields)  # /config and the config's hash see the text alone
    assert dumped["query"] == text
    assert parse_config(config.model_dump(mode="json")) == config


def test_a_zotero_library_is_named_by_type_and_number_and_its_key_by_a_variable() -> None:
    zotero = parse_config({"zotero": {"library_type": "group", "library_id": 2319, "collection": "ABCD2345"}}).zotero
    assert zotero is not None
    assert zotero.prefix == "groups/2319"
    assert zotero.library_id == "2319"
    assert zotero.collection == "ABCD2345"
    assert zotero.api_key_env == "ZOTERO_API_KEY"
    assert parse_config({}).zotero is None


def test_liked_ids_are_arxiv_ids_in_any_of_its_forms() -> None:
    config = parse_config({"like": ["10.48550/arXiv.2411.17775", "oai:arXiv.org:hep-th/9901001v2"]})
    assert config.like == ["2411.17775", "hep-th/9901001"]
    with pytest.raises(ConfigError, match="is not an arXiv id"):  # arXiv writes ASCII digits only
        parse_config({"like": ["\uff12\uff14\uff11\uff11.\uff11\uff17\uff17\uff17\uff15"]})


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "categories": ["cs.AI",]\n}')
    with pytest.raises(ConfigError, match=r"not valid JSON at line 2, column 26"):
        load_config(path)


# Property tests: whatever config.json holds, loading gives a Config or one ConfigError
# naming the file (and the key, when one is at fault); never another exception.

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
KEYS = [*Config.model_fields, "summary.model", "summary.max_papers", "summary.daily_budget.calls", "topics"]


def load_or_explain(path: Path) -> Config | ConfigError:
    try:
        return load_config(path)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(f"config: {path}"), message
        assert error.hint, message  # every message says how to fix it  # noqa: PT017
        return error


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=JSON_VALUES)
def test_any_json_document_loads_or_is_explained(tmp_path: Path, data: object) -> None:
    load_or_explain(write(tmp_path, json.dumps(data)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), value=JSON_VALUES)
def test_one_bad_value_is_named_by_its_key(tmp_path: Path, key: str, value: object) -> None:
    """The shipped config with one value replaced: it loads, or the message names that key."""
    data = json.loads((Path(__file__).parents[1] / "config.json").read_text())
    *parents, last = key.split(".")
    target = data
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    result = load_or_explain(write(tmp_path, json.dumps(data)))
    if isinstance(result, ConfigError):
        assert key.split(".")[0] in result.message or "topics" in result.message, result.message


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_any_bytes_load_or_are_explained(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(raw)
    load_or_explain(path)


def test_not_utf8_and_deeply_nested_files_are_explained(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b'{"title": "\xff"}')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(path)


# A keyword is cleaned as it is read (core.text.latex.clean_text): one of nothing else is empty.
@given(config=st.builds(Config, keywords=st.lists(st.text(min_size=1, max_size=20).filter(clean_text), max_size=5)))
def test_a_loaded_config_survives_a_round_trip(config: Config) -> None:
    assert parse_config(config.model_dump(mode="json")) == config


def test_control_characters_in_config_texts_never_reach_a_feed() -> None:
    """config.json is an inflow: its title, topic titles and keywords reach the feeds (their
    titles, why a paper is there) and are cleaned as the config is read."""
    config = parse_config(
        {
            "categories": ["cs.AI"],
            "title": "My\x01 radar\x0c",
            "keywords": ["LLM\x1b"],
            "topics": [{"name": "agents", "title": "Agents\x0b", "keywords": ["agent\x01"]}],
        }
    )
    assert (config.title, config.keywords, config.topics[0].title) == ("My radar", ["LLM"], "Agents")
    assert config.topics[0].keywords == ["agent"]
    paper = make_paper("An LLM agent", categories=["cs.AI"])
    (matched,) = match_papers([paper], Matcher.build(config.keywords))
    assert matched.match.hits
    title = f"{config.title}: {config.topics[0].title}"
    assert illegal_in_feeds([matched], title=title, description=f"New arXiv papers in {title}") == []
