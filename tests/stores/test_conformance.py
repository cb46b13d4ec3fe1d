"""One conformance suite for every Store: the protocol itself, then the ``Memory`` facade on top.

Every test taking ``backend`` runs once on SQLite and once on PostgreSQL (marker ``postgres``).
The tests at the end move data between the two backends and compare what each one answers.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from conftest import BACKENDS

from remem import InvalidInput, Memory, NotFound
from remem.errors import StoreError
from remem.model import Entity, Episode, Event, ExtractionJob, MemoryRecord, Scope
from remem.stores import MemoryFilter, Store

if TYPE_CHECKING:
    from conftest import Backend

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DIM = 8
U = Scope(tenant="t1", user_id="u1", session_id="s1")

CONVERSATION = [
    {"role": "user", "speaker": "Ana", "content": "I moved to Lisbon last March."},
    {"role": "assistant", "content": "Nice! How are you finding Portugal so far?"},
    {"role": "user", "speaker": "Ana", "content": "I adopted a golden retriever puppy named Max."},
    {"role": "assistant", "content": "Max sounds adorable. Dogs need lots of walks!"},
    {"role": "user", "speaker": "Ana", "content": "My sister Rita is a cardiologist in Porto."},
]
STAMPS = ["2026-05-02T10:00:00Z", "2026-05-02T10:00:05Z", "2026-05-02T10:01:00Z"]
STAMPS += ["2026-05-02T10:01:05Z", "2026-05-02T10:02:00Z"]
CONVERSATION = [{**m, "timestamp": t} for m, t in zip(CONVERSATION, STAMPS, strict=True)]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def vec(*xs: float) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(xs)] = xs
    return v / np.linalg.norm(v)


def episode(eid: str, seq: int, scope: Scope = U, content: str | None = None) -> Episode:
    return Episode(
        id=eid,
        scope=scope,
        seq=seq,
        role="user",
        content=content or f"turn {seq}",
        occurred_at=at(seq),
        recorded_at=at(seq),
        metadata={"n": seq},
    )


def record(mid: str, text: str, scope: Scope = U, **kw: Any) -> MemoryRecord:
    return MemoryRecord(id=mid, scope=scope, kind=kw.pop("kind", "fact"), text=text,
                        recorded_at=kw.pop("recorded_at", T0), **kw)  # fmt: skip


def event(mid: str, version: int | None = 1, scope: Scope = U, op: str = "add") -> Event:
    return Event(
        id=f"ev_{mid}_{op}_{version}",
        at=T0,
        op=op,  # type: ignore[arg-type]
        memory_id=mid,
        version=version,
        scope=scope,
        payload={"id": mid},
    )


def flt(scope: Scope = U, **kw: Any) -> MemoryFilter:
    return MemoryFilter(scope=scope, **kw)


def ids(hits: Sequence[Any]) -> list[str]:
    return [h[0].id if isinstance(h, tuple) else h.id for h in hits]


def bound(backend: Backend) -> Store:
    store = backend.store()
    store.bind_embedder("test-8d", DIM)
    return store


def write(store: Store, *rows: tuple[MemoryRecord, np.ndarray | None]) -> None:
    with store.transaction():
        store.insert_memories(list(rows))
        store.append_events([event(m.id, m.version, m.scope) for m, _ in rows])


def normalised(items: Sequence[tuple[str, Any]]) -> list[Any]:
    """A dump as plain data, without what legitimately differs between stores (event seq)."""
    out: list[Any] = []
    for kind, item in items:
        if kind in ("memory", "entity"):
            record, vector, *keys = item
            vector = None if vector is None else vector.tolist()
            out.append((kind, record.model_dump(mode="json"), vector, *keys))
        elif kind == "event":
            out.append((kind, item.model_dump(mode="json", exclude={"seq"})))
        else:
            out.append((kind, item.model_dump(mode="json")))
    return out


def export_lines(memory: Memory) -> list[dict[str, Any]]:
    out = io.StringIO()
    memory.export(out)
    # the header has a timestamp; the trailer's checksum covers bytes (seq, key order)
    lines = [json.loads(x) for x in out.getvalue().splitlines()[1:-1]]
    for line in lines:
        line.pop("seq", None)
    return lines


# ============================================================================ Store protocol


def test_writes_round_trip_and_reads_answer_exactly(backend: Backend) -> None:
    store = bound(backend)
    eps = [episode(f"e{i}", i) for i in range(4)]
    mems = [record(f"m{i}", f"fact number {i}", provenance=(f"e{i}",)) for i in range(4)]
    with store.transaction():
        assert store.next_seq(U) == 0
        store.insert_episodes(eps)
        store.insert_memories([(m, vec(1, i)) for i, m in enumerate(mems)])
        stored = store.append_events([event(m.id) for m in mems])
    assert [e.seq for e in stored] == sorted(e.seq for e in stored) and stored[0].seq
    assert store.next_seq(U) == 4
    assert store.next_seq(Scope(tenant="t1", user_id="u1")) == 0  # session None is its own stream
    assert store.get_memory("m2", "t1") == mems[2]
    assert store.get_memory("m2", "t1", version=1) == mems[2]
    assert store.get_memory("m2", "t1", version=2) is None
    assert store.get_memory("nope", "t1") is None
    assert store.versions("m1", "t1") == [mems[1]]
    assert store.get_episodes(["e3", "missing", "e0"], "t1") == [eps[3], eps[0]]
    assert store.neighbours(eps[2], 1) == eps[1:4]
    assert store.neighbours(eps[0], 5) == eps
    assert [e.id for e in store.events("t1")] == [f"ev_m{i}_add_1" for i in range(4)]
    assert [e.id for e in store.events("t1", "m3")] == ["ev_m3_add_1"]
    assert [e.id for e in store.events("t1", after_seq=stored[1].seq, limit=1)] == ["ev_m2_add_1"]
    assert store.events("t1")[0] == stored[0]
    assert store.count_memories(flt()) == 4


def test_writes_outside_a_transaction_are_refused(backend: Backend) -> None:
    store = bound(backend)
    with pytest.raises(StoreError, match="transaction"):
        store.insert_memories([(record("m1", "x"), None)])
    with pytest.raises(StoreError, match="transaction"):
        store.append_events([event("m1")])
    assert store.count_memories(flt()) == 0


def test_rollback_leaves_nothing_behind(backend: Backend) -> None:
    store = bound(backend)
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        store.insert_episodes([episode("e0", 0)])
        with store.transaction():  # nested: joins the outer transaction
            store.insert_memories([(record("m1", "doomed fact", provenance=("e0",)), vec(1))])
            store.append_events([event("m1")])
            assert store.get_memory("m1", "t1") is not None  # own writes are visible inside
        raise RuntimeError("boom")
    assert store.count_memories(flt()) == 0
    assert store.get_memory("m1", "t1") is None
    assert store.get_episodes(["e0"], "t1") == []
    assert store.events("t1") == []
    assert store.next_seq(U) == 0
    assert list(store.dump()) == []
    assert store.vector_search(vec(1), flt(), 5) == []
    assert store.text_search(["doomed"], flt(), 5) == []
    assert backend.rows_mentioning("doomed") == {}


def test_nested_transactions_commit_with_the_outer_one(backend: Backend) -> None:
    store = bound(backend)
    other = backend.store()
    with store.transaction():
        with store.transaction():
            store.insert_memories([(record("m1", "first"), vec(1))])
        store.insert_memories([(record("m2", "second"), vec(0, 1))])
        assert other.get_memory("m1", "t1") is None  # not committed yet
    assert {m.id for m in other.list_memories(flt(), limit=10, offset=0)} == {"m1", "m2"}


def test_duplicate_version_is_refused_and_store_stays_usable(backend: Backend) -> None:
    store = bound(backend)
    write(store, (record("m1", "one"), vec(1)))
    with pytest.raises(InvalidInput, match="m1 version 1 already exists"), store.transaction():
        store.insert_memories([(record("m1", "again"), vec(1))])
    write(store, (record("m2", "two"), vec(0, 1)))
    assert [m.text for m in store.list_memories(flt(), limit=10, offset=0)] == ["two", "one"]


def test_end_version_only_closes_the_current_row(backend: Backend) -> None:
    store = bound(backend)
    write(store, (record("m1", "v1"), vec(1)))
    with store.transaction():
        store.end_version("m1", 1, "superseded", at(5), "t1")
        store.insert_memories([(record("m1", "v2", version=2, recorded_at=at(5)), vec(1, 1))])
    with pytest.raises(StoreError, match="not current"), store.transaction():
        store.end_version("m1", 1, "deleted", at(6), "t1")
    assert [(m.version, m.status, m.expired_at) for m in store.versions("m1", "t1")] == [
        (1, "superseded", at(5)),
        (2, "active", None),
    ]
    with store.transaction():
        store.set_status("m1", 2, "archived", "t1")
    assert store.get_memory("m1", "t1").status == "archived"  # type: ignore[union-attr]
    assert store.count_memories(flt()) == 0
    assert store.count_memories(flt(statuses=("archived",))) == 1


def test_bind_embedder_records_then_checks_the_space(backend: Backend) -> None:
    store = bound(backend)
    store.bind_embedder("test-8d", DIM)  # same space: fine, any number of times
    with pytest.raises(StoreError, match="test-8d"):
        store.bind_embedder("other-model", DIM)
    with pytest.raises(StoreError, match="8-d"):
        store.bind_embedder("test-8d", 16)
    reopened = backend.store()
    with pytest.raises(StoreError, match="same embedder"):
        reopened.bind_embedder("other-model", 16)
    reopened.bind_embedder("test-8d", DIM)
    stats = reopened.stats(Scope(tenant="t1"))
    assert (stats["embedder"], stats["dimension"]) == ("test-8d", DIM)
    assert stats["backend"] == backend.name


def test_memory_facade_refuses_a_store_of_another_embedder(backend: Backend) -> None:
    store = backend.store()
    store.bind_embedder("some-other-model", 384)
    with pytest.raises(StoreError, match="some-other-model"):
        Memory(store=store).add("hello there", user_id="u")


def _filter_fixture(store: Store) -> dict[str, MemoryRecord]:
    """Rows covering every filter dimension; the current time is far after all of them."""
    other_user = Scope(tenant="t1", user_id="u2", agent_id="a1", session_id="s9")
    other_tenant = Scope(tenant="t2", user_id="u1", session_id="s1")
    rows = {
        "plain": record("plain", "alpha fact", valid_from=at(10)),
        "episode": record("episode", "alpha turn", kind="episode", valid_from=at(20)),
        "agent": record("agent", "alpha agent", scope=other_user, valid_from=at(30)),
        "archived": record("archived", "alpha archived", status="archived", valid_from=at(40)),
        "timeless": record("timeless", "alpha timeless"),
        "tenant2": record("tenant2", "alpha elsewhere", scope=other_tenant, valid_from=at(10)),
        "old": record("changed", "alpha before", recorded_at=at(1), valid_from=at(50)),
        "deleted": record("deleted", "alpha deleted", recorded_at=at(1)),
    }
    write(store, *[(m, vec(1, i)) for i, m in enumerate(rows.values())])
    with store.transaction():
        store.end_version("changed", 1, "superseded", at(100), "t1")
        store.end_version("deleted", 1, "deleted", at(100), "t1")
    rows["new"] = record(
        "changed", "alpha after", version=2, recorded_at=at(100), valid_from=at(50)
    )
    write(store, (rows["new"], vec(1, 9)))
    return rows


FILTER_CASES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("tenant", {}, {"plain", "episode", "agent", "timeless", "changed"}),
    ("other tenant", {"scope": Scope(tenant="t2")}, {"tenant2"}),
    ("user", {"scope": Scope(tenant="t1", user_id="u2")}, {"agent"}),
    ("agent", {"scope": Scope(tenant="t1", agent_id="a1")}, {"agent"}),
    ("session", {"scope": Scope(tenant="t1", session_id="s1")}, {"plain", "episode", "timeless", "changed"}),
    ("kinds", {"kinds": ("episode",)}, {"episode"}),
    ("statuses", {"statuses": ("archived",)}, {"archived"}),
    ("both statuses", {"statuses": ("active", "archived")}, {"plain", "episode", "agent", "archived", "timeless", "changed"}),
    ("after", {"event_after": at(30)}, {"agent", "changed"}),
    ("before", {"event_before": at(30)}, {"plain", "episode"}),
    ("window", {"event_after": at(20), "event_before": at(50)}, {"episode", "agent"}),
    ("ids", {"ids": ("plain", "archived", "deleted", "tenant2")}, {"plain"}),
    ("as_of before anything", {"as_of": at(-1)}, set()),
    ("as_of early", {"as_of": at(2)}, {"plain", "episode", "agent", "archived", "timeless", "changed", "deleted"}),
    ("as_of late", {"as_of": at(200)}, {"plain", "episode", "agent", "archived", "timeless", "changed"}),
    ("as_of and kind", {"as_of": at(2), "kinds": ("fact",), "event_after": at(45)}, {"changed"}),
]  # fmt: skip


def test_filters_mean_the_same_on_every_read(backend: Backend) -> None:
    store = bound(backend)
    _filter_fixture(store)
    for name, kwargs, expected in FILTER_CASES:
        f = flt(**{"scope": Scope(tenant="t1"), **kwargs})
        listed = store.list_memories(f, limit=100, offset=0)
        assert {m.id for m in listed} == expected, name
        assert store.count_memories(f) == len(expected), name
        assert {m.id for m, _ in store.text_search(["alpha"], f, 100)} == expected, name
        assert {m.id for m, _ in store.vector_search(vec(1), f, 100)} == expected, name
        if "as_of" in kwargs and "changed" in expected:
            text = {m.id: m.text for m in listed}["changed"]
            assert text == ("alpha before" if kwargs["as_of"] < at(100) else "alpha after"), name


METADATA_ROWS = {
    "int": {"n": 1},
    "float": {"n": 1.0},
    "true": {"n": True},
    "text": {"n": "1"},
    "list": {"n": [1]},
    "object": {"n": {"v": 1}},
    "frac": {"n": 2.5, "x": 0.1},
    "false": {"n": False},
    "zero": {"n": 0},
    "none": {"n": None},
    "missing": {"other": "a'b\"c"},
    "big": {"big": 2**60 + 1},
}
METADATA_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"n": 1}, {"int", "float", "true"}),
    ({"n": True}, {"int", "float", "true"}),
    ({"n": 1.0}, {"int", "float", "true"}),
    ({"n": "1"}, {"text"}),
    ({"n": 2.5}, {"frac"}),
    ({"x": 0.1}, {"frac"}),
    ({"n": 0}, {"false", "zero"}),
    ({"n": False}, {"false", "zero"}),
    ({"n": "x"}, set()),
    ({"other": "a'b\"c"}, {"missing"}),
    ({"n": 2.5, "x": 0.1}, {"frac"}),
    ({"n": 2.5, "other": "a'b\"c"}, set()),
    ({"n": float("nan")}, set()),
    ({"big": 2**60 + 1}, {"big"}),
    ({"big": 2**60}, set()),
]


def test_metadata_filter_is_scalar_equality_typed_like_sqlite(backend: Backend) -> None:
    store = bound(backend)
    write(store, *[(record(k, f"meta {k}", metadata=v), vec(1)) for k, v in METADATA_ROWS.items()])
    assert store.count_memories(flt()) == len(METADATA_ROWS)
    for query, expected in METADATA_CASES:
        f = flt(metadata=query)
        assert {m.id for m in store.list_memories(f, limit=100, offset=0)} == expected, query
        assert {m.id for m, _ in store.vector_search(vec(1), f, 100)} == expected, query
        assert store.count_memories(f) == len(expected), query


def test_metadata_keys_are_data_not_sql(backend: Backend) -> None:
    store = bound(backend)
    write(store, (record("m1", "victim's secret", scope=Scope(tenant="victim")), vec(1)))
    attacker = flt(Scope(tenant="attacker"), metadata={"a') = 1 OR 1=1 OR ('": 1})
    assert store.list_memories(attacker, limit=10, offset=0) == []
    assert (
        store.list_memories(flt(Scope(tenant="victim"), metadata={"it's": 1}), limit=10, offset=0)
        == []
    )


def test_list_paginates_newest_first(backend: Backend) -> None:
    store = bound(backend)
    for i in range(7):
        write(store, (record(f"m{i}", f"note {i}"), None))
    pages = [store.list_memories(flt(), limit=3, offset=o) for o in (0, 3, 6, 9)]
    assert [[m.id for m in p] for p in pages] == [
        ["m6", "m5", "m4"],
        ["m3", "m2", "m1"],
        ["m0"],
        [],
    ]


def test_text_search_ranks_matches_and_survives_any_term(backend: Backend) -> None:
    store = bound(backend)
    texts = {
        "cat": "The cat sat on the mat.",
        "dogs": "Dogs and cats are good friends.",
        "capital": "Lisbon is the capital of Portugal.",
        "moved": "I moved to Lisbon in March and I love Lisbon in spring.",
        "quote": "Mr O'Brien said: a|b & (c) !d :* \\e",
    }
    write(store, *[(record(k, t), None) for k, t in texts.items()])
    hits = store.text_search(["lisbon"], flt(), 10)
    assert set(ids(hits)) == {"capital", "moved"}
    assert ids(hits)[0] == "moved"  # two mentions beat one
    assert all(score > 0 for _, score in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert ids(store.text_search(["cats"], flt(), 10))[:2] in (["cat", "dogs"], ["dogs", "cat"])
    assert ids(store.text_search(["portugal", "spring"], flt(), 1)) in (["capital"], ["moved"])
    assert len(store.text_search(["lisbon", "cat", "dogs"], flt(), 2)) == 2
    assert store.text_search([], flt(), 10) == []
    assert store.text_search(["zebra"], flt(), 10) == []
    for nasty in ["o'brien", "a|b", "(c)", "!d", ":*", "\\e", '"quoted"', "&", "'", "NEAR", "AND"]:
        store.text_search([nasty], flt(), 5)  # never a syntax error
    assert "quote" in ids(store.text_search(["o'brien"], flt(), 5))


def test_vector_search_is_cosine_and_ordered(backend: Backend) -> None:
    store = bound(backend)
    directions = {"x": vec(1), "xy": vec(1, 1), "y": vec(0, 1), "z": vec(0, 0, 1), "none": None}
    write(store, *[(record(k, f"vector {k}"), v) for k, v in directions.items()])
    hits = store.vector_search(vec(1, 0.2), flt(), 10)
    assert ids(hits) == ["x", "xy", "y", "z"]  # rows without a vector never come back
    for memory, score in hits:
        expected = float(np.dot(directions[memory.id], vec(1, 0.2)))  # type: ignore[arg-type]
        assert score == pytest.approx(expected, abs=1e-5)
    assert ids(store.vector_search(vec(0, 0, 1), flt(), 1)) == ["z"]
    assert ids(store.vector_search(vec(1), flt(kinds=("episode",)), 3)) == []


def test_vector_search_under_a_selective_filter_is_complete(backend: Backend) -> None:
    store = bound(backend)
    rng = np.random.default_rng(1)
    crowd = [
        (record(f"c{i}", f"crowd {i}"), rng.normal(size=DIM).astype(np.float32)) for i in range(400)
    ]
    few_scope = Scope(tenant="t1", user_id="few")
    few = [
        (record(f"f{i}", f"few {i}", scope=few_scope), rng.normal(size=DIM).astype(np.float32))
        for i in range(6)
    ]
    for start in range(0, len(crowd), 100):
        write(store, *crowd[start : start + 100])
    write(store, *few)
    query = rng.normal(size=DIM).astype(np.float32)
    truth = sorted(few, key=lambda r: -float(np.dot(r[1], query) / np.linalg.norm(r[1])))
    hits = store.vector_search(query, flt(few_scope), 10)
    assert ids(hits) == [m.id for m, _ in truth]
    tagged = store.vector_search(query, flt(Scope(tenant="t1"), ids=("c7", "c300", "f2")), 10)
    assert set(ids(tagged)) == {"c7", "c300", "f2"}  # fmt: skip


def test_forget_erases_every_trace_but_keeps_shared_sources(backend: Backend) -> None:
    store = bound(backend)
    with store.transaction():
        store.insert_episodes(
            [episode("e_own", 0, content="secret platypus turn"), episode("e_shared", 1)]
        )
        store.insert_memories(
            [
                (
                    record("secret", "secret platypus fact", provenance=("e_own", "e_shared")),
                    vec(1),
                ),
                (record("keeper", "kept fact", provenance=("e_shared",)), vec(0, 1)),
            ]
        )
        store.append_events([event("secret"), event("keeper")])
    with store.transaction():
        store.end_version("secret", 1, "superseded", at(1), "t1")
        store.insert_memories(
            [(record("secret", "secret platypus v2", version=2, provenance=("e_own",)), vec(1))]
        )
        store.append_events([event("secret", 2, op="update")])
    assert backend.rows_mentioning("platypus")
    with store.transaction():
        assert store.forget("secret", "other-tenant") == 0
        assert store.forget("secret", "t1") == 2
    assert backend.rows_mentioning("platypus") == {}
    assert backend.rows_mentioning("secret") == {}
    assert store.versions("secret", "t1") == []
    assert store.events("t1", "secret") == []
    assert store.get_episodes(["e_own", "e_shared"], "t1") == [episode("e_shared", 1)]
    assert ids(store.vector_search(vec(1), flt(), 10)) == ["keeper"]
    assert store.text_search(["secret", "platypus"], flt(), 10) == []
    with store.transaction():
        assert store.forget("secret", "t1") == 0


def test_tenants_never_see_each_other(backend: Backend) -> None:
    store = bound(backend)
    t2 = Scope(tenant="t2", user_id="u1", session_id="s1")
    with store.transaction():
        store.insert_episodes([episode("e1", 0), episode("e2", 0, scope=t2)])
        store.insert_memories(
            [
                (record("m1", "shared words"), vec(1)),
                (record("m2", "shared words", scope=t2), vec(1)),
            ]
        )
        store.append_events([event("m1"), event("m2", scope=t2)])
    assert store.get_memory("m2", "t1") is None and store.versions("m2", "t1") == []
    assert store.get_episodes(["e1", "e2"], "t1") == [episode("e1", 0)]
    assert [e.memory_id for e in store.events("t1")] == ["m1"]
    assert store.events("t1", "m2") == []
    assert ids(store.text_search(["shared"], flt(), 10)) == ["m1"]
    assert ids(store.vector_search(vec(1), flt(), 10)) == ["m1"]
    assert store.next_seq(U) == 1 and store.next_seq(t2) == 1
    assert store.neighbours(episode("e1", 0), 3) == [episode("e1", 0)]
    s1, s2 = store.stats(Scope(tenant="t1")), store.stats(Scope(tenant="t2"))
    assert s1["memories"] == s2["memories"] == {"fact": {"active": 1}}
    assert (s1["episodes"], s1["events"]) == (1, 1)
    assert [kind for kind, _ in store.dump("t2")] == ["episode", "memory", "event"]
    assert all(
        (item[0] if kind == "memory" else item).scope.tenant == "t2"
        for kind, item in store.dump("t2")
    )


def test_dump_and_load_are_verbatim(
    backend: Backend, new_backend: Callable[[str], Backend]
) -> None:
    store = bound(backend)
    _filter_fixture(store)
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


@pytest.mark.parametrize("name", BACKENDS)
def test_many_servers_opening_at_once_migrate_once(
    name: str, new_backend: Callable[..., Backend]
) -> None:
    backend = new_backend(name, fresh=True)  # nothing migrated yet
    errors: list[BaseException] = []
    stores: list[Store] = []

    def open_one() -> None:
        try:
            store = backend.store()
            store.bind_embedder("test-8d", DIM)
            stores.append(store)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(stores) == 4
    write(stores[0], (record("m1", "hello"), vec(1)))
    assert all(s.get_memory("m1", "t1") is not None for s in stores)
    if backend.name == "postgres":
        from remem.stores.postgres import MIGRATIONS

        applied = backend.raw("SELECT version FROM schema_migrations ORDER BY 1")
        assert applied == [(v,) for v, _, _ in MIGRATIONS]


# ============================================================================ Memory facade


@pytest.fixture
def ana(backend: Backend) -> Memory:
    memory = backend.memory()
    memory.add(CONVERSATION, user_id="ana", session_id="s1")
    return memory


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("which pet does the user have?", "golden retriever"),
        ("what city is her home now", "Lisbon"),
        ("which relative works as a heart doctor", "cardiologist"),
    ],
)
def test_facade_search_finds_paraphrases(ana: Memory, query: str, expected: str) -> None:
    # the dense recipe: this is about the store's vector search, not the hybrid policy's priors
    results = ana.search(query, user_id="ana", limit=2, recipe="dense")
    assert expected in results[0].text
    assert "dense" in results[0].signals


def test_facade_add_list_and_context(ana: Memory) -> None:
    page = ana.list(user_id="ana", limit=10)
    assert page.total == 5
    assert page.items[-1].text == "Ana: I moved to Lisbon last March."
    first = page.items[-1]
    assert first.valid_from == datetime(2026, 5, 2, 10, 0, tzinfo=UTC)
    hit = ana.search("Lisbon", user_id="ana", limit=1, context_window=1)[0]
    assert hit.signals["bm25"].rank == 1 and hit.signals["dense"].rank == 1
    assert hit.episode is not None and hit.episode.content == "I moved to Lisbon last March."
    assert [e.seq for e in hit.context] == [0, 1]
    assert (
        ana.add("And I started learning Portuguese.", user_id="ana", session_id="s1")
        .episodes[0]
        .seq
        == 5
    )
    assert [e.seq for e in ana.surrounding(first.id, window=1)] == [0, 1]


def test_facade_pagination(backend: Backend) -> None:
    memory = backend.memory()
    memory.add([{"role": "user", "content": f"note number {i}"} for i in range(7)], user_id="u")
    first = memory.list(user_id="u", limit=3)
    second = memory.list(user_id="u", limit=3, offset=first.next_offset or 0)
    last = memory.list(user_id="u", limit=3, offset=second.next_offset or 0)
    seen = [m.text for page in (first, second, last) for m in page.items]
    assert seen == [f"note number {i}" for i in reversed(range(7))]
    assert last.next_offset is None and first.total == 7


def test_facade_filters_kind_metadata_and_event_time(ana: Memory) -> None:
    ana.add("Ana prefers window seats.", user_id="ana", kind="fact",
            metadata={"topic": "travel", "priority": 2}, timestamp="2026-06-01T00:00:00Z")  # fmt: skip
    assert [h.memory.kind for h in ana.search("seat preference", user_id="ana", kinds="fact")] == [
        "fact"
    ]
    assert len(ana.search("seat", user_id="ana", metadata={"topic": "travel"})) == 1
    assert len(ana.search("seat", user_id="ana", metadata={"priority": 2.0})) == 1
    assert len(ana.search("Ana", user_id="ana", metadata={"speaker": "Ana"}, limit=10)) == 3
    june = ana.search("Ana", user_id="ana", after="2026-05-15", limit=10)
    assert [h.memory.text for h in june] == ["Ana prefers window seats."]
    may = ana.search("Ana", user_id="ana", before="2026-05-15", limit=10)
    assert "Ana prefers window seats." not in [h.text for h in may]
    assert ana.list(user_id="ana", metadata={"topic": "travel"}).total == 1


def test_facade_versions_history_and_as_of(ana: Memory) -> None:
    original = ana.search("Lisbon", user_id="ana", limit=1)[0].memory
    before_update = datetime.now(UTC)
    new = ana.update(original.id, "Ana: I moved to Porto in June.", reason="moved again")
    assert (new.id, new.version) == (original.id, 2)
    assert ana.get(original.id).text == "Ana: I moved to Porto in June."
    old = ana.get(original.id, version=1)
    assert old.status == "superseded" and old.expired_at is not None
    assert ana.get(original.id, as_of=before_update).version == 1
    assert all(
        h.memory.version == 2 for h in ana.search("Lisbon", user_id="ana") if h.id == original.id
    )
    then = ana.search("Lisbon", user_id="ana", limit=1, as_of=before_update)
    assert then[0].id == original.id and then[0].memory.version == 1
    assert [(e.op, e.version, e.reason) for e in ana.history(original.id)] == [
        ("add", 1, None),
        ("update", 2, "moved again"),
    ]
    assert [v.version for v in ana.versions(original.id)] == [1, 2]
    patched = ana.update(original.id, metadata={"speaker": None, "city": "Porto"})
    assert patched.metadata == {"role": "user", "city": "Porto"}


def test_facade_soft_delete_then_forget(ana: Memory, backend: Backend) -> None:
    target = ana.search("golden retriever", user_id="ana", limit=1)[0].memory
    ana.delete(target.id, reason="user asked")
    assert target.id not in [h.id for h in ana.search("golden retriever puppy", user_id="ana")]
    with pytest.raises(NotFound):
        ana.update(target.id, "again")
    assert [e.op for e in ana.history(target.id)] == ["add", "delete"]
    assert ana.get(target.id, as_of=target.recorded_at).status == "active"
    assert backend.rows_mentioning("golden retriever")  # soft: still stored

    ana.forget(target.id)
    with pytest.raises(NotFound):
        ana.get(target.id)
    assert [e.op for e in ana.store.events("default", target.id)] == ["forget"]
    assert ana.history(target.id)[0].payload == {}
    assert backend.rows_mentioning("golden retriever") == {}
    assert backend.rows_mentioning("puppy") == {}
    assert ana.search("dog puppy", user_id="ana", limit=10).hits  # the rest is intact
    assert ana.stats(user_id="ana")["episodes"] == 4


def test_facade_scope_and_tenant_isolation(ana: Memory, backend: Backend) -> None:
    ana.add("I live in Berlin with my cat.", user_id="bob")
    assert all(
        h.memory.scope.user_id == "ana" for h in ana.search("where do I live", user_id="ana")
    )
    assert [h.memory.scope.user_id for h in ana.search("Berlin cat", user_id="bob")] == ["bob"]
    target = ana.list(user_id="ana", limit=1).items[0]
    before = export_lines(ana)
    for call in (
        lambda: ana.get(target.id, user_id="bob"),
        lambda: ana.update(target.id, "hijacked", user_id="bob"),
        lambda: ana.delete(target.id, user_id="bob"),
        lambda: ana.forget(target.id, user_id="bob"),
        lambda: ana.history(target.id, user_id="bob"),
    ):
        with pytest.raises(NotFound):
            call()
    acme = backend.memory(tenant="acme")
    with pytest.raises(NotFound):
        acme.get(target.id)
    with pytest.raises(NotFound):
        acme.forget(target.id)
    assert acme.list().total == 0 and not acme.search("Lisbon").hits
    acme.add("Acme keeps its own notes about Lisbon.", user_id="ana")
    assert [h.text for h in acme.search("Lisbon", user_id="ana")] == [
        "Acme keeps its own notes about Lisbon."
    ]
    assert export_lines(ana) == before
    # (searching counts recalls, a change of ana's own records: after the comparison)
    assert all(h.memory.scope.tenant == "default" for h in ana.search("Lisbon", user_id="ana"))
    assert acme.stats()["memories"] == {"episode": {"active": 1}}


def test_facade_concurrent_writers_serialise(backend: Backend) -> None:
    """Two servers updating one memory and adding to one session: no lost update, no seq clash."""
    first, second = backend.memory(), backend.memory()
    target = first.add("counter at 0", user_id="u", session_id="s").memories[0]
    errors: list[BaseException] = []

    def work(memory: Memory, name: str) -> None:
        try:
            for i in range(4):
                memory.update(target.id, f"{name} update {i}")
                memory.add(f"{name} says {i}", user_id="u", session_id="s")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(m, n)) for m, n in ((first, "a"), (second, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = first.versions(target.id)
    assert [v.version for v in versions] == list(range(1, 10))
    assert [v.expired_at is None for v in versions] == [False] * 8 + [True]
    seqs = sorted(e.seq for e in first.store.neighbours(first.store.get_episodes(
        [target.provenance[0]], "default")[0], 100))  # fmt: skip
    assert seqs == list(range(9))


def test_facade_export_import_round_trip(
    ana: Memory, new_backend: Callable[[str], Backend], backend: Backend
) -> None:
    target = ana.search("Lisbon", user_id="ana", limit=1)[0].memory
    ana.update(target.id, "Ana: I moved to Porto.", reason="moved")
    ana.delete(ana.search("sister", user_id="ana", limit=1)[0].id)
    out = io.StringIO()
    counts = ana.export(out)
    assert counts == {"episode": 5, "memory": 6, "event": 7, "entity": 5, "entity_link": 6}
    copy = new_backend(backend.name).memory(track_recalls=False)  # its searches change nothing
    assert copy.import_(io.StringIO(out.getvalue())) == counts
    assert export_lines(copy) == export_lines(ana)
    assert copy.search("Porto", user_id="ana", limit=1)[0].id == target.id
    with pytest.raises(InvalidInput, match="collides"):
        copy.import_(io.StringIO(out.getvalue()))
    assert export_lines(copy) == export_lines(ana)


# ============================================================================ across backends


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


@pytest.mark.postgres
def test_both_backends_rank_simple_queries_alike(new_backend: Callable[[str], Backend]) -> None:
    sqlite, pg = new_backend("sqlite").memory(), new_backend("postgres").memory()
    sqlite.add(CONVERSATION, user_id="ana", session_id="s1")
    sqlite.add(
        [
            {"role": "user", "content": "I run along the river every morning before work."},
            {"role": "user", "content": "My favourite food is grilled sardines."},
            {"role": "user", "content": "The dentist appointment is on Friday at nine."},
            {"role": "user", "content": "Rita visits from Porto every other weekend."},
        ],
        user_id="ana",
        session_id="s2",
    )
    out = io.StringIO()
    sqlite.export(out)
    pg.import_(io.StringIO(out.getvalue()))
    queries = [
        "Lisbon",
        "which pet does the user have?",
        "when is the dentist",
        "what does she like to eat",
        "Porto sister",
        "morning exercise",
    ]
    for query in queries:
        a, b = (
            sqlite.search(query, user_id="ana", limit=3),
            pg.search(query, user_id="ana", limit=3),
        )
        assert a[0].id == b[0].id, query
        f = MemoryFilter(scope=Scope(user_id="ana"))
        vector = sqlite.embedder.embed_query(query)
        dense_a = sqlite.store.vector_search(vector, f, 5)
        dense_b = pg.store.vector_search(vector, f, 5)
        assert ids(dense_a) == ids(dense_b), query
        for (_, sa), (_, sb) in zip(dense_a, dense_b, strict=True):
            assert sa == pytest.approx(sb, abs=1e-4)
    for terms in (["lisbon"], ["dentist"], ["porto"], ["sardines", "food"]):
        f = MemoryFilter(scope=Scope(user_id="ana"))
        sa, sb = sqlite.store.text_search(terms, f, 5), pg.store.text_search(terms, f, 5)
        assert set(ids(sa)) == set(ids(sb)) and ids(sa)[0] == ids(sb)[0], terms


# ============================================================================ PostgreSQL only


@pytest.mark.postgres
def test_postgres_hnsw_path_stays_complete_and_ordered(
    new_backend: Callable[[str], Backend],
) -> None:
    """Force the HNSW plan and starve its graph walk: the exact fallback must still answer fully."""
    from conftest import with_options

    backend = new_backend("postgres")
    bound(backend)
    rng = np.random.default_rng(7)
    writer = backend.store()
    rows = [
        (record(f"c{i}", f"crowd {i}", scope=U if i % 100 else Scope(tenant="t1", user_id="few")),
         rng.normal(size=DIM).astype(np.float32))
        for i in range(600)
    ]  # fmt: skip
    for start in range(0, len(rows), 200):
        write(writer, *rows[start : start + 200])
    backend.raw("ANALYZE memories")
    backend.target = with_options(
        backend.target,
        "enable_seqscan=off",
        "enable_sort=off",
        "hnsw.max_scan_tuples=20",
        "hnsw.iterative_scan=relaxed_order",
        "hnsw.ef_search=100",
    )
    store = backend.store()
    query = rng.normal(size=DIM).astype(np.float32)

    def truth(user: str | None, k: int) -> list[str]:
        chosen = [(m, v) for m, v in rows if user is None or m.scope.user_id == user]
        chosen.sort(key=lambda r: -float(np.dot(r[1], query) / np.linalg.norm(r[1])))
        return [m.id for m, _ in chosen[:k]]

    plan = "\n".join(
        r[0]
        for r in backend.raw(
            "EXPLAIN SELECT id FROM memories m WHERE m.tenant = 't1' AND m.user_id = 'few' "
            "AND m.expired_at IS NULL ORDER BY m.embedding <=> %s::vector LIMIT 10",
            (str(query.tolist()),),
        )
    )
    assert "memories_embedding" in plan  # the graph is really what the first query walks
    walked = backend.raw(
        "SELECT id FROM memories m WHERE m.tenant = 't1' AND m.user_id = 'few' "
        "AND m.expired_at IS NULL ORDER BY m.embedding <=> %s::vector LIMIT 10",
        (str(query.tolist()),),
    )
    assert len(walked) < 6  # ...and alone it would miss some of the user's rows
    few = store.vector_search(query, flt(Scope(tenant="t1", user_id="few")), 10)
    assert ids(few) == truth("few", 10)  # 6 rows, found although the walk stops after 20 tuples
    scores = [s for _, s in store.vector_search(query, flt(Scope(tenant="t1")), 15)]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.postgres
def test_postgres_refuses_a_newer_schema(new_backend: Callable[[str], Backend]) -> None:
    backend = new_backend("postgres", fresh=True)
    backend.store()
    backend.raw("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')")
    with pytest.raises(StoreError, match="newer remem"):
        backend.store()


@pytest.mark.postgres
def test_postgres_upgrades_an_older_schema_in_place(
    new_backend: Callable[..., Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    from remem.stores import postgres, rows

    backend = new_backend("postgres", fresh=True)
    first = rows.MEMORY_COLUMNS.index("layer")  # columns from migration 4 on are unknown to it
    with monkeypatch.context() as old:  # a remem that knew only the first migration
        old.setattr(postgres, "MIGRATIONS", postgres.MIGRATIONS[:1])
        old.setattr(postgres, "SCHEMA_VERSION", 1)
        old.setattr(postgres, "MEMORY_COLUMNS", rows.MEMORY_COLUMNS[:first])
        old.setattr(postgres, "memory_row", lambda m: rows.memory_row(m)[:first])
        write(bound(backend), (record("m1", "written before the upgrade"), vec(1)))
    store = backend.store()  # the current remem migrates on open
    applied = backend.raw("SELECT version FROM schema_migrations ORDER BY 1")
    assert applied == [(v,) for v, _, _ in postgres.MIGRATIONS]
    assert ids(store.text_search(["upgrade"], flt(), 5)) == ["m1"]
    assert ids(store.vector_search(vec(1), flt(), 5)) == ["m1"]
    upgraded = store.get_memory("m1", "t1")
    assert upgraded is not None and (upgraded.layer, upgraded.stability, upgraded.pinned) == (
        "short",
        None,
        False,
    )
