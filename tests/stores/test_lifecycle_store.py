"""Lifecycle state on every backend: stored, filtered, batched, migrated, exported."""

from __future__ import annotations

import io
import sqlite3
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conformance import T0, U, at, bound, flt, ids, normalised, record, vec, write

from remem import Memory
from remem.model import Scope
from remem.stores import LifecycleChange, open_store

if TYPE_CHECKING:
    from conftest import Backend


def change(mid: str, version: int = 1, **kw: object) -> LifecycleChange:
    base: dict[str, object] = {
        "layer": "short",
        "stability": None,
        "pinned": False,
        "status": "active",
    }
    return LifecycleChange(id=mid, version=version, **{**base, **kw})  # type: ignore[arg-type]


def test_lifecycle_fields_round_trip_and_filter_by_layer(backend: Backend) -> None:
    store = bound(backend)
    write(
        store,
        (record("w", "working note"), vec(1)),
        (record("l", "long note", layer="long", stability=12.5, pinned=True), vec(1, 1)),
    )
    got = store.get_memory("l", "t1")
    assert got is not None and (got.layer, got.stability, got.pinned) == ("long", 12.5, True)
    assert store.get_memory("w", "t1").layer == "working"  # type: ignore[union-attr]
    assert ids(store.list_memories(flt(layers=("long",)), limit=10, offset=0)) == ["l"]
    assert store.count_memories(flt(layers=("working", "long"))) == 2
    assert ids(store.text_search(["note"], flt(layers=("working",)), 5)) == ["w"]
    assert ids(store.vector_search(vec(1), flt(layers=("long",)), 5)) == ["l"]


def test_set_lifecycle_is_one_batch_that_counts_recalls_and_skips_old_rows(
    backend: Backend,
) -> None:
    store = bound(backend)
    other = Scope(tenant="t2", user_id="u1", session_id="s1")
    write(store, (record("a", "alpha"), None), (record("b", "beta"), None))
    write(store, (record("x", "in another tenant", scope=other), None))
    with store.transaction():  # b gets a second version: its first is no longer current
        store.end_version("b", 1, "superseded", at(1), "t1")
        store.insert_memories([(record("b", "beta 2", version=2), None)])
    when = at(5)
    with store.transaction():
        n = store.set_lifecycle(
            "t1",
            [
                change("a", layer="long", stability=4.0, recalled_at=when),
                change("b", 1, status="archived"),  # not current: skipped
                change("b", 2, status="archived", pinned=True),
                change("x", status="archived", recalled_at=when),  # t2's: not reachable from t1
            ],
        )
    assert n == 2
    a = store.get_memory("a", "t1")
    assert a is not None and (a.layer, a.stability, a.access_count) == ("long", 4.0, 1)
    assert a.last_accessed_at == when
    b1, b2 = store.versions("b", "t1")
    assert b1.status == "superseded" and (b2.status, b2.pinned) == ("archived", True)
    x = store.get_memory("x", "t2")
    assert x is not None and (x.status, x.access_count) == ("active", 0)
    # a change without a recall leaves the counters alone
    with store.transaction():
        store.set_lifecycle("t1", [change("a", layer="long", stability=4.0)])
    a = store.get_memory("a", "t1")
    assert a is not None and a.access_count == 1 and a.last_accessed_at == when
    assert ids(store.list_memories(flt(statuses=("archived",)), limit=5, offset=0)) == ["b"]


def test_concurrent_recall_batches_all_count(backend: Backend) -> None:
    """Overlapping batches in opposite orders: no deadlock, no lost increment."""
    store = bound(backend)
    names = [f"m{i}" for i in range(12)]
    write(store, *((record(n, n), None) for n in names))
    errors: list[BaseException] = []

    def recall(order: list[str]) -> None:
        try:
            for _ in range(10):
                with store.transaction():
                    store.set_lifecycle("t1", [change(n, recalled_at=T0) for n in order])
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=recall, args=(names if i % 2 else names[::-1],)) for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {store.get_memory(n, "t1").access_count for n in names} == {40}  # type: ignore[union-attr]


def test_dump_and_load_keep_lifecycle_state(
    backend: Backend, new_backend: Callable[[str], Backend]
) -> None:
    store = bound(backend)
    write(
        store,
        (
            record(
                "p",
                "pinned",
                layer="long",
                stability=30.0,
                pinned=True,
                access_count=4,
                last_accessed_at=at(3),
            ),
            vec(1),
        ),
        (record("z", "archived", layer="short", status="archived"), vec(0, 1)),
    )
    dumped = list(store.dump())
    copy = bound(new_backend("sqlite" if backend.family == "postgres" else "postgres"))
    copy.load(dumped)
    assert normalised(copy.dump()) == normalised(dumped)


