"""Timeline and graph in a real browser: facts drawn as intervals, the graph's nodes, and
the two time sliders (event time, system time) changing what is shown."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.ui.conftest import Inspector


def _day(when: str) -> str:
    return str((date.fromisoformat(when) - date(1970, 1, 1)).days)


@pytest.fixture(scope="module")
def kim(inspector: Inspector) -> None:
    client = inspector.client("acme")
    lisbon = client.add(
        "Kim lives in Lisbon.", user_id="kim", kind="fact", timestamp="2024-03-01T00:00:00Z"
    ).memories[0]
    client.update(lisbon.id, valid_to="2025-06-01T00:00:00Z", reason="moved")
    client.add(
        "Kim lives in Porto with Rita.",
        user_id="kim",
        kind="fact",
        timestamp="2025-06-01T00:00:00Z",
    )
    turn = {"role": "user", "speaker": "Kim", "content": "I work at Acme with Rita."}
    client.add([{**turn, "timestamp": "2025-01-10T09:00:00Z"}], user_id="kim", session_id="s1")


def _facts(page: Any, state: str) -> list[str]:
    return page.locator(f"#facts li.{state} a").all_inner_texts()


def test_the_timeline_moves_with_event_time_and_system_time(
    inspector: Inspector, kim: None, shots: Callable[[Any, str], Any]
) -> None:
    page = inspector.page("acme")
    page.goto(f"{inspector.url}/ui/timeline?user=kim")
    assert set(_facts(page, "true")) == {"Kim lives in Lisbon.", "Kim lives in Porto with Rita."}
    assert page.locator("svg.intervals rect").count() == 2
    assert page.locator("#sessions tbody td a").all_inner_texts() == ["s1"]
    page.locator("#valid").fill(_day("2024-06-01"))
    page.wait_for_selector("#facts li.false")
    assert _facts(page, "true") == ["Kim lives in Lisbon."]
    assert _facts(page, "false") == ["Kim lives in Porto with Rita."]
    assert page.locator("#valid-label").inner_text() == "2024-06-01"
    assert "valid=" in page.url  # the view can be shared and reloaded
    shots(page, "timeline")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    page.locator("#known").fill(_day(yesterday))
    page.wait_for_selector("text=No facts about kim were known then.")
    assert page.problems == []


def test_the_graph_draws_entities_and_follows_the_sliders(
    inspector: Inspector, kim: None, shots: Callable[[Any, str], Any]
) -> None:
    page = inspector.page("acme")
    page.goto(f"{inspector.url}/ui/graph?user=kim")
    page.wait_for_selector("#graph[data-nodes]")
    labels = set(page.evaluate("window.rememCy.nodes().map(n => n.data('label'))"))
    assert {"kim", "Lisbon", "Porto", "Rita", "Acme"} <= labels
    page.evaluate(
        "() => { window.rememCy.nodes().filter(n => n.data('label') === 'Rita').emit('tap'); }"
    )
    panel = page.locator("#panel-facts a").all_inner_texts()
    assert set(panel) == {"Kim lives in Porto with Rita.", "Kim: I work at Acme with Rita."}
    shots(page, "graph")
    page.locator("#valid").fill(_day("2024-06-01"))
    page.wait_for_selector(f"#graph[data-src*='valid={_day('2024-06-01')}'][data-nodes]")
    labels = set(page.evaluate("window.rememCy.nodes().map(n => n.data('label'))"))
    assert "Lisbon" in labels and "Porto" not in labels and "Acme" not in labels
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    page.locator("#known").fill(_day(yesterday))
    page.wait_for_selector(f"#graph[data-src*='known={_day(yesterday)}'][data-nodes]")
    assert page.evaluate("window.rememCy.nodes().map(n => n.data('label'))") == ["kim"]
    assert page.problems == []
