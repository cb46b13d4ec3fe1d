"""Databases from before the numbered steps upgrade to exactly the schema a new one gets.

``tests/stores/legacy/`` holds the DDL of the releases before ``stores/migrations.py``,
verbatim from git: SQLite's schema script at each of its versions 1-5, PostgreSQL's
migrations 1-6. Each test builds a database as such a release left it, with a row in
every table it had, opens it with this remem, and checks that every row still reads
back and that tables, columns, types, defaults, keys and indexes are those of a
database this remem created.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Backend

from remem._time import iso
from remem.model import Scope
from remem.stores import MemoryFilter, Store, open_store
from remem.stores.migrations import STEPS
from remem.stores.sqlite.schema import SCHEMA_VERSION, legacy_version

LEGACY = Path(__file__).parent / "legacy"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DIM = 8
VECTOR = np.eye(DIM, dtype=np.float32)[0]


def legacy_sql(name: str) -> str:
    return (LEGACY / f"{name}.sql").read_text()


def legacy_rows(graph: bool, jobs_v2: bool) -> list[tuple[str, dict[str, Any]]]:
    """One row per table a release had, in portable values (times, JSON text, vectors)."""
    rows: list[tuple[str, dict[str, Any]]] = [
        ("meta", {"key": "embedder", "value": "test-8d"}),
        ("meta", {"key": "dimension", "value": str(DIM)}),
        ("episodes", {"id": "e1", "tenant": "t1", "user_id": "u1", "session_id": "s1",
                      "seq": 0, "role": "user", "speaker": "Ana", "content": "I moved to Lisbon",
                      "occurred_at": T0, "recorded_at": T0, "source": "conversation",
                      "metadata": '{"n": 0}'}),
        ("memories", {"id": "m1", "version": 1, "tenant": "t1", "user_id": "u1",
                      "session_id": "s1", "kind": "fact", "text": "Ana moved to Lisbon",
                      "provenance": '["e1"]', "valid_from": T0, "recorded_at": T0,
                      "importance": 0.5, "status": "active", "metadata": "{}",
                      "vector": VECTOR}),
        ("memory_sources", {"memory": "m1", "episode_id": "e1"}),
        ("events", {"id": "ev1", "at": T0, "op": "add", "memory_id": "m1", "version": 1,
                    "tenant": "t1", "user_id": "u1", "session_id": "s1", "payload": "{}"}),
    ]  # fmt: skip
    if graph:
        rows += [
            ("entities", {"id": "ent1", "tenant": "t1", "user_id": "u1", "name": "Lisbon",
                          "type": "place", "aliases": '["Lisboa"]', "created_at": T0,
                          "updated_at": T0, "metadata": "{}"}),
            ("entity_aliases", {"tenant": "t1", "user_id": "u1", "alias": "lisbon",
                                "entity_id": "ent1"}),
            ("entity_links", {"tenant": "t1", "memory_id": "m1", "entity_id": "ent1"}),
            ("extraction_jobs", {"id": "j1", "tenant": "t1", "user_id": "u1",
                                 "episode_ids": '["e1"]', "status": "failed", "attempts": 2,
                                 "error": "HTTP 500", "created_at": T0, "updated_at": T0,
                                 **({"retry_at": T0} if jobs_v2 else {})}),
        ]  # fmt: skip
    return rows


def reads_back(store: Store, graph: bool) -> None:
    store.bind_embedder("test-8d", DIM)
    flt = MemoryFilter(scope=Scope(tenant="t1", user_id="u1"))
    memory = store.get_memory("m1", "t1")
    assert memory is not None and memory.text == "Ana moved to Lisbon"
    assert (memory.provenance, memory.valid_from, memory.layer, memory.pinned) == (
        ("e1",),
        T0,
        "short",  # rows from before the lifecycle are short term
        False,
    )
    assert [h.id for h, _ in store.text_search(["lisbon"], flt, 5)] == ["m1"]
    assert [h.id for h, _ in store.vector_search(VECTOR, flt, 5)] == ["m1"]
    [turn] = store.get_episodes(["e1"], "t1")
    assert (turn.content, turn.metadata, turn.occurred_at) == ("I moved to Lisbon", {"n": 0}, T0)
    assert [(e.id, e.op) for e in store.events("t1")] == [("ev1", "add")]
    if graph:
        [(entity, _)] = store.get_entities("t1", "u1")
        assert (entity.name, entity.aliases) == ("Lisbon", ("Lisboa",))
        assert store.entities_by_alias("t1", "u1", ["lisbon"]) == {"lisbon": ["ent1"]}
        assert store.entity_links("t1", entity_ids=["ent1"]) == [("m1", "ent1")]
        [job] = store.get_jobs("t1")
        assert (job.id, job.status, job.attempts, job.extracted) == ("j1", "failed", 2, None)
    with store.transaction():  # and it takes writes: forget touches every table
        assert store.forget("m1", "t1") == 1
    assert store.get_episodes(["e1"], "t1") == []


# ============================================================================ SQLite


def sqlite_schema(path: Path) -> dict[str, Any]:
    """Tables with their columns, keys and indexes, as SQLite itself describes them."""
    db = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        indexes = {
            name: " ".join(sql.split()) if sql else None
            for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
        }
        return {
            table: {
                "columns": db.execute(f"PRAGMA table_xinfo({table})").fetchall(),
                "foreign_keys": db.execute(f"PRAGMA foreign_key_list({table})").fetchall(),
                "indexes": sorted(
                    (*row[1:5], indexes.get(row[1]), index_columns(db, row[1]))
                    for row in db.execute(f"PRAGMA index_list({table})")
                ),
            }
            for table in tables
        }
    finally:
        db.close()


def index_columns(db: sqlite3.Connection, index: str) -> list[tuple[Any, ...]]:
    return db.execute(f"PRAGMA index_xinfo({index})").fetchall()


def sqlite_insert(db: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    row = dict(row)
    vector = row.pop("vector", None)
    if table == "memory_sources":
        row["rk"] = db.execute("SELECT rk FROM memories WHERE id = ?", (row.pop("memory"),))
        row["rk"] = row["rk"].fetchone()[0]
    values = [iso(v) if isinstance(v, datetime) else v for v in row.values()]
    marks = ", ".join("?" * len(row))
    rk = db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", values).lastrowid
    if vector is not None:
        db.execute("INSERT INTO vectors (rk, vector) VALUES (?, ?)", (rk, vector.tobytes()))


def sqlite_release(path: Path, version: int) -> None:
    """A file as SQLite schema ``version`` left it, holding a row in every table."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(legacy_sql(f"sqlite-{version}"))
    db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
    for table, row in legacy_rows(graph=version >= 4, jobs_v2=version >= 5):
        sqlite_insert(db, table, row)
    db.close()


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_a_sqlite_file_of_every_release_upgrades_to_the_new_schema(
    version: int, tmp_path: Path
) -> None:
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    sqlite_release(old, version)
    open_store(new).close()
    open_store(old).close()
    assert sqlite_schema(old) == sqlite_schema(new)
    db = sqlite3.connect(old)
    steps = db.execute("SELECT version, name FROM schema_migrations ORDER BY 1").fetchall()
    marker = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    db.close()
    assert steps == [(s.version, s.name) for s in STEPS]
    # What the releases before steps read: the last step's number since step 7, so that
    # they refuse the file.
    assert marker == (str(SCHEMA_VERSION),) == (str(legacy_version(STEPS[-1].version)),)
    store = open_store(old)  # opening again applies nothing
    try:
        reads_back(store, graph=version >= 4)
    finally:
        store.close()
    assert sqlite_schema(old) == sqlite_schema(new)


