"""Memories and episodes in SQLite: rows keyed by ``rk``, vectors beside them in ``vectors``."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from remem._time import from_iso, iso
from remem.errors import InvalidInput, StoreError
from remem.model import Episode, MemoryRecord, Scope
from remem.stores import statements as sql
from remem.stores.operations import MemoryStore
from remem.stores.records import LifecycleChange, MemoryFilter
from remem.stores.rows import (
    EPISODE_COLUMNS,
    MEMORY_COLUMNS,
    episode_from_row,
    episode_row,
    memory_from_row,
    memory_row,
)
from remem.stores.sqlite.connection import SQLiteConnection
from remem.stores.sqlite.dialect import SQLITE


class SQLiteMemories(SQLiteConnection, MemoryStore):
    # -- writes -------------------------------------------------------------
    def insert_episodes(self, episodes: Sequence[Episode]) -> None:
        self._write()
        self._db.executemany(
            sql.insert(SQLITE, "episodes", EPISODE_COLUMNS),
            [episode_row(e, iso) for e in episodes],
        )

    def insert_memories(self, rows: Sequence[tuple[MemoryRecord, np.ndarray | None]]) -> None:
        self._write()
        self._graph_serial += 1  # a new version may be of another kind (graph walks filter by it)
        statement = sql.insert(SQLITE, "memories", MEMORY_COLUMNS)
        for memory, vector in rows:
            try:
                rk = self._db.execute(statement, memory_row(memory, iso)).lastrowid
            except sqlite3.IntegrityError as exc:
                raise InvalidInput(
                    f"memory {memory.id} version {memory.version} already exists"
                ) from exc
            assert rk is not None
            self._db.executemany(
                "INSERT INTO memory_sources (rk, episode_id) VALUES (?, ?)",
                [(rk, source) for source in memory.provenance],
            )
            if vector is not None:
                vector = np.asarray(vector, dtype=np.float32)
                self._db.execute(
                    "INSERT INTO vectors (rk, vector) VALUES (?, ?)", (rk, vector.tobytes())
                )
            when = memory.valid_from.timestamp() if memory.valid_from else None
            self._pending_rows.append(
                (
                    (memory.scope.tenant, memory.scope.user_id),
                    rk,
                    vector,
                    when,
                    memory.metadata.get("directive") is True,
                )
            )

    def end_version(
        self, memory_id: str, version: int, status: str, at: datetime, tenant: str
    ) -> None:
        self._write()
        cursor = self._db.execute(
            sql.end_version(SQLITE), (status, iso(at), memory_id, version, tenant)
        )
        if cursor.rowcount != 1:
            raise StoreError(f"memory {memory_id} v{version} is not current; nothing was changed")

    def set_status(self, memory_id: str, version: int, status: str, tenant: str) -> None:
        self._write()
        self._db.execute(sql.set_status(SQLITE), (status, memory_id, version, tenant))

    def set_lifecycle(self, tenant: str, changes: Sequence[LifecycleChange]) -> int:
        """``status`` is set only on the rows where it changes: SQLite rewrites a row's entry
        in every index holding a column the ``SET`` names, changed or not, and two indexes
        hold ``status`` (a recall of 10 rows wrote twice the WAL, docs/benchmarks.md)."""
        self._write()
        current = "WHERE id = ? AND version = ? AND tenant = ? AND expired_at IS NULL"
        cursor = self._db.executemany(
            "UPDATE memories SET layer = ?, stability = ?, pinned = ?, "
            "access_count = access_count + ?, last_accessed_at = COALESCE(?, last_accessed_at) "
            + current,
            [
                (
                    c.layer,
                    c.stability,
                    int(c.pinned),
                    int(c.recalled_at is not None),
                    iso(c.recalled_at),
                    c.id,
                    c.version,
                    tenant,
                )
                for c in changes
            ],
        )
        self._db.executemany(
            f"UPDATE memories SET status = ? {current} AND status IS NOT ?",
            [(c.status, c.id, c.version, tenant, c.status) for c in changes],
        )
        return max(cursor.rowcount, 0)

    def next_seq(self, scope: Scope) -> int:
        row = self._db.execute(
            "SELECT MAX(seq) FROM episodes WHERE tenant = ? AND user_id IS ? AND agent_id IS ? "
            "AND session_id IS ?",
            (scope.tenant, scope.user_id, scope.agent_id, scope.session_id),
        ).fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def forget(self, memory_id: str, tenant: str) -> int:
        self._write()
        self._graph_serial += 1  # its links go with it
        rks = [
            r[0]
            for r in self._db.execute(
                "SELECT rk FROM memories WHERE id = ? AND tenant = ?", (memory_id, tenant)
            )
        ]
        if not rks:
            return 0
        marks = ",".join("?" * len(rks))
        sources = [
            r[0]
            for r in self._db.execute(
                f"SELECT DISTINCT episode_id FROM memory_sources WHERE rk IN ({marks})", rks
            )
        ]
        self._db.execute(f"DELETE FROM memories WHERE rk IN ({marks})", rks)
        self._db.execute(
            "DELETE FROM events WHERE memory_id = ? AND tenant = ?", (memory_id, tenant)
        )
        linked = [
            r[0]
            for r in self._db.execute(
                "DELETE FROM entity_links WHERE tenant = ? AND memory_id = ? RETURNING entity_id",
                (tenant, memory_id),
            ).fetchall()
        ]
        for entity_id in linked:  # an entity nothing mentions any more goes too (its name is data)
            if not self._db.execute(
                "SELECT 1 FROM entity_links WHERE tenant = ? AND entity_id = ? LIMIT 1",
                (tenant, entity_id),
            ).fetchone():
                self._db.execute("DELETE FROM entities WHERE id = ?", (entity_id,))
        for episode_id in sources:
            still_cited = self._db.execute(
                "SELECT 1 FROM memory_sources WHERE episode_id = ? LIMIT 1", (episode_id,)
            ).fetchone()
            if not still_cited:
                self._db.execute("DELETE FROM episodes WHERE id = ?", (episode_id,))
        self._pending_removals.extend(rks)
        return len(rks)

    # -- reads --------------------------------------------------------------
    def _memories(self, statement: str, params: Sequence[Any]) -> list[MemoryRecord]:
        with self._lock:
            return [memory_from_row(r, from_iso) for r in self._db.execute(statement, params)]

    def get_memory(
        self,
        memory_id: str,
        tenant: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> MemoryRecord | None:
        rows = self._memories(*sql.get_memory(SQLITE, memory_id, tenant, version, as_of))
        return rows[0] if rows else None

    def versions(self, memory_id: str, tenant: str) -> list[MemoryRecord]:
        return self._memories(sql.versions(SQLITE), (tenant, memory_id))

    def list_memories(self, flt: MemoryFilter, *, limit: int, offset: int) -> list[MemoryRecord]:
        return self._memories(*sql.list_memories(SQLITE, flt, limit, offset))

    def count_memories(self, flt: MemoryFilter) -> int:
        with self._lock:
            return int(self._db.execute(*sql.count_memories(SQLITE, flt)).fetchone()[0])

    def get_episodes(self, ids: Sequence[str], tenant: str) -> list[Episode]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM episodes WHERE id IN ({marks}) AND +tenant = ?", [*ids, tenant]
            ).fetchall()
        found = {r["id"]: episode_from_row(r, from_iso) for r in rows}
        return [found[i] for i in ids if i in found]

    def neighbours(self, episode: Episode, window: int) -> list[Episode]:
        s = episode.scope
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM episodes WHERE tenant = ? AND user_id IS ? AND agent_id IS ? "
                "AND session_id IS ? AND seq BETWEEN ? AND ? ORDER BY seq",
                (
                    s.tenant,
                    s.user_id,
                    s.agent_id,
                    s.session_id,
                    episode.seq - window,
                    episode.seq + window,
                ),
            ).fetchall()
        return [episode_from_row(r, from_iso) for r in rows]
