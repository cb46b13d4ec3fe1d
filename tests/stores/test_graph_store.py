"""The knowledge-graph tables on every backend: entities, aliases, links, the extraction queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from conformance import bound, record, vec, write

from remem.model import Entity, ExtractionJob, Scope
from remem.providers.llm import OpenAIChatLLM
from remem.testing import ScriptedOpenAIServer
from tests.graph.kg_script import Script, label_of

if TYPE_CHECKING:
    from conftest import Backend

T0 = datetime(2026, 1, 1, tzinfo=UTC)
U = Scope(tenant="t1", user_id="u1")


def entity(eid: str, name: str, kind: str = "person", scope: Scope = U) -> Entity:
    return Entity(
        id=eid,
        scope=scope,
        name=name,
        type=kind,
        aliases=(name.lower(),),
        created_at=T0,
        updated_at=T0,
    )


def test_entities_aliases_and_links(backend: Backend) -> None:
    store = backend.store()
    vector = np.arange(4, dtype=np.float32)
    with store.transaction():
        store.save_entities(
            [
                (entity("e1", "Ana"), vector, ["ana", "~ana"]),
                (entity("e2", "Lisbon", "place"), None, ["lisbon"]),
                (entity("e3", "Ana", scope=Scope(tenant="t1", user_id="u2")), None, ["ana"]),
            ]
        )
        store.link_entities("t1", [("m1", "e1"), ("m1", "e2"), ("m2", "e1"), ("m1", "e1")])
    found = store.get_entities("t1", "u1")
    assert [e.id for e, _ in found] == ["e1", "e2"]
    assert np.array_equal(found[0][1], vector) and found[1][1] is None  # type: ignore[arg-type]
    assert found[0][0] == entity("e1", "Ana")
    assert store.entities_by_alias("t1", "u1", ["ana", "~ana", "porto"]) == {
        "ana": ["e1"],
        "~ana": ["e1"],
    }
    assert store.entities_by_alias("t1", "u2", ["ana"]) == {"ana": ["e3"]}
    assert store.entities_by_alias("other", "u1", ["ana"]) == {}
    assert sorted(store.entity_links("t1", entity_ids=["e1"])) == [("m1", "e1"), ("m2", "e1")]
    assert sorted(store.entity_links("t1", memory_ids=["m1"])) == [("m1", "e1"), ("m1", "e2")]
    assert store.entity_links("t1", entity_ids=[]) == []

    # Renaming an entity replaces its alias keys and keeps its links.
    renamed = entity("e1", "Ana Silva").model_copy(update={"aliases": ("ana", "ana silva")})
    with store.transaction():
        store.save_entities([(renamed, vector, ["ana", "ana silva"])])
    assert store.get_entities("t1", "u1", ["e1"])[0][0].name == "Ana Silva"
    assert store.entities_by_alias("t1", "u1", ["~ana", "ana silva"]) == {"ana silva": ["e1"]}
    assert len(store.entity_links("t1", entity_ids=["e1"])) == 2
    assert store.stats(Scope(tenant="t1", user_id="u1"))["entities"] == 2


def test_extraction_queue(backend: Backend) -> None:
    store = backend.store()
    scope = Scope(tenant="t1", user_id="u1", session_id="s1")
    job = ExtractionJob(
        id="job1", scope=scope, episode_ids=("ep1", "ep2"), created_at=T0, updated_at=T0
    )
    later = ExtractionJob(
        id="job2",
        scope=scope,
        episode_ids=("ep3",),
        created_at=T0 + timedelta(seconds=1),
        updated_at=T0,
    )
    with store.transaction():
        store.save_job(later)
        store.save_job(job)
    assert store.get_jobs("t1") == [job, later]
    failed = job.model_copy(update={"status": "failed", "attempts": 1, "error": "HTTP 500"})
    with store.transaction():
        store.save_job(failed)
    assert store.get_jobs("t1", limit=1) == [failed]
    assert store.stats(scope)["extraction_queue"] == {"pending": 1, "failed": 1}
    with store.transaction():
        store.delete_job("t1", "job1")
    assert store.get_jobs("t1") == [later] and store.get_jobs("t2") == []


@pytest.fixture
def scripted() -> Iterator[tuple[Script, OpenAIChatLLM]]:
    script = Script()
    with (
        ScriptedOpenAIServer(responder=script) as server,
        OpenAIChatLLM(server.url, "scripted", timeout=5, sleep=lambda _: None) as llm,
    ):
        yield script, llm


def test_invalidation_and_views_on_every_backend(
    backend: Backend, scripted: tuple[Script, OpenAIChatLLM]
) -> None:
    script, llm = scripted
    memory = backend.memory(llm=llm)

    def lives(city: str, since: str) -> dict[str, Any]:
        return {"text": f"Ana lives in {city}", "entities": ["Ana", city], "valid_from": since}

    def invalidate(request: dict[str, Any]) -> str:
        target = label_of(request, "Ana lives in Berlin")
        decision = {"fact": 1, "action": "INVALIDATE", "target": target, "reason": "moved"}
        return json.dumps({"decisions": [decision]})

    script.extract(lives("Berlin", "2020-01-01"), entities=[{"name": "Ana", "type": "person"}])
    berlin = memory.add("I live in Berlin.", user_id="ana").facts[0].memory_id
    script.extract(lives("Lisbon", "2023-03-01"), entities=[{"name": "ana", "type": "person"}])
    script.consolidate(invalidate)
    lisbon = memory.add("I moved to Lisbon.", user_id="ana").facts[0].memory_id
    assert [f.id for f in memory.facts(user_id="ana", current=True)] == [lisbon]
    assert [f.id for f in memory.facts(user_id="ana", valid_at="2021-06-01")] == [berlin]
    assert memory.get(berlin).valid_to == datetime(2023, 3, 1, tzinfo=UTC)
    assert [e.op for e in memory.history(berlin)] == ["add", "invalidate"]
    hits = memory.search("where does Ana live", user_id="ana", kinds="fact", valid_at="2024-01-01")
    assert [h.id for h in hits] == [lisbon]
    [ana] = [e for e in memory.entities(user_id="ana") if e.type == "person"]
    assert {m.id for m in memory.related(ana.id, user_id="ana") if m.kind == "fact"} == {
        berlin,
        lisbon,
    }
    assert memory.stats(user_id="ana")["extraction_queue"] == {"pending": 0, "failed": 0}


def test_links_of_one_kind_are_found_behind_a_hub_of_newer_ones(backend: Backend) -> None:
    """A hub entity named in many turns still leads to its (older) facts."""
    store = bound(backend)
    write(store, (record("fact1", "Ana lives in Lisbon", kind="fact"), vec(1, 0)))
    write(
        store,
        *[(record(f"turn{i}", f"Ana said {i}", kind="episode"), vec(0, 1)) for i in range(6)],
    )
    with store.transaction():
        store.save_entities([(entity("e1", "Ana"), None, ["ana"])])
        store.link_entities("t1", [("fact1", "e1"), *[(f"turn{i}", "e1") for i in range(6)]])
        store.save_entities([(entity("e2", "Rui"), None, ["rui"])])
        store.link_entities("t1", [("turn0", "e2")])
    newest = store.entity_links("t1", entity_ids=["e1"], limit=2)
    assert newest == [("turn5", "e1"), ("turn4", "e1")]
    assert store.entity_links("t1", entity_ids=["e1"], kinds=("fact",), limit=2) == [
        ("fact1", "e1")
    ]
    both = store.entity_links("t1", entity_ids=["e2", "e1"], limit=3)
    assert both == [("turn0", "e2"), ("turn5", "e1"), ("turn4", "e1")]  # newest first overall
    assert store.entity_links("t1", memory_ids=["fact1", "turn3"], kinds=("fact",)) == [
        ("fact1", "e1")
    ]
    assert store.entity_links("t1", entity_ids=["e1"], kinds=("summary",)) == []


def test_an_entitys_links_follow_every_change(backend: Backend) -> None:
    """Links read once are read again after any change: new links and memories, a forget,
    a rolled back write, and another connection's write (SQLite keeps the walks it read)."""
    store = bound(backend)
    write(store, (record("fact1", "Ana lives in Lisbon", kind="fact"), vec(1, 0)))
    write(store, (record("turn1", "Ana said hi", kind="episode"), vec(0, 1)))
    with store.transaction():
        store.save_entities([(entity("e1", "Ana"), None, ["ana"])])
        store.link_entities("t1", [("fact1", "e1"), ("turn1", "e1")])

    def facts() -> list[tuple[str, str]]:
        return store.entity_links("t1", entity_ids=["e1"], kinds=("fact",))

    assert facts() == [("fact1", "e1")]
    assert store.entity_links("t1", entity_ids=["e1"]) == [("turn1", "e1"), ("fact1", "e1")]
    write(store, (record("fact2", "Ana works in Porto", kind="fact"), vec(1, 1)))
    assert facts() == [("fact1", "e1")]  # not linked yet
    with store.transaction():
        store.link_entities("t1", [("fact2", "e1")])
    assert facts() == [("fact2", "e1"), ("fact1", "e1")]
    with store.transaction():
        store.forget("fact1", "t1")
    assert facts() == [("fact2", "e1")]
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_memories([(record("fact3", "Ana is 30", kind="fact"), vec(1, 2))])
        store.link_entities("t1", [("fact3", "e1")])
        assert facts() == [("fact3", "e1"), ("fact2", "e1")]
        raise RuntimeError("rolled back")
    assert facts() == [("fact2", "e1")]
    other = bound(backend)
    write(other, (record("fact4", "Ana has a dog", kind="fact"), vec(2, 1)))
    with other.transaction():
        other.link_entities("t1", [("fact4", "e1")])
    assert facts() == [("fact4", "e1"), ("fact2", "e1")]


def test_a_long_texts_names_are_found_as_a_short_ones_are(backend: Backend) -> None:
    """Thousands of n-grams (a long turn) find the same entities, in the same order, as
    the names asked one at a time (SQLite then walks the user's aliases instead)."""
    store = backend.store()
    with store.transaction():
        store.save_entities(
            [
                (entity("e1", "Ana"), None, ["ana", "ana silva"]),
                (entity("e2", "Ana", "place"), None, ["ana"]),
                (entity("e3", "Lisbon", "place"), None, ["lisbon"]),
                (entity("e4", "Ana", scope=Scope(tenant="t1", user_id="u2")), None, ["ana"]),
            ]
        )
    grams = [f"word{i}" for i in range(3000)] + ["lisbon", "ana", "ana silva", "porto"]
    expected = {"ana": ["e1", "e2"], "ana silva": ["e1"], "lisbon": ["e3"]}
    for gram in grams[-4:]:
        assert store.entities_by_alias("t1", "u1", [gram]) == (
            {gram: expected[gram]} if gram in expected else {}
        )
    assert store.entities_by_alias("t1", "u1", grams) == expected
    assert store.entities_by_alias("t1", "u2", grams) == {"ana": ["e4"]}