def test_sqlite_schema_version_stays_readable_by_the_releases_before_steps() -> None:
    # They open a file whose schema_version is at most theirs (5) and refuse a higher one.
    assert [legacy_version(step) for step in range(1, 7)] == [1, 2, 2, 3, 4, 5]
    assert legacy_version(7) == 7  # the first step they do not know: they must refuse it
    assert legacy_version(9) == 8  # m009 only pads years in place: no new number for it
    assert legacy_version(10) == 10  # m010 adds the re-embedding tables: a new number


# ============================================================================ PostgreSQL


def postgres_schema(backend: Backend) -> dict[str, Any]:
    """Columns, constraints and indexes of the backend's schema, its name written ``S``."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        found = backend.raw(sql, (backend.schema,))
        return sorted(
            tuple(re.sub(rf"\b{backend.schema}\.", "S.", str(x)) for x in r) for r in found
        )

    return {
        # in order, except the vector column: it sits wherever the first bind_embedder put it
        "order": rows(
            "SELECT table_name, string_agg(column_name, ' ' ORDER BY ordinal_position) "
            "FROM information_schema.columns WHERE table_schema = %s "
            "AND column_name <> 'embedding' GROUP BY table_name"
        ),
        "columns": rows(
            "SELECT table_name, column_name, data_type, udt_name, "
            "character_maximum_length, is_nullable, column_default, is_generated, "
            "generation_expression FROM information_schema.columns WHERE table_schema = %s"
        ),
        "constraints": rows(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c WHERE c.connamespace = %s::regnamespace"
        ),
        "indexes": rows(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s"
        ),
        "vector dimension": rows(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = (%s || '.memories')::regclass AND a.attname = 'embedding'"
        ),
    }


def postgres_release(backend: Backend, migrations: int) -> None:
    """A schema as a release with PostgreSQL ``migrations`` 1..n left it, a row in every table."""
    import psycopg

    with psycopg.connect(backend.target, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version in range(1, migrations + 1):
            sql = legacy_sql(f"postgres-{version}")
            name = re.match(r"-- PostgreSQL migration \d+, '([^']*)'", sql)
            assert name is not None
            conn.execute(sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (version, name.group(1)),
            )
        # what that release's bind_embedder did
        conn.execute(f"ALTER TABLE memories ADD COLUMN embedding vector({DIM})")
        conn.execute(
            "CREATE INDEX memories_embedding ON memories USING hnsw (embedding vector_cosine_ops)"
        )
        for table, row in legacy_rows(graph=migrations >= 5, jobs_v2=migrations >= 6):
            row = dict(row)
            if "vector" in row:
                row["embedding"] = str(row.pop("vector").tolist())
            if table == "memory_sources":
                memory = row.pop("memory")
                conn.execute(
                    "INSERT INTO memory_sources (tenant, rk, episode_id) "
                    "SELECT tenant, rk, %s FROM memories WHERE id = %s",
                    (row["episode_id"], memory),
                )
                continue
            marks = ", ".join("%s" for _ in row)
            conn.execute(
                f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})",
                list(row.values()),
            )


@pytest.mark.postgres
@pytest.mark.parametrize("migrations", [1, 2, 3, 4, 5, 6])
def test_a_postgres_schema_of_every_release_upgrades_to_the_new_schema(
    migrations: int, new_backend: Callable[..., Backend]
) -> None:
    old = new_backend("postgres", fresh=True)
    new = new_backend("postgres", fresh=True)
    postgres_release(old, migrations)
    new.store().bind_embedder("test-8d", DIM)
    store = old.store()
    assert postgres_schema(old) == postgres_schema(new)
    applied = old.raw("SELECT version FROM schema_migrations ORDER BY 1")
    assert applied == [(s.version,) for s in STEPS]
    reads_back(store, graph=migrations >= 5)
    assert postgres_schema(old) == postgres_schema(new)
