"""The HNSW index on ``memories.embedding``: its one definition, and dropping and building it
while readers and writers go on.

Without the index, vector search is an exact scan of the rows passing the filter: slower,
never wrong. So the index can be absent for a while, as it is after ``remem reembed``
switches columns and during a bulk ``load``, and be built then with ``CREATE INDEX
CONCURRENTLY``, which blocks no reader and no writer of any tenant. Builds and drops take
a session advisory lock per schema: two builders would otherwise see each other's
half-built (invalid) index and drop it, and that drop would queue every reader behind it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

NAME = "memories_embedding"
#: pgvector's defaults (m = 16, ef_construction = 64), cosine as search ranks by.
DEFINITION = f"{NAME} ON memories USING hnsw (embedding vector_cosine_ops)"
#: Memory for a build, at least: the default (64 MB) makes a large graph spill to disk and
#: the build several times slower (pgvector holds the graph in memory up to this size). A
#: larger ``maintenance_work_mem`` of the role, database or URL is kept (a 1M-row graph
#: of 384-d vectors needs about 4GB).
BUILD_MEMORY = "512MB"
_AT_LEAST = (
    "SELECT set_config('maintenance_work_mem', CASE WHEN "
    "pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes(%(least)s) "
    "THEN %(least)s ELSE current_setting('maintenance_work_mem') END, false)"
)

_LOCK = "SELECT pg_advisory_{}(hashtextextended('remem.hnsw.' || current_schema(), 0))"
_DROP_INVALID = (
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c "
    f"ON c.oid = i.indexrelid WHERE c.relname = '{NAME}' "
    "AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid) "
    f"THEN DROP INDEX {NAME}; END IF; END $$"
)


def create(conn: psycopg.Connection[Any]) -> None:
    """The index, inside the caller's transaction (the first ``bind_embedder``: no rows yet)."""
    conn.execute(f"CREATE INDEX IF NOT EXISTS {DEFINITION}")


def drop_concurrently(conn: psycopg.Connection[Any]) -> None:
    """Drop it without locking out searches (``conn`` in autocommit, outside any transaction)."""
    with _locked(conn):
        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")


def build_concurrently(conn: psycopg.Connection[Any]) -> None:
    """Build it while reads and writes go on (``conn`` in autocommit). A build cut short
    leaves an invalid index behind: it is dropped here and built again."""
    with _locked(conn):
        conn.execute(_AT_LEAST, {"least": BUILD_MEMORY})
        try:
            conn.execute(_DROP_INVALID)
            conn.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {DEFINITION}")
        finally:
            conn.execute("RESET maintenance_work_mem")


@contextmanager
def _locked(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """The schema's HNSW lock for the block: a session-level lock, released explicitly
    because pooled connections outlive the block."""
    conn.execute(_LOCK.format("lock"))
    try:
        yield
    finally:
        conn.execute(_LOCK.format("unlock"))
