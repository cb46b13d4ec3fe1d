"""Export, import and migrate carry the knowledge graph: entities, aliases, links, the queue.

The graph is built by the real pipeline against a scripted OpenAI-compatible server on
loopback: a user who moves twice (one current fact, two invalidated ones), a person known by
two names, an extraction that failed, one whose consolidation failed (the job keeps the
extraction answer) and one left pending. Every copy must answer like the
original: facts at any event time, entities by any alias, related memories, the queue.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from remem import InvalidInput, Memory
from remem.model import ExtractionJob
from remem.providers.llm import OpenAIChatLLM
from remem.testing import Reply, ScriptedOpenAIServer
from tests.graph.kg_script import Script, label_of

if TYPE_CHECKING:
    from tests.stores.conftest import Backend

ANA = {"name": "Ana Silva", "type": "person", "aliases": ["Ana"]}
PERIODS = [("2021-05-01", "Berlin"), ("2024-06-01", "Lisbon"), ("2026-01-01", "Porto")]


@pytest.fixture
def scripted() -> Iterator[tuple[Script, OpenAIChatLLM]]:
    script = Script()
    with (
        ScriptedOpenAIServer(responder=script) as server,
        OpenAIChatLLM(server.url, "scripted", timeout=5, sleep=lambda _: None) as llm,
    ):
        yield script, llm


def lives(city: str, **extra: Any) -> dict[str, Any]:
    return {"text": f"Ana lives in {city}", "turn": 0, "subject": "Ana", "predicate": "lives in",
            "object": city, "entities": ["Ana", city], "kind": "state", **extra}  # fmt: skip


def invalidate(old: str, reason: str, ended_at: str | None = None) -> Callable[..., str]:
    def answer(request: dict[str, Any]) -> str:
        decision = {"fact": 1, "action": "INVALIDATE", "target": label_of(request, old)}
        decision |= {"reason": reason, **({"ended_at": ended_at} if ended_at else {})}
        return json.dumps({"decisions": [decision]})

    return answer


def say(memory: Memory, text: str, when: str) -> Any:
    turn = {"role": "user", "speaker": "Ana", "content": text, "timestamp": when}
    return memory.add(turn, user_id="ana", session_id="s1")


def build_graph(backend: Backend, memory: Memory, script: Script) -> None:
    """Facts, invalidated facts, entities with aliases and links, one failed and one pending job."""
    place = {"type": "place"}
    script.extract(lives("Berlin"), entities=[ANA, {"name": "Berlin", **place}])
    say(memory, "I live in Berlin.", "2020-01-10T09:00:00Z")
    script.extract(
        lives("Lisbon", time_phrase="last week"), entities=[ANA, {"name": "Lisbon", **place}]
    )
    script.consolidate(invalidate("Ana lives in Berlin", "Ana moved from Berlin to Lisbon"))
    say(memory, "I moved to Lisbon last week!", "2023-03-15T18:00:00Z")
    script.extract(
        lives("Porto", valid_from="2025-06-01"), entities=[ANA, {"name": "Porto", **place}]
    )
    script.consolidate(
        invalidate("Ana lives in Lisbon", "Ana moved from Lisbon to Porto", "2025-06-01")
    )
    say(memory, "We finally moved to Porto on June 1st.", "2025-06-20T12:00:00Z")
    # Extraction succeeds, consolidation fails for good: the job keeps the answer.
    script.extract({"text": "Ana works at a hospital in Porto", "turn": 0,
                    "entities": ["Ana", "Porto"]})  # fmt: skip
    for _ in range(4):  # more failures than the client retries
        script.consolidate(Reply(status=503, error="down"))
    kept = say(memory, "I work at a hospital in Porto.", "2025-06-25T12:00:00Z")
    assert kept.extraction is not None and kept.extraction.status == "failed"
    for _ in range(3):  # the answer and both repairs are unusable: the job stays, failed
        script.extractions.append("Sure! Rita lives in Porto.")
    failed = say(memory, "My sister Rita lives in Porto too.", "2025-07-01T12:00:00Z")
    assert failed.extraction is not None and failed.extraction.status == "failed"
    # A turn stored by a process that died before its extraction ran: its job is pending.
    offline = backend.memory(llm=None)
    turn = say(offline, "Rita is a cardiologist.", "2025-07-02T12:00:00Z").episodes[0]
    with offline.store.transaction():
        offline.store.save_job(
            ExtractionJob(
                id="job_interrupted",
                scope=turn.scope,
                episode_ids=(turn.id,),
                created_at=turn.recorded_at + timedelta(seconds=1),
                updated_at=turn.recorded_at + timedelta(seconds=1),
            )
        )
    porto = memory.facts(user_id="ana", valid_at="2026-01-01")[0]
    memory.pin(porto.id)
    offline.search("Where does Ana live?", user_id="ana", kinds="fact", limit=1)  # one recall


def export_text(memory: Memory) -> str:
    out = io.StringIO()
    memory.export(out)
    return out.getvalue()


def records(text: str) -> list[dict[str, Any]]:
    # the header has a timestamp; the trailer's checksum covers bytes (seq, key order)
    lines = [json.loads(x) for x in text.splitlines()[1:-1]]
    for line in lines:
        line.pop("seq", None)
    return lines


def answers(memory: Memory) -> dict[str, Any]:
    """What the facade says about the graph, as plain data."""

    def dump(items: list[Any]) -> list[dict[str, Any]]:
        return [item.model_dump(mode="json") for item in items]

    entities = memory.entities(user_id="ana")
    found: dict[str, Any] = {
        "facts": dump(memory.facts(user_id="ana")),
        "current": dump(memory.facts(user_id="ana", current=True)),
        "entities": dump(entities),
        "by alias": {n: dump(memory.entities(user_id="ana", name=n)) for n in ("ana", "Ana Silva")},
        "related": {e.id: dump(memory.related(e.id, user_id="ana")) for e in entities},
        "queue": memory.stats(user_id="ana")["extraction_queue"],
        "counts": {k: memory.stats()[k] for k in ("episodes", "events", "memories", "entities")},
    }
    for when, _ in PERIODS:
        found[when] = dump(memory.facts(user_id="ana", valid_at=when))
    return found


def check_source(memory: Memory, text: str) -> None:
    """The source holds what the round trips must carry, so equality below means something."""
    lines = records(text)
    kinds = [line["type"] for line in lines]
    # five entities (Ana Silva, Berlin, Lisbon, Porto, Rita); turns and facts link to them
    assert {k: kinds.count(k) for k in ("entity", "entity_link", "extraction_job")} == {
        "entity": 5,
        "entity_link": 13,
        "extraction_job": 3,
    }
    jobs = [line for line in lines if line["type"] == "extraction_job"]
    assert [j["extracted"] is not None for j in jobs] == [True, False, False]
    assert jobs[0]["extracted"]["facts"][0]["text"] == "Ana works at a hospital in Porto"
    entities = {line["name"]: line for line in lines if line["type"] == "entity"}
    assert entities["Ana Silva"]["aliases"] == ["ana silva", "ana"]
    assert "~silva" in entities["Ana Silva"]["keys"]
    # Ana came from the LLM path (name embedding); Berlin from the offline extractor (none).
    assert entities["Ana Silva"]["vector"] and entities["Berlin"]["vector"] is None
    assert memory.stats(user_id="ana")["extraction_queue"] == {"pending": 1, "failed": 2}
    for when, city in PERIODS:
        assert [f.text for f in memory.facts(user_id="ana", valid_at=when)] == [
            f"Ana lives in {city}"
        ]
    facts = [line for line in lines if line["type"] == "memory" and line["kind"] == "fact"]
    assert sum(f["expired_at"] is not None for f in facts) == 2  # the two invalidated versions
    assert any(f["pinned"] and f["stability"] and f["access_count"] == 1 for f in facts)


@pytest.mark.postgres
def test_graph_survives_sqlite_to_jsonl_to_postgres_to_sqlite(
    new_backend: Callable[[str], Backend], scripted: tuple[Script, OpenAIChatLLM]
) -> None:
    script, llm = scripted
    source_backend = new_backend("sqlite")
    source = source_backend.memory(llm=llm, track_recalls=False)
    build_graph(source_backend, source, script)
    text = export_text(source)
    check_source(source, text)
    first = answers(source)

    pg = new_backend("postgres").memory(llm=None, track_recalls=False)
    counts = pg.import_(io.StringIO(text))
    assert counts["entity"] == 5 and counts["extraction_job"] == 3
    assert records(export_text(pg)) == records(text)
    assert answers(pg) == first

    back_backend = new_backend("sqlite")
    back = back_backend.memory(llm=None, track_recalls=False)
    assert back.import_(io.StringIO(export_text(pg))) == counts
    assert records(export_text(back)) == records(text)
    assert answers(back) == first

    # the imported queue is a working queue: the kept answer resumes at consolidation (one
    # call, unscripted: ADD), the two other stored turns are extracted
    script.extract({"text": "Rita lives in Porto", "turn": 0, "entities": ["Rita", "Porto"]})
    script.extract({"text": "Rita is a cardiologist", "turn": 0, "entities": ["Rita"]})
    retrying = back_backend.memory(llm=llm)
    retried = retrying.retry_extraction()
    assert [r.status for r in retried] == ["done", "done", "done"]
    assert (retried[0].usage.extraction_calls, retried[0].usage.consolidation_calls) == (0, 1)
    assert "Ana works at a hospital in Porto" in {f.text for f in retrying.facts(user_id="ana")}
    assert retrying.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 0}
    [rita] = retrying.entities(user_id="ana", name="rita")
    assert {m.text for m in retrying.related(rita.id) if m.kind == "fact"} == {
        "Rita lives in Porto",
        "Rita is a cardiologist",
    }


@pytest.mark.postgres
def test_migrate_carries_the_graph_of_every_tenant(
    new_backend: Callable[[str], Backend], scripted: tuple[Script, OpenAIChatLLM]
) -> None:
    script, llm = scripted
    source_backend = new_backend("sqlite")
    source = source_backend.memory(llm=llm, track_recalls=False)
    build_graph(source_backend, source, script)
    other = source_backend.memory(tenant="acme", llm=None, track_recalls=False)
    other.add("Ana Costa runs the Porto office.", user_id="ana")
    first, first_other = answers(source), answers(other)
    whole = normalised_dump(source)

    pg, back = new_backend("postgres"), new_backend("sqlite")
    counts = source.migrate_to(pg.target)
    assert counts["entity"] == source.stats()["entities"] + other.stats()["entities"]
    assert counts["extraction_job"] == 3
    pg.memory(llm=None).migrate_to(back.target)
    for target in (pg, back):
        copy = target.memory(llm=None, track_recalls=False)
        assert normalised_dump(copy) == whole
        assert answers(copy) == first
        assert answers(target.memory(tenant="acme", llm=None, track_recalls=False)) == first_other


def normalised_dump(memory: Memory) -> list[Any]:
    """Every tenant's records, vectors bit for bit, without event seq (it is per store)."""
    out: list[Any] = []
    for kind, item in memory.store.dump(None):
        if kind in ("memory", "entity"):
            record, vector, *keys = item
            out.append((kind, record.model_dump(), None if vector is None else vector.tobytes()))
            out.extend(keys)
        else:
            out.append((kind, item.model_dump(exclude={"seq"} if kind == "event" else set())))
    return out


