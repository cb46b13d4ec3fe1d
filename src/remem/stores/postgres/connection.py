"""A pool of PostgreSQL connections, one per thread's transaction, and the embedding space.

What every concern module of the PostgreSQL store builds on. Several API servers may
share one database: nothing is cached in process that another server could make stale
(see docs/postgres.md), and the few read-then-write sequences the engine runs inside
``transaction()`` are serialised with transaction-scoped advisory locks (``_advisory``),
as SQLite's single writer serialises them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from remem.errors import InvalidInput, StoreError
from remem.stores.postgres import hnsw
from remem.stores.postgres.schema import SCHEMA_LOCK, migrate
from remem.stores.postgres.vectors import register_vector

#: HNSW candidate list per query: recall@10 0.990 at 1M rows in one user, where 100 gave 0.974
#: (docs/benchmarks.md). Iterative scans go past it when filters bite.
EF_SEARCH = 200
HNSW_MAX_DIMENSION = 2000  # pgvector cannot index wider `vector` columns: those search exactly
DEFAULT_POOL_MAX = 10


def redact(url: str) -> str:
    """The URL with its password replaced, for messages and stats."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def lock_key(*parts: str | None) -> str:
    """The name of an advisory lock on one thing (a session, a memory) of one tenant."""
    return "remem\x1f" + "\x1f".join(p or "" for p in parts)


class PostgresConnection:
    def __init__(
        self,
        url: str,
        *,
        pool_min: int = 1,
        pool_max: int | None = None,
        pool_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self._local = threading.local()
        # The only in-process state read from the database: the embedding dimension, cached once
        # bound, because a bound dimension never changes (bind_embedder refuses a different one).
        self._bound_dimension: int | None = None
        self._vector_oid, self._iterative = self._migrate()
        size = pool_max or int(os.environ.get("REMEM_PG_POOL_MAX", DEFAULT_POOL_MAX))
        self._pool = ConnectionPool(
            url,
            min_size=min(pool_min, size),
            max_size=size,
            timeout=pool_timeout,
            kwargs={"autocommit": True, "row_factory": dict_row},
            configure=self._configure,
            check=ConnectionPool.check_connection,
            name="remem",
            open=True,
        )
        # Fill the pool before returning: its workers draw from the global ``random`` module
        # (reconnection jitter), so a fill still running in the background would touch the
        # caller's random state at some later, unrelated moment.
        try:
            self._pool.wait(timeout=pool_timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreError(
                f"cannot open connections to PostgreSQL at {redact(self.url)} "
                f"within {pool_timeout} s"
            ) from exc

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {redact(self.url)}: {exc}") from exc

    def _migrate(self) -> tuple[int, bool]:
        with self._connect() as conn, self._translate():
            return migrate(conn, redact(self.url))

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """Every pooled connection: UTC times, binary numpy vectors, HNSW search settings."""
        register_vector(conn, self._vector_oid)
        settings = ["SET TIME ZONE 'UTC'", f"SET hnsw.ef_search = {EF_SEARCH}"]
        if self._iterative:
            # pgvector >= 0.8: keep walking the graph until enough rows pass the filter.
            settings.append("SET hnsw.iterative_scan = relaxed_order")
        conn.execute("; ".join(settings))

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """psycopg failures become typed remem errors with a plain message."""
        try:
            yield
        except (pg_errors.DataError, pg_errors.ProgramLimitExceeded) as exc:
            raise InvalidInput(f"PostgreSQL cannot store or use this value: {exc}") from exc
        except PoolTimeout as exc:
            raise StoreError(
                f"no free PostgreSQL connection within the pool timeout ({redact(self.url)}): "
                "raise REMEM_PG_POOL_MAX or the server's max_connections"
            ) from exc
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL error: {exc}") from exc

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """The thread's transaction connection, or a pooled one for a read outside a transaction."""
        held = getattr(self._local, "conn", None)
        if held is not None:
            with self._translate():
                yield held
            return
        with self._translate(), self._pool.connection() as conn:
            yield conn

    def _write(self) -> psycopg.Connection[Any]:
        held = getattr(self._local, "conn", None)
        if held is None:
            raise StoreError("store writes must run inside store.transaction()")
        return held

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One connection per thread for the outer transaction; nested calls join it."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._translate(), self._pool.connection() as conn, conn.transaction():
            self._local.conn = conn
            self._local.tenants = {}
            try:
                yield
            finally:
                self._local.conn = None
                self._local.tenants = {}

    def _in_transaction(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    def _advisory(self, conn: psycopg.Connection[Any], key: str) -> None:
        """A lock held to the end of the current transaction (no-op outside one)."""
        if self._in_transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))

    def _meta(self, conn: psycopg.Connection[Any]) -> dict[str, str]:
        return {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}

    def _dimension(self, conn: psycopg.Connection[Any]) -> int | None:
        if self._bound_dimension is not None:
            return self._bound_dimension
        row = conn.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
        dimension = int(row["value"]) if row else None
        if not self._in_transaction():  # committed, so it can never change again
            self._bound_dimension = dimension
        return dimension

    def _remember_tenant(self, memory_id: str, tenant: str) -> None:
        if self._in_transaction():
            self._local.tenants[memory_id] = tenant

    def _tenants_of(self, memory_id: str, tenant: str | None) -> list[str]:
        """The tenant a write by id stays inside: the one given, else the one the transaction
        read the memory from (``get_memory``/``versions``), as the engine always does first."""
        tenant = tenant or getattr(self._local, "tenants", {}).get(memory_id)
        return [tenant] if tenant else []

    def bind_embedder(self, model_id: str, dimension: int) -> None:
        with self.transaction(), self._conn() as conn:
            rows = self._meta(conn)
            if not rows:
                # First bind: take the schema lock and look again, another server may have won.
                conn.execute(SCHEMA_LOCK)
                rows = self._meta(conn)
            if not rows:
                conn.execute(
                    "INSERT INTO meta VALUES ('embedder', %s), ('dimension', %s)",
                    (model_id, str(dimension)),
                )
                conn.execute(
                    f"ALTER TABLE memories ADD COLUMN IF NOT EXISTS embedding vector({int(dimension)})"
                )
                if dimension <= HNSW_MAX_DIMENSION:
                    hnsw.create(conn)
            elif rows.get("embedder") != model_id or int(rows.get("dimension", 0)) != dimension:
                raise StoreError(
                    f"{redact(self.url)} holds vectors of embedder {rows.get('embedder')!r} "
                    f"({rows.get('dimension')}-d); it was opened with {model_id!r} ({dimension}-d). "
                    "Open it with the same embedder, or move it to this one: remem reembed."
                )

    def close(self) -> None:
        self._pool.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact(self.url)!r})"
