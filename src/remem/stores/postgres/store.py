"""The server backend: PostgreSQL with pgvector (HNSW) and a generated tsvector column (GIN).

Same contract and same semantics as ``SQLiteStore``; every query filters by tenant.
``PostgresStore`` is its concerns put together, one module each: ``memories.py``
(memories and episodes), ``events.py``, ``graph.py``, ``jobs.py`` (the extraction
queue), ``search.py``, ``portability.py`` (dump/load), ``idempotency.py`` (answers
kept per request key) and ``reembed.py``, all on the pool and transactions of
``connection.py``; the schema comes from ``stores/migrations.py``
(``schema.py`` applies it, under an advisory lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.rows import tuple_row

from remem.model import Scope
from remem.stores import statements as sql
from remem.stores.postgres.citus import is_distributed
from remem.stores.postgres.connection import redact
from remem.stores.postgres.dialect import POSTGRES
from remem.stores.postgres.events import PostgresEvents
from remem.stores.postgres.graph import PostgresGraph
from remem.stores.postgres.idempotency import PostgresIdempotency
from remem.stores.postgres.jobs import PostgresJobs
from remem.stores.postgres.memories import PostgresMemories
from remem.stores.postgres.portability import PostgresPortability
from remem.stores.postgres.reembed import PostgresReembed
from remem.stores.postgres.search import PostgresSearch

#: The tables whose size ``stats`` reports.
TABLES = (
    "meta",
    "episodes",
    "memories",
    "memory_sources",
    "events",
    "schema_migrations",
    "entities",
    "entity_aliases",
    "entity_links",
    "extraction_jobs",
    "idempotency_keys",
    "vectors_next",
)


class PostgresStore(
    PostgresMemories,
    PostgresEvents,
    PostgresGraph,
    PostgresJobs,
    PostgresSearch,
    PostgresPortability,
    PostgresIdempotency,
    PostgresReembed,
):
    """``PostgresStore("postgresql://user@host/db")``; see docs/postgres.md."""

    def stats(self, scope: Scope) -> dict[str, Any]:
        with self._conn() as conn, conn.cursor(row_factory=tuple_row) as cur:

            def rows(statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
                return cur.execute(statement, params).fetchall()

            counts = sql.counts(POSTGRES, rows, scope)
            # On Citus the coordinator's tables are empty shells: count their shards instead.
            size_of = (
                "citus_total_relation_size" if is_distributed(cur) else "pg_total_relation_size"
            )
            [(size,)] = rows(
                f"SELECT COALESCE(SUM({size_of}(c.oid)), 0) "
                "FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
                "AND c.relname = ANY(%s) AND c.relkind = 'r'",
                (list(TABLES),),
            )
            meta = self._meta(conn)
        return {
            "backend": "postgres",
            "url": redact(self.url),
            "bytes": int(size),
            "embedder": meta.get("embedder"),
            "dimension": int(meta["dimension"]) if "dimension" in meta else None,
            **counts,
        }