# ============================================================================ on every backend

V1_EXPORT = """\
{"type": "header", "format": "remem-export", "version": 1, "embedder": "an-old-model", \
"exported_at": "2025-04-01T00:00:00Z"}
{"id": "ep_old1", "scope": {"tenant": "default", "user_id": "ana", "agent_id": null, \
"session_id": "s1"}, "seq": 0, "role": "user", "speaker": "Ana", "content": "I moved to Lisbon.", \
"occurred_at": "2025-03-01T10:00:00Z", "recorded_at": "2025-03-01T10:00:01Z", "source": "api", \
"metadata": {}, "type": "episode"}
{"id": "mem_old1", "version": 1, "scope": {"tenant": "default", "user_id": "ana", \
"agent_id": null, "session_id": "s1"}, "kind": "fact", "text": "Ana lives in Lisbon", \
"provenance": ["ep_old1"], "valid_from": "2025-02-20T00:00:00Z", "valid_to": null, \
"recorded_at": "2025-03-01T10:00:01Z", "expired_at": null, "importance": 0.7, \
"access_count": 2, "last_accessed_at": "2025-03-10T00:00:00Z", "status": "active", \
"metadata": {}, "layer": "long", "stability": 12.5, "pinned": true, "vector": "AACAPwAAAAA=", \
"type": "memory"}
{"id": "ev_old1", "seq": 7, "at": "2025-03-01T10:00:01Z", "op": "add", "memory_id": "mem_old1", \
"version": 1, "scope": {"tenant": "default", "user_id": "ana", "agent_id": null, \
"session_id": "s1"}, "reason": "ADD: new", "payload": {"id": "mem_old1"}, "type": "event"}
"""


