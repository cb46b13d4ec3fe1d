"""Every record out of PostgreSQL from one snapshot (``dump``), and back in verbatim (``load``).

A dump streams through server-side cursors inside one REPEATABLE READ transaction, so a
big store is never held in memory and writers go on meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import psycopg

from remem.errors import InvalidInput
from remem.stores import statements as sql
from remem.stores.base import Store
from remem.stores.operations import PortableStore
from remem.stores.postgres import hnsw
from remem.stores.postgres.connection import HNSW_MAX_DIMENSION, PostgresConnection
from remem.stores.records import Dumped
from remem.stores.rows import (
    ENTITY_COLUMNS,
    EPISODE_COLUMNS,
    EVENT_COLUMNS,
    JOB_COLUMNS,
    entity_from_row,
    episode_from_row,
    event_from_row,
    job_from_row,
    link_from_row,
    memory_from_row,
)


class _Loading(Store, Protocol):
    """What ``load`` writes through: every concern of the store, after its own check."""

    bulk_rows: int

    def _taken(self, dumped: Dumped) -> list[str]: ...

    def _refuse_taken(self, dumped: Dumped) -> None: ...

    def _bulk(self, dumped: Dumped) -> bool: ...

    def _hnsw(self, change: Callable[[psycopg.Connection[Any]], None]) -> None: ...


#: The smallest load that builds the HNSW index after its rows instead of updating it per
#: row. Below it, a rebuild of what the table holds would cost more than it saves.
BULK_ROWS = 10_000

#: Rows fetched per round trip of a dump: what it holds in memory at once (a memory row
#: with a 384-d vector is a few kB).
DUMP_BATCH = 100


class PostgresPortability(PostgresConnection, PortableStore):
    #: Vectors a load must bring, at least, to build the HNSW index after it (see ``load``).
    bulk_rows = BULK_ROWS

    def dump(self, tenant: str | None = None) -> Iterator[tuple[str, Any]]:
        """One consistent snapshot (REPEATABLE READ), streamed through server-side cursors."""
        clause, params = ("WHERE tenant = %s", [tenant]) if tenant else ("", [])
        held = getattr(self._local, "conn", None)
        if held is not None:
            yield from self._dump(held, clause, params)
            return
        with self._translate(), self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield from self._dump(conn, clause, params)

    def _dump(
        self, conn: psycopg.Connection[Any], clause: str, params: list[Any]
    ) -> Iterator[tuple[str, Any]]:
        with self._translate():
            has_vectors = self._dimension(conn) is not None
            vector = "m.embedding" if has_vectors else "NULL::bytea"
            queries = (
                (
                    "episode",
                    f"SELECT {', '.join(EPISODE_COLUMNS)} FROM episodes {clause} ORDER BY rk",
                ),
                (
                    "memory",
                    f"SELECT {sql.MEMORY_SELECT}, {vector} AS vector FROM memories m "
                    f"{clause.replace('tenant', 'm.tenant')} ORDER BY m.rk",
                ),
                (
                    "event",
                    f"SELECT seq, {', '.join(EVENT_COLUMNS)} FROM events {clause} ORDER BY seq",
                ),
                (
                    "entity",
                    f"SELECT {', '.join(f'e.{c}' for c in ENTITY_COLUMNS)}, e.vector, "
                    "ARRAY(SELECT a.alias FROM entity_aliases a "
                    "WHERE a.tenant = e.tenant AND a.entity_id = e.id) AS keys "
                    f"FROM entities e {clause.replace('tenant', 'e.tenant')} "
                    'ORDER BY e.created_at, e.id COLLATE "C"',
                ),
                (
                    "entity_link",
                    f"SELECT tenant, memory_id, entity_id FROM entity_links {clause} ORDER BY lk",
                ),
                (
                    "extraction_job",
                    f"SELECT {', '.join(JOB_COLUMNS)} FROM extraction_jobs {clause} "
                    'ORDER BY created_at, id COLLATE "C"',
                ),
            )
            for kind, statement in queries:
                with conn.cursor(name=f"remem_dump_{kind}", binary=True) as cur:
                    cur.itersize = DUMP_BATCH
                    cur.execute(statement, params)
                    for row in cur:
                        yield kind, _dumped(kind, row)

    def backup(self, destination: Path) -> dict[str, Any]:
        raise InvalidInput(
            "a PostgreSQL store is backed up by the server's own tools: "
            f"pg_dump --format=custom --file={destination} (docs/postgres.md, Backup)"
        )

    def load(self: _Loading, items: Sequence[tuple[str, Any]]) -> None:
        """All or nothing, in one transaction. A bulk load (``_bulk``) drops the HNSW index
        first and builds it once after, concurrently: inserting into the graph row by row
        costs about 6x more than one build of the same rows (docs/benchmarks.md).

        Concurrently, not inside the load's transaction, because a plain ``DROP INDEX``
        locks the whole table to the commit: every tenant's searches would wait minutes
        for one tenant's import. Meanwhile searches run as exact scans (correct, slower).
        Whatever can refuse the load without writing (bad records, ids already stored) is
        checked before the index is touched; when the load fails later, the index is built
        again before the error is raised, so a failed import leaves the index as it was.
        """
        dumped = Dumped.of(items)
        if not self._bulk(dumped):
            _insert(self, dumped)
            return
        self._refuse_taken(dumped)
        self._hnsw(hnsw.drop_concurrently)
        try:
            _insert(self, dumped)
        finally:
            self._hnsw(hnsw.build_concurrently)

    def _bulk(self, dumped: Dumped) -> bool:
        """Worth building the index after: at least ``bulk_rows`` vectors, and at least as
        many as the table holds already (a rebuild reads those too), into an indexed column,
        from a caller holding no transaction (concurrent index builds cannot run in one)."""
        loaded = sum(vector is not None for _, vector in dumped.memories)
        if loaded < self.bulk_rows or self._in_transaction():
            return False
        with self._conn() as conn:
            dimension = self._dimension(conn)
            if dimension is None or dimension > HNSW_MAX_DIMENSION:
                return False
            row = conn.execute(
                "SELECT count(*) AS n FROM (SELECT 1 FROM memories LIMIT %s) held", (loaded + 1,)
            ).fetchone()
        return row is not None and int(row["n"]) <= loaded

    def _hnsw(self, change: Callable[[psycopg.Connection[Any]], None]) -> None:
        with self._translate(), self._pool.connection() as conn:
            change(conn)

    def _refuse_taken(self, dumped: Dumped) -> None:
        taken = self._taken(dumped)
        if taken:
            raise InvalidInput(
                f"import collides with {len(taken)} record(s) already stored "
                f"(e.g. {', '.join(taken[:3])}); import into a fresh store or another tenant"
            )

    def _taken(self, dumped: Dumped) -> list[str]:
        """Ids of ``dumped`` the database holds already, in the same tenant."""
        with self._conn() as conn:
            return (
                _existing(conn, "episodes", [(e.scope.tenant, e.id) for e in dumped.episodes])
                + _existing(conn, "memories", [(m.scope.tenant, m.id) for m, _ in dumped.memories])
                + _existing(
                    conn, "entities", [(e.scope.tenant, e.id) for e, _, _ in dumped.entities]
                )
                + _existing(conn, "extraction_jobs", [(j.scope.tenant, j.id) for j in dumped.jobs])
            )


def _insert(store: _Loading, dumped: Dumped) -> None:
    with store.transaction():
        store._refuse_taken(dumped)
        dumped.insert_into(store)


def _existing(
    conn: psycopg.Connection[Any], table: str, keys: Sequence[tuple[str, str]]
) -> list[str]:
    if not keys:
        return []
    unique = list(dict.fromkeys(keys))
    rows = conn.execute(
        f"SELECT DISTINCT t.id FROM {table} t "
        "JOIN unnest(%s::text[], %s::text[]) AS k(tenant, id) "
        "ON t.tenant = k.tenant AND t.id = k.id",
        ([t for t, _ in unique], [i for _, i in unique]),
    )
    return [r["id"] for r in rows]


def _dumped(kind: str, row: dict[str, Any]) -> Any:
    """One dumped record from its row (``Store.dump`` names the shapes)."""
    if kind == "episode":
        return episode_from_row(row)
    if kind == "memory":
        return memory_from_row(row), row["vector"]
    if kind == "event":
        return event_from_row(row)
    if kind == "entity":
        vector = None if row["vector"] is None else np.frombuffer(row["vector"], "<f4").copy()
        return entity_from_row(row), vector, sorted(row["keys"])
    if kind == "entity_link":
        return link_from_row(row["tenant"], row["memory_id"], row["entity_id"])
    return job_from_row(row)
