"""Step 7 (trust and provenance) on both backends: a database of step 6 keeps every row and
gains each one's origin and trust from the role it recorded; new rows keep what they are
given; a filter on trust, and the quarantined rows an ``as_of`` view leaves out."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from conftest import BACKENDS, Backend

from remem.model import Episode, MemoryRecord, Scope
from remem.stores import MemoryFilter

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCOPE = Scope(tenant="t1", user_id="u1", session_id="s1")


def _at_step_6(backend: Backend) -> None:
    if backend.name == "sqlite":
        from remem.stores.sqlite.schema import migrate

        db = sqlite3.connect(backend.target, isolation_level=None)
        try:
            migrate(db, "test", until=6)
        finally:
            db.close()
        return
    import psycopg

    from remem.stores.postgres.schema import migrate as migrate_postgres

    with psycopg.connect(backend.target, autocommit=True) as conn:
        migrate_postgres(conn, "test", until=6)
        if backend.name == "citus":  # a cluster distributed back then: the upgrade spreads the rest
            from conftest import CITUS_SHARDS

            from remem.stores.postgres.citus import distribute_tables

            distribute_tables(conn, CITUS_SHARDS)


def _rows(backend: Backend) -> None:
    """Turns and memories as step 6 stored them: a role in the metadata, no trust."""
    mark = "?" if backend.name == "sqlite" else "%s"
    t = T0.isoformat() if backend.name == "sqlite" else T0
    for i, role in enumerate(("user", "assistant", "tool", "system")):
        backend.raw(
            "INSERT INTO episodes (id, tenant, user_id, session_id, seq, role, content, "
            f"occurred_at, recorded_at, source) VALUES ({', '.join([mark] * 10)})",
            (f"e{i}", "t1", "u1", "s1", i, role, f"turn {i}", t, t, "api"),
        )
        backend.raw(
            "INSERT INTO memories (id, version, tenant, user_id, session_id, kind, text, "
            "provenance, recorded_at, importance, status, metadata) "
            f"VALUES ({', '.join([mark] * 12)})",
            (f"m{i}", 1, "t1", "u1", "s1", "episode", f"turn {i}", f'["e{i}"]', t, 0.5,
             "active", f'{{"role": "{role}"}}'),
        )  # fmt: skip
    backend.raw(
        "INSERT INTO memories (id, version, tenant, user_id, kind, text, provenance, "
        f"recorded_at, importance, status, metadata) VALUES ({', '.join([mark] * 11)})",
        ("f1", 1, "t1", "u1", "fact", "Ana lives in Lisbon", '["e0"]', t, 0.5, "active", "{}"),
    )


@pytest.mark.parametrize("name", BACKENDS)
def test_rows_of_step_6_gain_origin_and_trust_from_their_role(
    name: str, new_backend: Callable[..., Backend]
) -> None:
    backend = new_backend(name, fresh=True)
    _at_step_6(backend)
    _rows(backend)
    store = backend.store()
    found = {m.id: (m.origin, m.trust) for m in store.list_memories(
        MemoryFilter(scope=Scope(tenant="t1")), limit=10, offset=0)}  # fmt: skip
    assert found == {
        "m0": ("user", "trusted"),
        "m1": ("assistant", "unverified"),
        "m2": ("tool", "untrusted"),
        "m3": ("system", "trusted"),
        "f1": ("derived", "unverified"),
    }
    turns = store.get_episodes(["e0", "e1", "e2", "e3"], "t1")
    assert [e.trust for e in sorted(turns, key=lambda e: e.id)] == [
        "trusted",
        "unverified",
        "untrusted",
        "trusted",
    ]


def _memory(i: int, trust: str, status: str = "active", **extra: Any) -> MemoryRecord:
    return MemoryRecord(
        id=f"n{i}",
        scope=SCOPE,
        kind="episode",
        text=f"note {i}",
        recorded_at=T0,
        valid_from=T0,
        origin="tool",
        trust=trust,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        **extra,
    )


@pytest.mark.parametrize("name", BACKENDS)
def test_trust_is_stored_filtered_on_and_held_rows_stay_out_of_as_of(
    name: str, new_backend: Callable[..., Backend]
) -> None:
    store = new_backend(name).store()
    store.bind_embedder("test-4d", 4)
    vector = np.ones(4, dtype=np.float32) / 2
    rows = [
        _memory(0, "trusted"),
        _memory(1, "untrusted"),
        _memory(2, "unverified", "quarantined"),
    ]
    turn = Episode(
        id="x",
        scope=SCOPE,
        seq=0,
        role="tool",
        content="x",
        occurred_at=T0,
        recorded_at=T0,
        trust="untrusted",
    )
    with store.transaction():
        store.insert_episodes([turn])
        store.insert_memories([(m, vector) for m in rows])
    assert store.get_episodes(["x"], "t1")[0].trust == "untrusted"
    everything = MemoryFilter(scope=SCOPE, statuses=("active", "quarantined"))
    got = {
        m.id: (m.origin, m.trust, m.status)
        for m in store.list_memories(everything, limit=9, offset=0)
    }
    assert got == {
        "n0": ("tool", "trusted", "active"),
        "n1": ("tool", "untrusted", "active"),
        "n2": ("tool", "unverified", "quarantined"),
    }
    trusted = MemoryFilter(scope=SCOPE, trust=("trusted",))
    assert [m.id for m, _ in store.vector_search(vector, trusted, 5)] == ["n0"]
    assert [m.id for m, _ in store.text_search(["note"], trusted, 5)] == ["n0"]
    later = T0 + timedelta(days=1)
    seen = store.list_memories(MemoryFilter(scope=SCOPE, as_of=later), limit=9, offset=0)
    assert sorted(m.id for m in seen) == ["n0", "n1"]
    asked = MemoryFilter(scope=SCOPE, as_of=later, statuses=("active", "quarantined"))
    assert len(store.list_memories(asked, limit=9, offset=0)) == 3
