"""Conformance, memories and episodes: writes, transactions, versions, paging, forgetting,
tenants. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from conformance import (
    U,
    at,
    bound,
    episode,
    event,
    flt,
    ids,
    record,
    vec,
    write,
)

from remem import InvalidInput
from remem.errors import StoreError
from remem.model import Scope

if TYPE_CHECKING:
    from conftest import Backend


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
