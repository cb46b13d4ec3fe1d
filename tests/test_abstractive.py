"""Abstractive summaries, profile and insights through the real LLM client and a scripted server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from remem import Memory
from remem.providers.llm import OpenAIChatLLM
from remem.testing import Reply, ScriptedOpenAIServer
from remem.text.tokens import count_tokens

T0 = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
TRIP = [
    "I am planning a trip to Japan in October.",
    "Great, Kyoto or Tokyo?",
    "Kyoto, for the temples.",
    "October is lovely there.",
    "Our budget is about 3000 euros.",
]
WORK = ["I work night shifts as a nurse.", "That sounds tiring.", "It is, but I like it."]
LONG = " ".join(["very"] * 400)


def answer(request: dict[str, Any]) -> str:
    """What a model would say, chosen by the prompt it was sent."""
    system = request["messages"][0]["content"]
    numbered = request["messages"][1]["content"]
    if "one conversation session" in system:
        if "Japan" in numbered:
            text = "Ana plans a Japan trip in October to see Kyoto's temples, budget 3000 euros."
            return json.dumps({"summary": text, "sources": [1, 3, 5, 99]})
        return json.dumps({"summary": f"Ana works night shifts as a nurse {LONG}", "sources": []})
    if "running summary" in system:
        return json.dumps({"summary": "Ana is a nurse planning a trip to Kyoto.", "sources": [2]})
    if "profile" in system:
        return json.dumps(
            {
                "stable": [
                    {"text": "Ana works as a nurse.", "sources": [2]},
                    {"text": "Ana is a famous painter.", "sources": []},  # cites nothing
                ],
                "recent": [
                    {"text": "Ana now lives in Porto.", "sources": [1], "change": "updated"},
                    {"text": "Out of range.", "sources": [404], "change": "new"},
                ],
            }
        )
    if "derive insights" in system:
        return json.dumps(
            {
                "insights": [
                    {"text": "Ana balances demanding work with travel plans.", "sources": [1, 2]},
                    {"text": "Ana likes temples.", "sources": [1]},  # one source: dropped
                ]
            }
        )
    return json.dumps({})


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(responder=answer) as scripted:
        yield scripted


def add_session(mem: Memory, session: str, texts: list[str], when: datetime) -> None:
    mem.add(
        [
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "content": t,
                "timestamp": when + timedelta(minutes=i),
            }
            for i, t in enumerate(texts)
        ],
        user_id="ana",
        session_id=session,
    )


def test_with_an_llm_summaries_profile_and_insights_are_abstractive_and_cited(
    tmp_path: Path, server: ScriptedOpenAIServer
) -> None:
    clock = Clock()
    with (
        OpenAIChatLLM(server.url, "scripted-model") as llm,
        Memory(tmp_path / "m.db", clock=clock, llm=llm, extract_facts=False) as mem,
    ):
        fact = mem.add("Ana lives in Lisbon", user_id="ana", kind="fact").memories[0]
        clock.now += timedelta(days=1)
        mem.update(fact.id, "Ana lives in Porto", user_id="ana")
        add_session(mem, "trip", TRIP, T0)
        add_session(mem, "work", WORK, T0 + timedelta(days=2))
        clock.now = T0 + timedelta(days=3)
        written = mem.summarize(user_id="ana")

        by_key = {(m.kind, m.metadata.get("summary"), m.scope.session_id): m for m in written}
        trip = by_key[("summary", "session", "trip")]
        assert trip.metadata["method"] == "abstractive"
        assert trip.metadata["llm"] == "openai:scripted-model"
        assert trip.text.startswith("Ana plans a Japan trip")
        turns = sorted(
            mem.list(user_id="ana", session_id="trip", kinds="episode").items,
            key=lambda m: m.valid_from,  # type: ignore[arg-type, return-value]
        )
        assert trip.metadata["sources"] == [turns[0].id, turns[2].id, turns[4].id]  # 99 dropped
        work = by_key[("summary", "session", "work")]
        assert count_tokens(work.text) <= 120  # a rambling answer is clipped to the budget
        assert len(work.metadata["sources"]) == len(WORK)  # cited nothing: cites every turn
        running = by_key[("summary", "running", None)]
        assert running.metadata["sources"] == [work.id]  # session 2 of 2, oldest first
        [insight] = [m for m in written if m.kind == "insight"]
        assert insight.text == "Ana balances demanding work with travel plans."
        assert set(insight.metadata["sources"]) == {trip.id, work.id}

        profile = mem.profile(user_id="ana")
        assert profile.metadata["method"] == "abstractive"
        items = profile.metadata["items"]
        assert [i["text"] for i in items] == ["Ana works as a nurse.", "Ana now lives in Porto."]
        moved = items[1]
        assert (moved["memory_id"], moved["change"], moved["previous"]) == (
            fact.id,
            "updated",
            "Ana lives in Lisbon",
        )
        # every request asked for structured output with a schema
        kinds = {r["response_format"]["json_schema"]["name"] for r in server.requests}
        assert kinds == {"Summary", "Profile", "Insights"}
        # nothing changed: no second round of LLM calls for the summaries
        calls = len(server.requests)
        mem.summarize(user_id="ana")
        assert len(server.requests) == calls + 1  # only the profile refresh


def test_when_the_llm_fails_summaries_are_extractive_and_say_why(
    tmp_path: Path, server: ScriptedOpenAIServer
) -> None:
    server.responder = lambda request: Reply(status=500, error="model crashed")
    with (
        OpenAIChatLLM(server.url, "down", max_retries=0, sleep=lambda _: None) as llm,
        Memory(tmp_path / "m.db", clock=Clock(), llm=llm, extract_facts=False) as mem,
    ):
        add_session(mem, "trip", TRIP, T0)
        written = mem.summarize(user_id="ana")
        assert written and all(m.metadata["method"] == "extractive" for m in written)
        assert all("model crashed" in m.metadata["llm_error"] for m in written)
        assert "Japan" in written[0].text
        assert mem.profile(user_id="ana").metadata["method"] == "extractive"
