"""The issue's acceptance scenario: a user moves city twice, then repeats the current fact.

Against a real HTTP server speaking the OpenAI protocol (scripted answers): one
current fact, two invalidated ones with the right validity intervals, a history
that explains each change, right ``valid_at`` answers for each period, no
duplicate after five repeats, and exactly one extraction call plus at most one
consolidation call per add.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

from kg_script import Script, label_of

from remem import Memory
from remem._time import utcnow
from remem.testing import ScriptedOpenAIServer

ANA = {"name": "Ana", "type": "person"}


def lives(city: str, **extra: Any) -> dict[str, Any]:
    return {
        "text": f"Ana lives in {city}",
        "turn": 0,
        "subject": "Ana",
        "predicate": "lives in",
        "object": city,
        "entities": ["Ana", city],
        "kind": "state",
        **extra,
    }


def invalidate(old: str, reason: str, ended_at: str | None = None) -> Any:
    def answer(request: dict[str, Any]) -> str:
        decision = {"fact": 1, "action": "INVALIDATE", "target": label_of(request, old)}
        decision |= {"reason": reason, **({"ended_at": ended_at} if ended_at else {})}
        return json.dumps({"decisions": [decision]})

    return answer


def say(memory: Memory, text: str, when: str) -> Any:
    return memory.add(
        {"role": "user", "speaker": "Ana", "content": text, "timestamp": when}, user_id="ana"
    )


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_user_who_moves_twice(
    kg: Memory, script: Script, llm_server: ScriptedOpenAIServer
) -> None:
    calls_before = []

    def add(text: str, when: str) -> Any:
        calls_before.append(len(llm_server.requests))
        return say(kg, text, when)

    place = {"type": "place"}
    script.extract(lives("Berlin"), entities=[ANA, {"name": "Berlin", **place}])
    first = add("I live in Berlin.", "2020-01-10T09:00:00Z")
    believed_berlin = utcnow()

    # "last week" is left to remem: resolved against the turn's timestamp (Wed 2023-03-15).
    script.extract(
        lives("Lisbon", time_phrase="last week"), entities=[ANA, {"name": "Lisbon", **place}]
    )
    script.consolidate(invalidate("Ana lives in Berlin", "Ana moved from Berlin to Lisbon"))
    second = add("I moved to Lisbon last week!", "2023-03-15T18:00:00Z")

    script.extract(
        lives("Porto", valid_from="2025-06-01"), entities=[ANA, {"name": "Porto", **place}]
    )
    script.consolidate(
        invalidate("Ana lives in Lisbon", "Ana moved from Lisbon to Porto", "2025-06-01")
    )
    third = add("We finally moved to Porto on June 1st.", "2025-06-20T12:00:00Z")

    repeats = []
    for n in range(5):
        script.extract(lives("Porto"), entities=[ANA, {"name": "Porto", **place}])
        repeats.append(add("I live in Porto.", f"2025-07-0{n + 1}T12:00:00Z"))
    calls_before.append(len(llm_server.requests))

    # -- cost: one extraction per add, a consolidation only when a decision needs the model
    per_add = [b - a for a, b in itertools.pairwise(calls_before)]
    assert per_add == [1, 2, 2, 1, 1, 1, 1, 1]
    results = [first, second, third, *repeats]
    assert [r.usage.extraction_calls for r in results] == [1] * 8
    assert [r.usage.consolidation_calls for r in results] == [0, 1, 1, 0, 0, 0, 0, 0]
    assert [r.usage.calls for r in results] == per_add
    reported = llm_server.reported_usage()
    assert sum(r.usage.prompt_tokens for r in results) == reported["prompt_tokens"]
    assert sum(r.usage.completion_tokens for r in results) == reported["completion_tokens"]
    assert kg.stats(user_id="ana")["llm"]["calls"] == 10

    # -- decisions, each with its reason
    assert [d.action for d in first.facts] == ["ADD"]
    assert [d.action for d in second.facts] == ["INVALIDATE"]
    assert [d.action for d in third.facts] == ["INVALIDATE"]
    assert all([d.action for d in r.facts] == ["NOOP"] for r in repeats)
    assert all("exact duplicate" in r.facts[0].reason for r in repeats)
    berlin_id, lisbon_id, porto_id = (r.facts[0].memory_id for r in (first, second, third))
    assert second.facts[0].target_id == berlin_id and third.facts[0].target_id == lisbon_id

    # -- one current fact, two invalidated ones with their validity intervals, no duplicate
    [current] = kg.facts(user_id="ana", current=True)
    assert current.id == porto_id and current.text == "Ana lives in Porto"
    assert current.valid_from == day("2025-06-01") and current.valid_to is None
    facts = {f.id: f for f in kg.facts(user_id="ana")}
    assert len(facts) == 3
    berlin, lisbon = facts[berlin_id], facts[lisbon_id]
    assert (berlin.valid_from, berlin.valid_to) == (day("2020-01-10T09:00:00"), day("2023-03-06"))
    assert (lisbon.valid_from, lisbon.valid_to) == (day("2023-03-06"), day("2025-06-01"))
    assert berlin.metadata["invalidated_by"] == lisbon_id
    assert lisbon.metadata["invalidated_by"] == porto_id
    assert berlin.version == 2 and lisbon.version == 2  # the open-ended versions were expired
    assert [v.expired_at is not None for v in kg.versions(berlin_id)] == [True, False]

    # -- history explains each change
    history = kg.history(berlin_id, user_id="ana")
    assert [e.op for e in history] == ["add", "invalidate"]
    assert history[0].reason.startswith("ADD: new")
    assert "2023-03-06" in history[1].reason and lisbon_id in history[1].reason
    assert "Ana moved from Berlin to Lisbon" in history[1].reason
    assert [e.op for e in kg.history(lisbon_id)] == ["add", "invalidate"]
    assert berlin_id in kg.history(lisbon_id)[0].reason
    porto_history = kg.history(porto_id)
    assert [e.op for e in porto_history] == ["add"] + ["reinforce"] * 5
    assert {e.reason for e in porto_history[1:]} == {
        f"NOOP: exact duplicate of a stored fact (said again in turn {r.episodes[0].id})"
        for r in repeats
    }

    # -- valid_at: where did Ana live then?
    for when, city in [("2021-05-01", "Berlin"), ("2024-06-01", "Lisbon"), ("2026-01-01", "Porto")]:
        [fact] = kg.facts(user_id="ana", valid_at=when)
        assert fact.text == f"Ana lives in {city}"
        hits = kg.search("Where does Ana live?", user_id="ana", kinds="fact", valid_at=when)
        assert [h.text for h in hits] == [f"Ana lives in {city}"]

    # -- as_of: what did we believe right after the first add?
    [believed] = kg.facts(user_id="ana", as_of=believed_berlin)
    assert believed.id == berlin_id and believed.valid_to is None and believed.version == 1

    # -- the turns are all stored and searchable as well
    assert kg.stats(user_id="ana")["episodes"] == 8
    assert kg.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 0}
