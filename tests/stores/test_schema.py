"""Conformance, the schema and the embedding space: migrations applied once however many
servers open a database, newer schemas refused, older ones upgraded, one embedder per store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from conformance import (
    DIM,
    T0,
    bound,
    flt,
    ids,
    record,
    vec,
    write,
)
from conftest import BACKENDS

from remem import Memory
from remem.errors import StoreError
from remem.model import Scope
from remem.stores import Store
from remem.stores.migrations import STEPS

if TYPE_CHECKING:
    from conftest import Backend


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
    assert stats["backend"] == backend.family


def test_memory_facade_refuses_a_store_of_another_embedder(backend: Backend) -> None:
    store = backend.store()
    store.bind_embedder("some-other-model", 384)
    with pytest.raises(StoreError, match="some-other-model"):
        Memory(store=store).add("hello there", user_id="u")


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
    applied = backend.raw("SELECT version, name FROM schema_migrations ORDER BY 1")
    assert applied == [(step.version, step.name) for step in STEPS]


@pytest.mark.postgres
def test_postgres_refuses_a_newer_schema(new_backend: Callable[[str], Backend]) -> None:
    backend = new_backend("postgres", fresh=True)
    backend.store()
    backend.raw("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')")
    with pytest.raises(StoreError, match="newer remem"):
        backend.store()


@pytest.mark.postgres
def test_postgres_upgrades_an_older_schema_in_place(new_backend: Callable[..., Backend]) -> None:
    import psycopg

    from remem.stores.postgres import migrate

    backend = new_backend("postgres", fresh=True)
    with psycopg.connect(backend.target, autocommit=True) as conn:
        migrate(conn, until=1)  # a remem that knew only the first step, and what it wrote:
        conn.execute("INSERT INTO meta VALUES ('embedder', 'test-8d'), ('dimension', %s)", (DIM,))
        conn.execute(f"ALTER TABLE memories ADD COLUMN embedding vector({DIM})")
        conn.execute(
            "INSERT INTO memories (id, version, tenant, user_id, session_id, kind, text, "
            "recorded_at, importance, status, embedding) VALUES ('m1', 1, 't1', 'u1', 's1', "
            "'fact', 'written before the upgrade', %s, 0.5, 'active', %s::vector)",
            (T0, str(vec(1).tolist())),
        )
    store = backend.store()  # the current remem migrates on open
    applied = backend.raw("SELECT version FROM schema_migrations ORDER BY 1")
    assert applied == [(step.version,) for step in STEPS]
    assert ids(store.text_search(["upgrade"], flt(), 5)) == ["m1"]
    assert ids(store.vector_search(vec(1), flt(), 5)) == ["m1"]
    upgraded = store.get_memory("m1", "t1")
    assert upgraded is not None and (upgraded.layer, upgraded.stability, upgraded.pinned) == (
        "short",
        None,
        False,
    )
