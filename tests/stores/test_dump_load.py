"""Conformance, dump/load: records come back verbatim, on one backend and across both."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from conformance import (
    CONVERSATION,
    T0,
    U,
    at,
    bound,
    episode,
    export_lines,
    filter_rows,
    normalised,
    record,
    vec,
)

from remem import InvalidInput
from remem.model import Entity, ExtractionJob, Scope

if TYPE_CHECKING:
    from conftest import Backend


def test_dump_and_load_are_verbatim(
    backend: Backend, new_backend: Callable[[str], Backend]
) -> None:
    store = bound(backend)
    filter_rows(store)
    person = Entity(
        id="ent1",
        scope=Scope(tenant="t1", user_id="u1"),
        name="Ana Silva",
        type="person",
        aliases=("ana silva", "ana"),
        created_at=T0,
        updated_at=T0,
    )
    place = Entity(id="ent2", scope=Scope(tenant="t2", user_id="u1"), name="Lisbon",
                   type="place", aliases=("lisbon",), created_at=T0, updated_at=T0)  # fmt: skip
    with store.transaction():
        store.insert_episodes([episode("e0", 0), episode("e1", 1)])
        store.insert_memories([(record("sourced", "from turns", provenance=("e1", "e0")), None)])
        store.save_entities([(person, vec(1, 2), ["ana silva", "ana", "~ana", "~silva"]),
                             (place, None, ["lisbon"])])  # fmt: skip
        store.link_entities("t1", [("sourced", "ent1"), ("plain", "ent1")])
        store.link_entities("t2", [("tenant2", "ent2")])
        store.save_job(ExtractionJob(id="job1", scope=U, episode_ids=("e0",), status="failed",
                                     attempts=2, error="HTTP 500", created_at=T0,
                                     updated_at=at(1)))  # fmt: skip
    dumped = list(store.dump())
    graph = ["entity"] * 2 + ["entity_link"] * 3 + ["extraction_job"]
    assert [kind for kind, _ in dumped][-6:] == graph
    copy = bound(new_backend(backend.name))
    copy.load(dumped)
    assert normalised(copy.dump()) == normalised(dumped)
    assert normalised(copy.dump("t2")) == normalised(store.dump("t2"))
    assert copy.entities_by_alias("t1", "u1", ["~silva"]) == {"~silva": ["ent1"]}
    assert copy.stats(Scope(tenant="t1"))["extraction_queue"] == {"pending": 0, "failed": 1}
    before = normalised(copy.dump())
    with pytest.raises(InvalidInput, match="collides"):
        copy.load(dumped[:3])
    with pytest.raises(InvalidInput, match="collides"):  # the graph alone collides too
        copy.load([item for item in dumped if item[0] in ("entity", "extraction_job")])
    assert normalised(copy.dump()) == before
    # the link tables came along: forgetting the memory drops both now-orphaned turns,
    # and its links, but not the entity another memory still mentions
    with copy.transaction():
        copy.forget("sourced", "t1")
    assert copy.get_episodes(["e0", "e1"], "t1") == []
    assert copy.entity_links("t1", entity_ids=["ent1"]) == [("plain", "ent1")]


@pytest.mark.postgres
def test_sqlite_to_postgres_to_sqlite_loses_nothing(new_backend: Callable[[str], Backend]) -> None:
    source = new_backend("sqlite").memory()
    source.add(CONVERSATION, user_id="ana", session_id="s1")
    source.add("Bob's notes: the blue notebook is in the car.", user_id="bob",
               metadata={"n": 1, "f": 0.5, "ok": True, "tags": ["a", "b"], "nested": {"x": None}})  # fmt: skip
    lisbon = source.search("Lisbon", user_id="ana", limit=1)[0].id
    source.update(lisbon, "Ana: I moved to Porto.", reason="moved", valid_to="2026-12-31")
    source.delete(source.search("sister", user_id="ana", limit=1)[0].id)
    source.forget(source.search("golden retriever", user_id="ana", limit=1)[0].id)
    source.add("Ünïcödé ✓ — emoji 🐕 and quotes ' \" \\ survive", user_id="ana")
    first = export_lines(source)

    pg = new_backend("postgres").memory()
    out = io.StringIO()
    source.export(out)
    pg.import_(io.StringIO(out.getvalue()))
    assert export_lines(pg) == first

    back = new_backend("sqlite").memory()
    out = io.StringIO()
    pg.export(out)
    back.import_(io.StringIO(out.getvalue()))
    assert export_lines(back) == first

    # the same through the Store protocol directly, vectors compared bit for bit
    dumped = list(source.store.dump())
    pg2 = new_backend("postgres").store()
    pg2.bind_embedder(source.embedder.model_id, source.embedder.dimension)
    pg2.load(dumped)
    sq2 = new_backend("sqlite").store()
    sq2.load(list(pg2.dump()))
    assert normalised(pg2.dump()) == normalised(dumped) == normalised(sq2.dump())
    assert sum(1 for kind, _ in dumped if kind == "memory") == 7