def test_a_version_1_export_still_imports(backend: Backend) -> None:
    memory = backend.memory(llm=None, track_recalls=False)
    assert memory.import_(io.StringIO(V1_EXPORT), unverified=True) == {
        "episode": 1,
        "memory": 1,
        "event": 1,
    }
    [fact] = memory.facts(user_id="ana", valid_at="2025-03-05")
    assert (fact.id, fact.layer, fact.stability, fact.pinned) == ("mem_old1", "long", 12.5, True)
    assert memory.search("where does Ana live", user_id="ana")[0].id == "mem_old1"  # re-embedded
    assert memory.entities(user_id="ana") == []  # no graph lines: new adds build it
    assert memory.stats()["extraction_queue"] == {"pending": 0, "failed": 0}
    assert [e.reason for e in memory.history("mem_old1")] == ["ADD: new"]


GRAPH_LINES = """\
{"id": "ent_a", "scope": {"tenant": "default", "user_id": "ana"}, "name": "Ana Silva", \
"entity_type": "person", "aliases": ["ana silva", "ana"], "created_at": "2025-03-01T10:00:02Z", \
"updated_at": "2025-03-01T10:00:02Z", "metadata": {}, "vector": "AACAPwAAAAA=", \
"keys": ["ana silva", "ana", "~ana", "~silva"], "type": "entity"}
{"id": "ent_b", "scope": {"tenant": "default", "user_id": "ana"}, "name": "Lisbon", \
"entity_type": "place", "aliases": ["lisbon"], "created_at": "2025-03-01T10:00:02Z", \
"updated_at": "2025-03-01T10:00:02Z", "metadata": {}, "vector": null, "keys": ["lisbon"], \
"type": "entity"}
{"scope": {"tenant": "default"}, "memory_id": "mem_old1", "entity_id": "ent_a", \
"type": "entity_link"}
{"scope": {"tenant": "default"}, "memory_id": "mem_old1", "entity_id": "ent_b", \
"type": "entity_link"}
{"id": "job_a", "scope": {"tenant": "default", "user_id": "ana", "session_id": "s1"}, \
"episode_ids": ["ep_old1"], "status": "failed", "attempts": 1, "error": "HTTP 500", \
"created_at": "2025-03-01T10:00:03Z", "updated_at": "2025-03-01T10:00:04Z", \
"type": "extraction_job"}
"""
V2_EXPORT = V1_EXPORT.replace('"version": 1,', '"version": 2,') + GRAPH_LINES


