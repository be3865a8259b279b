"""core.config: config.json validation, with messages that name the file, the key and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import Config, load_config, parse_config
from core.errors import ConfigError


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_the_shipped_config_is_valid() -> None:
    config = load_config(Path(__file__).parents[1] / "config.json")
    assert config.categories
    assert config.keywords


def test_a_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "nope.json")
    assert config == Config()
    assert config.announce_types == ["new", "cross"]
    assert config.days_back == 7


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
        ({"keyword": ["llm"]}, r"unknown key 'keyword' \(did you mean 'keywords'\?"),
        ({"summary": {"modle": "qwen-max"}}, r"unknown key 'summary.modle' \(did you mean 'model'\?"),
        ({"max_papers": "many"}, r"key 'max_papers': Input should be a valid integer"),
        ({"max_papers": 0}, r"key 'max_papers': Input should be greater than or equal to 1"),
        ({"announce_types": ["new", "old"]}, r"key 'announce_types\[1\]'.*use some of"),
        ({"keywords": ["llm", "  "]}, r"key 'keywords': contains an empty keyword"),
        ({"categories": []}, r"key 'categories'"),
        ([1, 2], r"top level must be a JSON object"),
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


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "categories": ["cs.AI",]\n}')
    with pytest.raises(ConfigError, match=r"not valid JSON at line 2, column 26"):
        load_config(path)
