"""Memories and episodes in PostgreSQL: each memory row holds its vector and its tsvector.

``memories`` holds every version with its vector (``embedding``, added by the first
``bind_embedder`` because the dimension is unknown before), ``tsv``, a generated
``tsvector``, and ``ntokens``, its length for BM25. Every primary key and unique
constraint starts with ``tenant``, so the tables can be distributed by tenant (Citus).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from remem.errors import InvalidInput, StoreError
from remem.model import Episode, MemoryRecord, Scope
from remem.stores import statements as sql
from remem.stores.operations import MemoryStore
from remem.stores.postgres.connection import PostgresConnection, lock_key
from remem.stores.postgres.dialect import POSTGRES
from remem.stores.records import LifecycleChange, MemoryFilter
from remem.stores.rows import (
    EPISODE_COLUMNS,
    MEMORY_COLUMNS,
    episode_from_row,
    episode_row,
    memory_from_row,
    memory_row,
)


def same_scope(scope: Scope, prefix: str = "") -> tuple[str, list[Any]]:
    """Exact scope match (NULL matches NULL) written so btree indexes still apply."""
    clauses = [f"{prefix}tenant = %s"]
    params: list[Any] = [scope.tenant]
    for column in ("user_id", "agent_id", "session_id"):
        value = getattr(scope, column)
        if value is None:
            clauses.append(f"{prefix}{column} IS NULL")
        else:
            clauses.append(f"{prefix}{column} = %s")
            params.append(value)
    return " AND ".join(clauses), params


class PostgresMemories(PostgresConnection, MemoryStore):
    def insert_episodes(self, episodes: Sequence[Episode]) -> None:
        conn = self._write()
        if not episodes:
            return
        with self._translate(), conn.cursor() as cur:
            cur.executemany(
                sql.insert(POSTGRES, "episodes", EPISODE_COLUMNS)
                + " ON CONFLICT (tenant, id) DO NOTHING RETURNING id",
                [episode_row(e) for e in episodes],
                returning=True,
            )
            written: set[str] = set()
            while True:
                written.update(r["id"] for r in cur.fetchall())
                if not cur.nextset():
                    break
        missing = [e.id for e in episodes if e.id not in written]
        if missing or len(written) != len(episodes):
            raise InvalidInput(f"episode {(missing or [episodes[0].id])[0]} already exists")

    def insert_memories(self, rows: Sequence[tuple[MemoryRecord, np.ndarray | None]]) -> None:
        conn = self._write()
        if not rows:
            return
        with self._translate():
            vectors = any(v is not None for _, v in rows)
            dimension = self._dimension(conn) if vectors else None
            if vectors and dimension is None:
                raise StoreError("vectors need an embedding space: call bind_embedder() first")
            columns = [*MEMORY_COLUMNS, "embedding"] if dimension else list(MEMORY_COLUMNS)
            statement = (
                f"WITH ins AS ({sql.insert(POSTGRES, 'memories', columns)} "
                "ON CONFLICT (tenant, id, version) DO NOTHING RETURNING tenant, rk), "
                "src AS (INSERT INTO memory_sources (tenant, rk, episode_id) "
                "SELECT ins.tenant, ins.rk, s FROM ins, unnest(%s::text[]) AS s) "
                "SELECT rk FROM ins"
            )
            params = []
            for memory, vector in rows:
                values = list(memory_row(memory))
                if dimension:
                    values.append(None if vector is None else np.asarray(vector, dtype=np.float32))
                params.append((*values, list(memory.provenance)))
            with conn.cursor() as cur:
                cur.executemany(statement, params, returning=True)
                for memory, _ in rows:
                    if cur.fetchone() is None:
                        raise InvalidInput(
                            f"memory {memory.id} version {memory.version} already exists"
                        )
                    cur.nextset()

    def end_version(
        self, memory_id: str, version: int, status: str, at: datetime, tenant: str | None = None
    ) -> None:
        conn = self._write()
        tenants = self._tenants_of(memory_id, tenant)
        with self._translate():
            cursor = conn.execute(
                sql.end_version(POSTGRES, bool(tenants)), (status, at, memory_id, version, *tenants)
            )
        if cursor.rowcount != 1:
            raise StoreError(f"memory {memory_id} v{version} is not current; nothing was changed")

    def set_status(
        self, memory_id: str, version: int, status: str, tenant: str | None = None
    ) -> None:
        conn = self._write()
        tenants = self._tenants_of(memory_id, tenant)
        with self._translate():
            conn.execute(
                sql.set_status(POSTGRES, bool(tenants)), (status, memory_id, version, *tenants)
            )

    def set_lifecycle(self, tenant: str, changes: Sequence[LifecycleChange]) -> int:
        """One statement; rows are locked in ``rk`` order so concurrent batches cannot deadlock."""
        conn = self._write()
        if not changes:
            return 0
        columns = list(
            zip(
                *(
                    (c.id, c.version, c.layer, c.stability, c.pinned, c.status, c.recalled_at)
                    for c in changes
                ),
                strict=True,
            )
        )
        with self._translate():
            cursor = conn.execute(
                "WITH c AS (SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], "
                "%s::float8[], %s::bool[], %s::text[], %s::timestamptz[]) "
                "AS c(id, version, layer, stability, pinned, status, recalled_at)), "
                "locked AS (SELECT m.rk, c.* FROM memories m JOIN c "
                "ON m.id = c.id AND m.version = c.version "
                "WHERE m.tenant = %s AND m.expired_at IS NULL ORDER BY m.rk FOR UPDATE OF m) "
                "UPDATE memories m SET layer = l.layer, stability = l.stability, "
                "pinned = l.pinned, status = l.status, "
                "access_count = m.access_count + (l.recalled_at IS NOT NULL)::int, "
                "last_accessed_at = COALESCE(l.recalled_at, m.last_accessed_at) "
                "FROM locked l WHERE m.tenant = %s AND m.rk = l.rk",
                [*(list(col) for col in columns), tenant, tenant],
            )
        return cursor.rowcount

    def next_seq(self, scope: Scope) -> int:
        where, params = same_scope(scope)
        with self._conn() as conn:
            # Two servers adding to one session must not both take the same position.
            self._advisory(
                conn,
                lock_key("session", scope.tenant, scope.user_id, scope.agent_id, scope.session_id),
            )
            row = conn.execute(f"SELECT MAX(seq) AS seq FROM episodes WHERE {where}", params)
            found = row.fetchone()
        return 0 if found is None or found["seq"] is None else int(found["seq"]) + 1

    def forget(self, memory_id: str, tenant: str) -> int:
        conn = self._write()
        with self._translate():
            rks = [
                r["rk"]
                for r in conn.execute(
                    "SELECT rk FROM memories WHERE tenant = %s AND id = %s", (tenant, memory_id)
                )
            ]
            if not rks:
                return 0
            sources = [
                r["episode_id"]
                for r in conn.execute(
                    "SELECT DISTINCT episode_id FROM memory_sources "
                    "WHERE tenant = %s AND rk = ANY(%s)",
                    (tenant, rks),
                )
            ]
            # memory_sources rows go with their memories (ON DELETE CASCADE); the vector and
            # the tsvector live in the memories row itself.
            conn.execute("DELETE FROM memories WHERE tenant = %s AND rk = ANY(%s)", (tenant, rks))
            conn.execute(
                "DELETE FROM events WHERE tenant = %s AND memory_id = %s", (tenant, memory_id)
            )
            # An entity nothing mentions any more goes too: its name is the user's data.
            conn.execute(
                "WITH gone AS (DELETE FROM entity_links WHERE tenant = %s AND memory_id = %s "
                "RETURNING entity_id) "
                "DELETE FROM entities e WHERE e.tenant = %s AND e.id IN (SELECT entity_id FROM gone) "
                "AND NOT EXISTS (SELECT 1 FROM entity_links l WHERE l.tenant = e.tenant "
                "AND l.entity_id = e.id AND l.memory_id <> %s)",
                (tenant, memory_id, tenant, memory_id),
            )
            if sources:
                conn.execute(
                    "DELETE FROM episodes e WHERE e.tenant = %s AND e.id = ANY(%s) "
                    "AND NOT EXISTS (SELECT 1 FROM memory_sources s "
                    "WHERE s.tenant = e.tenant AND s.episode_id = e.id)",
                    (tenant, sources),
                )
        return len(rks)

    # -- reads --------------------------------------------------------------
    def _memories(self, statement: str, params: Sequence[Any]) -> list[MemoryRecord]:
        with self._conn() as conn:
            return [memory_from_row(r) for r in conn.execute(statement, params)]

    def get_memory(
        self,
        memory_id: str,
        tenant: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> MemoryRecord | None:
        statement, params = sql.get_memory(POSTGRES, memory_id, tenant, version, as_of)
        with self._conn() as conn:
            # Inside a write transaction the caller is about to change this memory: wait for any
            # other writer of it to commit first, then read (READ COMMITTED sees its result).
            self._advisory(conn, lock_key("memory", tenant, memory_id))
            self._remember_tenant(memory_id, tenant)
            row = conn.execute(statement, params).fetchone()
        return memory_from_row(row) if row else None

    def versions(self, memory_id: str, tenant: str) -> list[MemoryRecord]:
        with self._conn() as conn:
            self._advisory(conn, lock_key("memory", tenant, memory_id))
            self._remember_tenant(memory_id, tenant)
            rows = conn.execute(sql.versions(POSTGRES), (tenant, memory_id)).fetchall()
        return [memory_from_row(r) for r in rows]

    def list_memories(self, flt: MemoryFilter, *, limit: int, offset: int) -> list[MemoryRecord]:
        return self._memories(*sql.list_memories(POSTGRES, flt, limit, offset))

    def count_memories(self, flt: MemoryFilter) -> int:
        with self._conn() as conn:
            row = conn.execute(*sql.count_memories(POSTGRES, flt)).fetchone()
        return int(row["n"]) if row else 0

    def get_episodes(self, ids: Sequence[str], tenant: str) -> list[Episode]:
        if not ids:
            return []
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(EPISODE_COLUMNS)} FROM episodes "
                "WHERE tenant = %s AND id = ANY(%s)",
                (tenant, list(ids)),
            ).fetchall()
        found = {r["id"]: episode_from_row(r) for r in rows}
        return [found[i] for i in ids if i in found]

    def neighbours(self, episode: Episode, window: int) -> list[Episode]:
        where, params = same_scope(episode.scope)
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(EPISODE_COLUMNS)} FROM episodes WHERE {where} "
                "AND seq BETWEEN %s AND %s ORDER BY seq",
                [*params, episode.seq - window, episode.seq + window],
            ).fetchall()
        return [episode_from_row(r) for r in rows]
