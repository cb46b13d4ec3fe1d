"""The extraction queue: resuming at consolidation, the background worker, bounded retries."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kg_script import Script, is_extraction, label_of

from remem import Memory
from remem.config import QueuePolicy
from remem.providers.llm import OpenAIChatLLM
from remem.stores import JobClaim
from remem.testing import Reply, ScriptedOpenAIServer


def fact(text: str, *entities: str, **extra: Any) -> dict[str, Any]:
    return {"text": text, "turn": 0, "entities": list(entities), **extra}


def calls(server: ScriptedOpenAIServer) -> list[str]:
    return ["extract" if is_extraction(r) else "consolidate" for r in server.requests]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll (briefly) for what the worker thread does; fail loudly when it never happens."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the extraction worker did not get there in time"
        time.sleep(0.005)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def strict_llm(llm_server: ScriptedOpenAIServer) -> Iterator[OpenAIChatLLM]:
    """No transport retries: one request per attempt, so attempts are counted exactly."""
    with OpenAIChatLLM(
        llm_server.url, "scripted", timeout=5, sleep=lambda _: None, max_retries=0
    ) as client:
        yield client


def test_a_retry_after_a_failed_consolidation_makes_only_the_consolidation_call(
    kg: Memory, script: Script, llm_server: ScriptedOpenAIServer
) -> None:
    script.extract(fact("Ana lives in Berlin", "Ana", "Berlin", valid_from="2020-01"))
    kg.add("I live in Berlin.", user_id="ana")
    script.extract(fact("Ana lives in Lisbon", "Ana", "Lisbon", valid_from="2023-03"))
    for _ in range(4):  # more failures than the client retries
        script.consolidate(Reply(status=503, error="down"))
    moved = kg.add("I moved to Lisbon.", user_id="ana")
    assert moved.extraction is not None and moved.extraction.status == "failed"
    assert (moved.usage.extraction_calls, moved.usage.consolidation_calls) == (1, 1)
    assert kg.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 1}
    [kept] = kg.store.get_jobs(kg.tenant)
    assert kept.attempts == 1 and kept.extracted is not None
    assert kept.extracted["facts"][0]["text"] == "Ana lives in Lisbon"
    before = len(llm_server.requests)

    def invalidate(request: dict[str, Any]) -> str:
        target = label_of(request, "Ana lives in Berlin")
        decision = {"fact": 1, "action": "INVALIDATE", "target": target, "reason": "Ana moved"}
        return json.dumps({"decisions": [decision]})

    script.consolidate(invalidate)
    [retried] = kg.retry_extraction()
    assert calls(llm_server)[before:] == ["consolidate"]
    assert retried.status == "done" and retried.job_id == moved.extraction.job_id
    assert (retried.usage.calls, retried.usage.extraction_calls) == (1, 0)
    assert [d.action for d in retried.decisions] == ["INVALIDATE"]
    assert [f.text for f in kg.facts(user_id="ana", current=True)] == ["Ana lives in Lisbon"]
    assert [f.text for f in kg.facts(user_id="ana", valid_at="2021-01-01")] == [
        "Ana lives in Berlin"
    ]
    [lisbon] = kg.facts(user_id="ana", current=True)
    assert lisbon.provenance == (moved.episodes[0].id,)
    assert kg.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 0}


def test_the_background_worker_drains_queued_adds_oldest_first(
    tmp_path: Path, llm: OpenAIChatLLM, script: Script, llm_server: ScriptedOpenAIServer
) -> None:
    cities = ["Berlin", "Lisbon", "Porto", "Madrid", "Rome"]
    for city in cities:
        script.extract(fact(f"Ana visited {city}", "Ana", city))
    with Memory(tmp_path / "bg.db", llm=llm, extraction="background") as memory:
        added = [memory.add(f"I visited {city}.", user_id="ana") for city in cities]
        assert {a.extraction.status for a in added if a.extraction} == {"queued"}
        assert all(a.usage.calls == 0 for a in added)  # add never waited for the LLM
        worker = memory.start_extraction_worker()  # the one running since construction
        wait_for(lambda: worker.jobs == len(cities))
        assert memory.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 0}
        facts = memory.facts(user_id="ana", limit=10)
        assert sorted(f.text for f in facts) == sorted(f"Ana visited {c}" for c in cities)
        by_turn = {f.provenance[0]: f.text for f in facts}
        assert [by_turn[a.episodes[0].id] for a in added] == [f"Ana visited {c}" for c in cities]
        # one extraction per add; the first fact had no neighbour, each later one had some
        assert calls(llm_server).count("extract") == len(cities)
        assert calls(llm_server).count("consolidate") == len(cities) - 1
        assert memory.stats()["llm"]["calls"] == len(llm_server.requests)
        assert worker.failures == 0
        thread = worker._thread
    assert thread is not None and not thread.is_alive()  # close() stopped and joined it


def test_a_job_that_keeps_failing_ends_failed_after_the_configured_attempts(
    tmp_path: Path, strict_llm: OpenAIChatLLM, llm_server: ScriptedOpenAIServer
) -> None:
    clock = Clock()
    policy = QueuePolicy(max_attempts=3, backoff_s=60, interval_s=3600)
    memory = Memory(
        tmp_path / "fail.db", llm=strict_llm, clock=clock, queue_policy=policy, extraction="queue"
    )
    worker = memory.start_extraction_worker()  # nothing scripted: every extraction gets a 418

    def job() -> Any:
        [found] = memory.store.get_jobs(memory.tenant)
        return found

    try:
        added = memory.add("I moved to Lisbon.", user_id="ana")
        assert added.extraction is not None and added.extraction.status == "queued"
        worker.wake()
        wait_for(lambda: job().attempts == 1)
        first = job()
        assert first.status == "pending" and "418" in (first.error or "")
        assert first.retry_at == clock.now + timedelta(seconds=60)
        assert memory.drain_extraction_queue() == 0  # backing off: not due yet
        clock.advance(60)
        worker.wake()
        wait_for(lambda: job().attempts == 2)
        assert job().retry_at == clock.now + timedelta(seconds=120)  # the wait doubles
        clock.advance(120)
        worker.wake()
        wait_for(lambda: job().status == "failed")
        assert job().attempts == 3 and job().retry_at is None
        assert memory.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 1}
        clock.advance(86_400)
        assert memory.drain_extraction_queue() == 0  # given up: only retry_extraction runs it
        assert len(llm_server.requests) == 3
        # the turn itself was never at risk
        assert memory.search("Lisbon", user_id="ana")[0].text == "I moved to Lisbon."
    finally:
        memory.stop_extraction_worker()
        memory.close()
    assert not worker.running


def test_retry_skips_a_job_a_worker_holds_and_takes_over_a_dead_one(
    tmp_path: Path, llm: OpenAIChatLLM, script: Script, llm_server: ScriptedOpenAIServer
) -> None:
    clock = Clock()
    memory = Memory(tmp_path / "held.db", llm=llm, clock=clock, extraction="queue")
    added = memory.add("My dog Max is two.", user_id="ana")
    held = JobClaim(
        owner="other-process", now=clock.now, stale_before=clock.now - memory.queue_policy.lease
    )
    [job] = memory.store.claim_jobs(memory.tenant, held)  # a worker elsewhere is on it
    assert added.extraction is not None and job.id == added.extraction.job_id
    assert memory.retry_extraction() == [] and llm_server.requests == []
    clock.advance(memory.queue_policy.lease_s + 1)  # that worker died
    script.extract(fact("Ana has a dog named Max", "Ana", "Max"))
    [done] = memory.retry_extraction()
    assert done.status == "done" and [f.text for f in memory.facts(user_id="ana")] == [
        "Ana has a dog named Max"
    ]
    with memory.store.transaction():  # the dead worker's late write is refused
        assert not memory.store.delete_job(memory.tenant, job.id, "other-process")
    memory.close()


def test_stop_joins_the_worker_and_modes_are_checked(tmp_path: Path, llm: OpenAIChatLLM) -> None:
    memory = Memory(tmp_path / "stop.db", llm=llm)
    worker = memory.start_extraction_worker(interval_s=3600)
    assert memory.start_extraction_worker() is worker and worker.running
    thread = worker._thread
    memory.stop_extraction_worker()
    assert thread is not None and not thread.is_alive() and not worker.running
    memory.close()
    with pytest.raises(Exception, match="extraction must be one of"):
        Memory(tmp_path / "bad.db", llm=llm, extraction="later")
    offline = Memory(tmp_path / "offline.db", llm=None, extraction="background")
    assert offline.add("I live in Porto.", user_id="ana").extraction.status == "offline"  # type: ignore[union-attr]
    with pytest.raises(Exception, match="needs an LLM"):
        offline.start_extraction_worker()
    offline.close()
