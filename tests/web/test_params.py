"""core.web.params: a malformed query parameter is a 422 that names it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"min_score": "abc"}, "min_score"),
        ({"min_score": "-1"}, "min_score"),
        ({"min_score": "nan"}, "min_score"),
        ({"min_score": "inf"}, "min_score"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "9" * 40}, "limit"),
        ({"type": "old"}, "type"),
        ({"keywords": "x" * 3000}, "keywords"),  # over 2,000 characters, under the 8 KB of a 414
        ({"exclude": ",".join(f"a{i}" for i in range(60))}, "exclude"),
    ],
)
def test_malformed_parameters_are_a_422_naming_them(served: TestClient, params: dict[str, str], name: str) -> None:
    response = served.get("/rss", params=params)
    assert response.status_code == 422
    body = response.json()
    assert f"parameter '{name}'" in body["error"]
    assert body["stage"] == "query"
    assert body["hint"]  # every error says how to fix it
    assert "Traceback" not in response.text
