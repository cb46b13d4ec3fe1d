"""PostgreSQL bulk loads: the HNSW index is dropped before a large load and built once after
it, concurrently; small loads, loads inside a caller's transaction and loads into a table
already larger than the load keep it in place; a failed load writes nothing and leaves the
index there. ``bulk_rows`` is lowered so a few dozen rows count as a bulk load."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from conformance import DIM, U, bound, episode, flt, ids, normalised, record, vec, write

from remem.errors import RememError
from remem.stores import Store

if TYPE_CHECKING:
    from conftest import Backend

SERVERS = [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("citus", marks=pytest.mark.citus),
]
ROWS = 40


def index(backend: Backend) -> tuple[int, bool] | None:
    """The HNSW index's OID (a rebuild makes a new one) and whether it is valid."""
    found = backend.raw(
        "SELECT c.oid, i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
        "WHERE c.relname = 'memories_embedding' "
        "AND c.relnamespace = current_schema()::regnamespace"
    )
    return (int(found[0][0]), bool(found[0][1])) if found else None


def dumped(prefix: str, count: int = ROWS) -> tuple[list[tuple[str, Any]], np.ndarray]:
    rng = np.random.default_rng(len(prefix) + count)
    vectors = rng.normal(size=(count, DIM)).astype(np.float32)
    items: list[tuple[str, Any]] = [("episode", episode(f"{prefix}e0", 0))]
    items += [("memory", (record(f"{prefix}{i}", f"row {i}"), vectors[i])) for i in range(count)]
    return items, vectors


def exact(vectors: np.ndarray, query: np.ndarray, k: int, prefix: str) -> list[str]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return [f"{prefix}{i}" for i in np.argsort(-(unit @ query))[:k]]


def bulk(backend: Backend) -> Store:
    store = bound(backend)
    store.bulk_rows = 10  # type: ignore[attr-defined]
    return store


@pytest.mark.parametrize("name", SERVERS)
def test_a_bulk_load_builds_the_index_after_its_rows(
    name: str, new_backend: Callable[[str], Backend]
) -> None:
    backend = new_backend(name)
    store = bulk(backend)
    before = index(backend)
    assert before is not None and before[1]
    items, vectors = dumped("m")
    store.load(items)
    after = index(backend)
    assert after is not None and after[1] and after[0] != before[0]  # dropped, built again
    assert normalised(store.dump()) == normalised(items)
    query = vec(1, -1, 0.5)
    assert ids(store.vector_search(query, flt(), 5)) == exact(vectors, query, 5, "m")


@pytest.mark.parametrize("name", SERVERS)
def test_search_is_exact_while_the_index_is_absent(
    name: str, new_backend: Callable[[str], Backend]
) -> None:
    from remem.stores.postgres import hnsw

    backend = new_backend(name)
    store = bulk(backend)
    items, vectors = dumped("m")
    store.load(items)
    store._hnsw(hnsw.drop_concurrently)  # type: ignore[attr-defined]
    assert index(backend) is None
    query = vec(0, 1, 1, -1)
    assert ids(store.vector_search(query, flt(), 7)) == exact(vectors, query, 7, "m")


@pytest.mark.parametrize("name", SERVERS)
def test_small_loads_and_loads_in_a_transaction_keep_the_index(
    name: str, new_backend: Callable[[str], Backend]
) -> None:
    backend = new_backend(name)
    store = bound(backend)  # bulk_rows at its default: 40 rows are a small load
    before = index(backend)
    store.load(dumped("a")[0])
    assert index(backend) == before
    store.bulk_rows = 10  # type: ignore[attr-defined]
    with store.transaction():  # a concurrent build cannot run inside the caller's transaction
        store.load(dumped("b")[0])
    assert index(backend) == before
    store.load(dumped("c", 30)[0])  # fewer rows than the 80 held: a rebuild would cost more
    assert index(backend) == before
    assert len(list(store.dump())) == 3 + 40 + 40 + 30


@pytest.mark.parametrize("name", SERVERS)
def test_a_failed_bulk_load_writes_nothing_and_leaves_the_index(
    name: str, new_backend: Callable[[str], Backend]
) -> None:
    backend = new_backend(name)
    store = bulk(backend)
    write(store, (record("m3", "already here"), vec(1)))
    held = normalised(store.dump())
    before = index(backend)
    items, _ = dumped("m")
    with pytest.raises(RememError, match="collides"):  # refused before the index is touched
        store.load(items)
    assert index(backend) == before
    wrong = ("memory", (record("late", "a 3-d vector"), np.ones(3, dtype=np.float32)))
    with pytest.raises(RememError):  # refused by the insert, after the index was dropped
        store.load([*dumped("n")[0], wrong])
    after = index(backend)
    assert after is not None and after[1]  # built again before the error came out
    assert normalised(store.dump()) == held
    assert ids(store.vector_search(vec(1), flt(U), 1)) == ["m3"]