def test_graph_lines_import_into_the_importing_tenant(backend: Backend) -> None:
    memory = backend.memory(tenant="acme", llm=None, track_recalls=False)
    counts = memory.import_(io.StringIO(V2_EXPORT), unverified=True)
    assert counts == {"episode": 1, "memory": 1, "event": 1, "entity": 2, "entity_link": 2,
                      "extraction_job": 1}  # fmt: skip
    [ana] = memory.entities(user_id="ana", name="ANA")
    assert (ana.id, ana.type, ana.scope.tenant) == ("ent_a", "person", "acme")
    assert memory.store.entities_by_alias("acme", "ana", ["~silva"]) == {"~silva": ["ent_a"]}
    assert [m.id for m in memory.related("ent_b", user_id="ana")] == ["mem_old1"]
    assert memory.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 1}
    [job] = memory.store.get_jobs("acme")
    assert (job.id, job.scope.session_id, job.error) == ("job_a", "s1", "HTTP 500")
    # another embedder made the exported vectors: Ana's name vector is recomputed, in our space
    [(_, vector), (_, none)] = memory.store.get_entities("acme", "ana")
    assert np.allclose(vector, memory.embedder.embed(["Ana Silva"])[0]) and none is None
    before = export_text(memory).splitlines()[1:]
    with pytest.raises(InvalidInput, match="collides"):  # the whole file again
        memory.import_(io.StringIO(V2_EXPORT), unverified=True)
    only_graph = V2_EXPORT.splitlines()[0] + "\n" + GRAPH_LINES  # the turns are new, ent_a is not
    with pytest.raises(InvalidInput, match="collides"):
        memory.import_(io.StringIO(only_graph.replace("mem_old1", "mem_other")), unverified=True)
    assert export_text(memory).splitlines()[1:] == before


