"""Conformance, ``MemoryFilter``: every read (list, count, text and vector search) admits
exactly the same rows on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance import (
    at,
    bound,
    filter_rows,
    flt,
    record,
    vec,
    write,
)

from remem.model import Scope

if TYPE_CHECKING:
    from conftest import Backend


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
    filter_rows(store)
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
