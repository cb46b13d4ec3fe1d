"""Time phrases resolve to the right event-time windows, and search uses them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from remem import Memory
from remem.text.timeq import resolve

ASKED = datetime(2023, 5, 30, 23, 40, tzinfo=UTC)


def d(y: int, m: int, day: int) -> datetime:
    return datetime(y, m, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("What did I buy last March?", d(2023, 3, 1), d(2023, 4, 1)),
        ("what did I do in August", d(2022, 8, 1), d(2022, 9, 1)),
        ("trip in June 2021", d(2021, 6, 1), d(2021, 7, 1)),
        ("What did Caroline do on 8 May, 2023?", d(2023, 5, 7), d(2023, 5, 10)),
        ("what happened on May 3rd", d(2023, 5, 2), d(2023, 5, 5)),
        ("What workshop did she attend on Aug 22, 2022?", d(2022, 8, 21), d(2022, 8, 24)),
        ("What was her plan by Oct 20, 2022?", d(2022, 8, 21), d(2022, 10, 21)),
        ("What sport after Nov 03, 2022?", d(2022, 11, 3), d(2023, 1, 2)),
        ("in Sept 2021", d(2021, 9, 1), d(2021, 10, 1)),
        ("What did I do yesterday?", d(2023, 5, 29), d(2023, 5, 30)),
        ("last weekend", d(2023, 5, 27), d(2023, 5, 29)),
        ("last week", d(2023, 5, 22), d(2023, 5, 29)),
        ("last month", d(2023, 4, 1), d(2023, 5, 1)),
        ("last year", d(2022, 1, 1), d(2023, 1, 1)),
        ("where did I go in 2022", d(2022, 1, 1), d(2023, 1, 1)),
        ("last tuesday", d(2023, 5, 23), d(2023, 5, 24)),
        ("the 2023-04-01 meeting", d(2023, 3, 31), d(2023, 4, 3)),
    ],
)
def test_phrases_resolve_against_the_asking_date(
    query: str, start: datetime, end: datetime
) -> None:
    window = resolve(query, ASKED)
    assert window is not None and (window.start, window.end) == (start, end)


def test_ago_is_a_window_around_the_point() -> None:
    window = resolve("what happened two weeks ago", ASKED)
    assert (
        window is not None
        and window.contains(d(2023, 5, 16))
        and not window.contains(d(2023, 5, 1))
    )


@pytest.mark.parametrize(
    "query", ["what may I eat", "how many days before my trip", "what is my name"]
)
def test_no_time_phrase_means_no_window(query: str) -> None:
    assert resolve(query, ASKED) is None


def test_search_prefers_memories_from_the_named_time(memory: Memory) -> None:
    for when, dish in (("2023-03-10", "ramen"), ("2023-01-12", "pizza"), ("2023-05-20", "tacos")):
        memory.add(f"For dinner I cooked {dish} with friends.", user_id="u", timestamp=when)
    results = memory.search("what did I cook for dinner last March?", user_id="u", asked_at=ASKED)
    assert "ramen" in results[0].text
    assert "dense@time" in results[0].signals
    assert results.time_window == (d(2023, 3, 1), d(2023, 4, 1))