def line(number: int, change: Callable[[dict[str, Any]], Any]) -> str:
    """V2_EXPORT with line ``number`` (1-based) changed in place."""
    lines = V2_EXPORT.splitlines()
    record = json.loads(lines[number - 1])
    change(record)
    lines[number - 1] = json.dumps(record)
    return "\n".join(lines) + "\n"


BAD_FILES = [
    pytest.param(line(7, lambda r: r.update(entity_id="ent_zzz")), 7, "ent_zzz", id="unknown-entity"),
    pytest.param(line(6, lambda r: r.update(id="ent_a")), 6, "appears twice", id="twice"),
    pytest.param(line(9, lambda r: r.update(status="running")), 9, "status", id="job-status"),
    pytest.param(line(5, lambda r: r.update(keys="ana")), 5, "keys", id="keys"),
    pytest.param(line(6, lambda r: r.pop("name")), 6, "name", id="no-name"),
    pytest.param(line(9, lambda r: r.update(type="edge")), 9, "edge", id="unknown-type"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "number", "why"), BAD_FILES)
def test_a_bad_graph_line_stores_nothing(
    backend: Backend, text: str, number: int, why: str
) -> None:
    memory = backend.memory(llm=None)
    with pytest.raises(InvalidInput, match=f"(?s)line {number} of the import.*{why}"):
        memory.import_(io.StringIO(text), unverified=True)
    stats = memory.stats()
    assert (stats["episodes"], stats["events"], stats["memories"], stats["entities"]) == (
        0, 0, {}, 0)  # fmt: skip
    assert stats["extraction_queue"] == {"pending": 0, "failed": 0}


def test_load_refuses_a_link_without_its_entity(
    backend: Backend, new_backend: Callable[[str], Backend]
) -> None:
    """The same checks guard ``Store.load`` (what migrate calls), which has no line numbers."""
    source = backend.memory(llm=None)
    source.import_(io.StringIO(V2_EXPORT), unverified=True)
    dumped = [item for item in source.store.dump() if item[0] != "entity"]
    target = new_backend(backend.name).store()
    with pytest.raises(InvalidInput, match="ent_a, which the records to load do not hold"):
        target.load(dumped)
    assert list(target.dump()) == []
