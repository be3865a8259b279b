"""core.web.costly: an instance renders at most COSTLY_RENDERS costly feeds at once."""

from __future__ import annotations

import dataclasses
import threading
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from core.errors import BusyError
from core.settings import Settings
from core.store import Store
from core.web.app import create_app
from core.web.costly import COSTLY_RENDERS, CostlyRenders


def test_filtered_renders_queue_while_cached_feeds_answer(served: TestClient) -> None:
    """An instance renders at most COSTLY_RENDERS filtered feeds at once; the rest wait their turn."""
    assert served.get("/rss").status_code == 200  # rendered and kept
    costly = served.app.state.ctx.costly  # type: ignore[attr-defined]
    result: dict[str, int] = {}
    with ExitStack() as busy:
        for _ in range(COSTLY_RENDERS):  # every render slot busy, as with slow filtered feeds running
            busy.enter_context(costly.slot())
        waiting = threading.Thread(target=lambda: result.update(status=served.get("/rss?q=abs:agent").status_code))
        waiting.start()
        assert served.get("/rss").status_code == 200  # the cached feed does not wait
        waiting.join(timeout=0.3)
        assert waiting.is_alive()  # the filtered one does
    waiting.join(timeout=30)
    assert result == {"status": 200}


def test_no_free_slot_in_time_is_a_busy_error() -> None:
    renders = CostlyRenders(slots=2, wait_s=0)
    with renders.slot(), renders.slot():
        with pytest.raises(BusyError) as busy, renders.slot():
            pass
        assert busy.value.http_status == 503
    with renders.slot():  # the slots were given back
        pass


def test_a_failing_render_gives_its_slot_back() -> None:
    renders = CostlyRenders(slots=1, wait_s=0)
    with pytest.raises(ValueError, match="render failed"), renders.slot():
        raise ValueError("render failed")
    with renders.slot():
        pass


def test_a_busy_instance_answers_503_with_retry_after(settings: Settings, store: Store) -> None:
    app = create_app(settings, store)
    app.state.ctx = dataclasses.replace(app.state.ctx, costly=CostlyRenders(wait_s=0))
    with app.state.ctx.costly.slot():
        response = TestClient(app).get("/rss?q=abs:agent")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "unfiltered feeds answer now" in response.json()["hint"]
