"""Re-embedding in PostgreSQL: new vectors wait in ``vectors_next`` (a ``vector`` column of
any dimension) and ``entities.vector_next``, then replace the ``embedding`` column in one
transaction.

The switch takes the tables from writers first (readers go on), catches up with rows
written since their page was staged, then swaps the column and binds the store before
the commit: readers wait for the swap (seconds at 100k rows), then see only the new
vectors. The new HNSW index is built after the commit, concurrently; search is exact
until it is ready. Servers still running the old embedder must be restarted with the
new one (a bound dimension is cached per process).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import psycopg

from remem.errors import InvalidInput, StoreError
from remem.stores.operations import ReembedStore
from remem.stores.postgres import hnsw
from remem.stores.postgres.connection import HNSW_MAX_DIMENSION, PostgresConnection, redact
from remem.stores.records import Reembedding, Unembedded

_TARGET = ("reembed_embedder", "reembed_dimension")
#: Rows embedded per call when the switch catches up with rows written meanwhile.
_CATCH_UP = 256


class PostgresReembed(PostgresConnection, ReembedStore):
    def reembedding(self) -> Reembedding:
        with self._conn() as conn:
            meta = self._meta(conn)
            vectors = (
                "SELECT count(*) FROM memories WHERE embedding IS NOT NULL"
                if "dimension" in meta
                else "SELECT 0"
            )
            row = conn.execute(
                "SELECT (SELECT count(*) FROM vectors_next) + (SELECT count(*) FROM entities "
                "WHERE vector IS NOT NULL AND vector_next IS NOT NULL) AS staged, "
                f"({vectors}) + (SELECT count(*) FROM entities WHERE vector IS NOT NULL) AS total"
            ).fetchone()
        assert row is not None
        return Reembedding(
            current=_space(meta, "embedder", "dimension"),
            target=_space(meta, *_TARGET),
            staged=int(row["staged"]),
            total=int(row["total"]),
        )

    def begin_reembed(self, model_id: str, dimension: int) -> None:
        with self.transaction(), self._conn() as conn:
            self._advisory(conn, "remem.reembed")
            if _space(self._meta(conn), *_TARGET) == (model_id, dimension):
                return
            conn.execute("DELETE FROM vectors_next")
            conn.execute("UPDATE entities SET vector_next = NULL WHERE vector_next IS NOT NULL")
            conn.cursor().executemany(
                "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(zip(_TARGET, (model_id, str(dimension)), strict=True)),
            )

    def unstaged(self, limit: int, after: Unembedded | None = None) -> list[Unembedded]:
        found: list[Unembedded] = []
        with self._conn() as conn:
            if (after is None or after.table == "memories") and "dimension" in self._meta(conn):
                past = "AND (m.tenant, m.rk) > (%s, %s) " if after else ""
                rows = conn.execute(
                    "SELECT m.tenant, m.rk, m.text FROM memories m WHERE m.embedding IS NOT NULL "
                    + past
                    + "AND NOT EXISTS (SELECT 1 FROM vectors_next n "
                    "WHERE n.tenant = m.tenant AND n.rk = m.rk) ORDER BY m.tenant, m.rk LIMIT %s",
                    [*(after.key if after else ()), limit],
                ).fetchall()
                found = [Unembedded("memories", (r["tenant"], r["rk"]), r["text"]) for r in rows]
            if len(found) < limit:
                past = "AND (tenant, id) > (%s, %s) " if after and after.table == "entities" else ""
                rows = conn.execute(
                    "SELECT tenant, id, name FROM entities WHERE vector IS NOT NULL "
                    "AND vector_next IS NULL " + past + "ORDER BY tenant, id LIMIT %s",
                    [*(after.key if past and after else ()), limit - len(found)],
                ).fetchall()
                found += [Unembedded("entities", (r["tenant"], r["id"]), r["name"]) for r in rows]
        return found

    def stage_vectors(self, rows: Sequence[tuple[Unembedded, np.ndarray]]) -> None:
        conn = self._write()
        dimension = self._target(conn)[1]
        memories, entities = [], []
        for row, vector in rows:
            values = np.asarray(vector, dtype=np.float32)
            if values.shape != (dimension,):
                raise InvalidInput(f"a {values.shape} vector for a {dimension}-d re-embedding")
            if row.table == "memories":
                memories.append((*row.key, values))
            else:
                entities.append((values.astype("<f4").tobytes(), *row.key))
        with self._translate(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO vectors_next (tenant, rk, vector) VALUES (%s, %s, %s) "
                "ON CONFLICT (tenant, rk) DO UPDATE SET vector = excluded.vector",
                memories,
            )
            cur.executemany(
                "UPDATE entities SET vector_next = %s WHERE tenant = %s AND id = %s", entities
            )

    def switch_embedder(self, embed: Callable[[Sequence[str]], np.ndarray]) -> int:
        embedded = 0
        with self.transaction(), self._conn() as conn:
            self._advisory(conn, "remem.reembed")
            # Writers wait from here on, so no row can slip in between the catch-up and the swap.
            conn.execute("LOCK TABLE memories, entities IN SHARE ROW EXCLUSIVE MODE")
            model_id, dimension = self._target(conn)
            while batch := self.unstaged(_CATCH_UP):
                self.stage_vectors(list(zip(batch, embed([r.text for r in batch]), strict=True)))
                embedded += len(batch)
            conn.execute("ALTER TABLE memories DROP COLUMN IF EXISTS embedding")
            conn.execute(f"ALTER TABLE memories ADD COLUMN embedding vector({int(dimension)})")
            conn.execute(
                "UPDATE memories m SET embedding = n.vector FROM vectors_next n "
                "WHERE n.tenant = m.tenant AND n.rk = m.rk"
            )
            conn.execute("TRUNCATE vectors_next")
            conn.execute(
                "UPDATE entities SET vector = vector_next, vector_next = NULL "
                "WHERE vector IS NOT NULL"
            )
            conn.cursor().executemany(
                "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [("embedder", model_id), ("dimension", str(dimension))],
            )
            conn.execute("DELETE FROM meta WHERE key = ANY(%s)", (list(_TARGET),))
        self._bound_dimension = dimension
        if dimension <= HNSW_MAX_DIMENSION:
            self._index_vectors()
        return embedded

    def _index_vectors(self) -> None:
        """The new column's HNSW index, built while reads and writes go on (search is exact
        until it is ready): building it inside the switch would hold readers for minutes at
        100k rows."""
        with self._translate(), self._pool.connection() as conn:
            hnsw.build_concurrently(conn)

    def _target(self, conn: psycopg.Connection[Any]) -> tuple[str, int]:
        target = _space(self._meta(conn), *_TARGET)
        if target is None:
            raise StoreError(
                f"{redact(self.url)}: no re-embedding in progress (begin_reembed first)"
            )
        return target


def _space(meta: dict[str, str], model: str, dimension: str) -> tuple[str, int] | None:
    return (meta[model], int(meta[dimension])) if model in meta and dimension in meta else None