def test_facade_recall_maintain_and_export_round_trip(
    backend: Backend, new_backend: Callable[[str], Backend]
) -> None:
    now = [T0]
    memory = backend.memory(clock=lambda: now[0])
    kept = memory.add("The boiler service is due in March", user_id="u", session_id="a")
    gone = memory.add("A forgettable aside about the weather", user_id="u", session_id="a")
    now[0] += timedelta(days=1)
    hit = memory.search("boiler service", user_id="u", limit=1)[0]
    assert hit.id == kept.memories[0].id and hit.memory.access_count == 1
    now[0] += timedelta(days=2)
    memory.search("boiler service", user_id="u", limit=1)
    now[0] += timedelta(days=25)
    report = memory.maintain(user_id="u")
    assert report.archived == 1
    assert memory.list(user_id="u", status="archived").items[0].id == gone.memories[0].id
    stored = memory.get(kept.memories[0].id)
    assert stored.access_count == 3 and stored.layer == "long"  # the third recall promoted it
    copy = new_backend("sqlite").memory()
    exported = io.StringIO()
    memory.export(exported)
    exported.seek(0)
    copy.import_(exported)
    assert _export(copy) == _export(memory)


def _export(memory: Memory) -> str:
    out = io.StringIO()
    memory.export(out)
    return "\n".join(out.getvalue().splitlines()[1:])  # the header has a timestamp


# The tables a schema-1 file had that later schemas change (the rest is created on open).
SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE memories (
    rk INTEGER PRIMARY KEY,
    id TEXT NOT NULL, version INTEGER NOT NULL,
    tenant TEXT NOT NULL, user_id TEXT, agent_id TEXT, session_id TEXT,
    kind TEXT NOT NULL, text TEXT NOT NULL, provenance TEXT NOT NULL DEFAULT '[]',
    valid_from TEXT, valid_to TEXT, recorded_at TEXT NOT NULL, expired_at TEXT,
    importance REAL NOT NULL, access_count INTEGER NOT NULL DEFAULT 0, last_accessed_at TEXT,
    status TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}',
    UNIQUE (id, version)
);
CREATE VIRTUAL TABLE memories_fts USING fts5 (text, scope);
"""


def test_sqlite_file_of_schema_1_is_upgraded_in_place(tmp_path: Path) -> None:
    from remem.stores import sqlite as backend_module

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_1)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute(
        "INSERT INTO memories (id, version, tenant, user_id, kind, text, recorded_at, "
        "importance, status) VALUES ('old', 1, 't1', 'u1', 'fact', 'from before', ?, 0.5, "
        "'active')",
        (T0.isoformat(),),
    )
    db.commit()
    db.close()
    store = open_store(path)
    try:
        store.bind_embedder("test-8d", 8)
        assert (
            store.text_search(["before"], flt(Scope(tenant="t1", user_id="u1")), 5)[0][0].id
            == "old"
        )
        old = store.get_memory("old", "t1")
        assert old is not None and (old.layer, old.stability, old.pinned) == ("short", None, False)
        write(store, (record("new", "after", scope=U, layer="working"), None))
        assert store.get_memory("new", "t1").layer == "working"  # type: ignore[union-attr]
    finally:
        store.close()
    check = sqlite3.connect(path)
    assert check.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(backend_module.SCHEMA_VERSION),
    )
    check.close()
    with pytest.raises(Exception, match="newer remem"):
        db = sqlite3.connect(path)
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        db.commit()
        db.close()
        open_store(path)


def test_sqlite_migration_skips_columns_that_already_exist(tmp_path: Path) -> None:
    from remem.stores import sqlite as backend_module

    path = tmp_path / "dev.db"
    open_store(path).close()
    db = sqlite3.connect(path)  # a file whose columns came first but whose version lags
    db.execute("DROP TABLE schema_migrations")  # (from before schema_migrations)
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    store = open_store(path)
    store.close()
    check = sqlite3.connect(path)
    assert check.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(backend_module.SCHEMA_VERSION),
    )
    check.close()


def test_facade_summaries_profile_and_context_on_every_backend(backend: Backend) -> None:
    now = [T0]
    memory = backend.memory(clock=lambda: now[0])
    fact = memory.add("Ana lives in Lisbon", user_id="ana", kind="fact").memories[0]
    memory.add(
        [
            {"role": "user", "content": "I am planning a trip to Japan in October."},
            {"role": "assistant", "content": "Kyoto is lovely in October."},
            {"role": "user", "content": "Our budget for the Japan trip is 3000 euros."},
        ],
        user_id="ana",
        session_id="s1",
    )
    written = memory.summarize(user_id="ana")
    assert sorted(m.metadata["summary"] for m in written) == ["running", "session"]
    assert memory.summarize(user_id="ana") == []  # found again by their metadata key
    now[0] += timedelta(days=1)
    memory.update(fact.id, "Ana lives in Porto", user_id="ana")
    profile = memory.profile(user_id="ana")
    assert profile.version == 2 and "was: Ana lives in Lisbon" in profile.text
    block = memory.context("Japan trip budget", user_id="ana", budget_tokens=400)
    assert block.tokens <= 400
    assert {"profile", "overview"} <= {line.section for line in block.lines}
