"""The server backend: PostgreSQL with pgvector (HNSW) and a generated tsvector column (GIN).

Same contract and same semantics as ``SQLiteStore``; every query filters by
tenant. Several API servers may share one database: the schema is migrated
under an advisory lock, nothing is cached in process that another server could
make stale (see docs/postgres.md), and the few read-then-write sequences the
engine runs inside ``transaction()`` are serialised with transaction-scoped
advisory locks, as SQLite's single writer serialises them.

Layout: ``memories`` holds every version with its vector (``embedding``,
added by the first ``bind_embedder`` because the dimension is unknown before),
``tsv``, a generated ``tsvector``, and ``ntokens``, its length for BM25. Every primary key and unique constraint
starts with ``tenant``, so the tables can be distributed by tenant (Citus).
"""

from __future__ import annotations

import math
import os
import struct
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from remem.errors import InvalidInput, StoreError
from remem.model import Entity, Episode, Event, ExtractionJob, MemoryRecord, Scope
from remem.stores.base import LINK_SCAN, Dumped, JobClaim, LifecycleChange, MemoryFilter
from remem.stores.postgres.dialect import metadata_equals
from remem.stores.postgres.schema import SCHEMA_LOCK, migrate
from remem.stores.rows import (
    ENTITY_COLUMNS,
    EPISODE_COLUMNS,
    EVENT_COLUMNS,
    JOB_COLUMNS,
    MEMORY_COLUMNS,
    entity_from_row,
    entity_row,
    episode_from_row,
    episode_row,
    event_from_row,
    event_row,
    job_from_row,
    job_row,
    link_from_row,
    memory_from_row,
    memory_row,
)

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
)

BM25_K1, BM25_B = 1.2, 0.75  # the constants of SQLite FTS5's bm25()
IDF_SAMPLE = 20_000  # rows of the tenant counted for IDF when ANALYZE has not run yet
EF_SEARCH = 100  # HNSW candidate list per query; iterative scans go past it when filters bite
HNSW_MAX_DIMENSION = 2000  # pgvector cannot index wider `vector` columns: those search exactly
DEFAULT_POOL_MAX = 10

_MEM_SELECT = ", ".join(f"m.{c}" for c in MEMORY_COLUMNS)

# The query's distinct lexemes with what ANALYZE knows of them: frequency among rows
# (``most_common_elem_freqs`` lists one per element, then min, max and null share).
_LEXEME_STATS = """
WITH words AS (
    SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('english', t))) AS lexeme
    FROM unnest(%s::text[]) AS t
), stats AS MATERIALIZED (
    SELECT s.most_common_elems::text::text[] AS elems, s.most_common_elem_freqs AS freqs
    FROM pg_stats s
    WHERE s.schemaname = current_schema() AND s.tablename = 'memories' AND s.attname = 'tsv'
        AND s.most_common_elems IS NOT NULL
)
SELECT w.lexeme,
    (SELECT st.freqs[array_position(st.elems, w.lexeme)] FROM stats st) AS freq,
    (SELECT st.freqs[cardinality(st.elems) + 1] FROM stats st) AS floor,
    (SELECT COALESCE((SELECT sum(v * f) FROM unnest(s.most_common_vals::text::float8[],
                s.most_common_freqs) AS x(v, f)), 0)
            + (1 - COALESCE((SELECT sum(f) FROM unnest(s.most_common_freqs) AS f), 0))
            * COALESCE((SELECT avg(h) FROM unnest(s.histogram_bounds::text::float8[]) AS h), 0)
        FROM pg_stats s WHERE s.schemaname = current_schema()
        AND s.tablename = 'memories' AND s.attname = 'ntokens') AS avgdl
FROM words w ORDER BY w.lexeme
"""
_JSON_COLUMNS = {"provenance", "metadata", "payload", "aliases", "episode_ids"}


def _values(columns: Sequence[str]) -> str:
    return ", ".join("%s::jsonb" if c in _JSON_COLUMNS else "%s" for c in columns)


def redact(url: str) -> str:
    """The URL with its password replaced, for messages and stats."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


# -- numpy <-> pgvector `vector`, binary both ways ------------------------------------------
class _VectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: np.ndarray) -> bytes:
        flat = np.asarray(obj, dtype=">f4").reshape(-1)
        return struct.pack(">HH", len(flat), 0) + flat.tobytes()


class _VectorLoader(Loader):
    format = Format.BINARY

    def load(self, data: Any) -> np.ndarray:
        return np.frombuffer(bytes(data), dtype=">f4", offset=4).astype(np.float32)


class _VectorTextLoader(Loader):
    format = Format.TEXT

    def load(self, data: Any) -> np.ndarray:
        return np.array(bytes(data).decode()[1:-1].split(","), dtype=np.float32)


def _register_vector(conn: psycopg.Connection[Any], oid: int) -> None:
    dumper = type("VectorDumper", (_VectorDumper,), {"oid": oid})
    conn.adapters.register_dumper(np.ndarray, dumper)
    conn.adapters.register_loader(oid, _VectorLoader)
    conn.adapters.register_loader(oid, _VectorTextLoader)


# -- filters -------------------------------------------------------------------------------
def _tsquery(terms: Sequence[str]) -> str:
    """OR of the terms, each quoted so no character can change the query's syntax."""
    quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms)
    return " | ".join(quoted)


def _where(flt: MemoryFilter) -> tuple[str, list[Any]]:
    """The same visibility rules as ``sqlite._where``, column for column."""
    clauses = ["m.tenant = %s"]
    params: list[Any] = [flt.scope.tenant]
    for column in ("user_id", "agent_id", "session_id"):
        value = getattr(flt.scope, column)
        if value is not None:
            clauses.append(f"m.{column} = %s")
            params.append(value)
    if flt.kinds:
        clauses.append("m.kind = ANY(%s::text[])")
        params.append(list(flt.kinds))
    if flt.layers:
        clauses.append("m.layer = ANY(%s::text[])")
        params.append(list(flt.layers))
    if flt.as_of is not None:
        clauses.append("m.recorded_at <= %s AND (m.expired_at IS NULL OR m.expired_at > %s)")
        params.extend([flt.as_of, flt.as_of])
    else:
        clauses.append("m.expired_at IS NULL AND m.status = ANY(%s::text[])")
        params.append(list(flt.statuses))
    if flt.event_after is not None:
        clauses.append("m.valid_from >= %s")
        params.append(flt.event_after)
    if flt.event_before is not None:
        clauses.append("m.valid_from < %s")
        params.append(flt.event_before)
    for key, value in flt.metadata.items():
        clause, values = metadata_equals(key, value)
        clauses.append(clause)
        params.extend(values)
    if flt.ids is not None:
        clauses.append("m.id = ANY(%s::text[])")
        params.append(list(flt.ids))
    if flt.valid_at is not None:
        clauses.append("m.valid_from <= %s AND (m.valid_to IS NULL OR m.valid_to > %s)")
        params.extend([flt.valid_at, flt.valid_at])
    return " AND ".join(clauses), params


def _same_scope(scope: Scope, prefix: str = "") -> tuple[str, list[Any]]:
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


def _lock_key(*parts: str | None) -> str:
    return "remem\x1f" + "\x1f".join(p or "" for p in parts)


class PostgresStore:
    """``PostgresStore("postgresql://user@host/db")``; see docs/postgres.md."""

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

    # -- plumbing -----------------------------------------------------------
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
        _register_vector(conn, self._vector_oid)
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

    def _tenant_clause(self, memory_id: str, tenant: str | None) -> tuple[str, list[Any]]:
        """Writes by id stay inside the tenant the transaction read the memory from.

        ``end_version``/``set_status`` get no tenant in the Store protocol; the engine always
        reads the memory (``get_memory``/``versions``, with its tenant) in the same transaction
        before changing it, so that tenant is used. An explicit ``tenant=`` wins.
        """
        tenant = tenant or getattr(self._local, "tenants", {}).get(memory_id)
        return (" AND tenant = %s", [tenant]) if tenant else ("", [])

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
                    conn.execute(
                        "CREATE INDEX IF NOT EXISTS memories_embedding ON memories "
                        "USING hnsw (embedding vector_cosine_ops)"
                    )
            elif rows.get("embedder") != model_id or int(rows.get("dimension", 0)) != dimension:
                raise StoreError(
                    f"{redact(self.url)} holds vectors of embedder {rows.get('embedder')!r} "
                    f"({rows.get('dimension')}-d); it was opened with {model_id!r} ({dimension}-d). "
                    "Open it with the same embedder, or export and import into a new store."
                )

    # -- writes -------------------------------------------------------------
    def insert_episodes(self, episodes: Sequence[Episode]) -> None:
        conn = self._write()
        if not episodes:
            return
        with self._translate(), conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO episodes ({', '.join(EPISODE_COLUMNS)}) "
                f"VALUES ({_values(EPISODE_COLUMNS)}) ON CONFLICT (tenant, id) DO NOTHING "
                "RETURNING id",
                [episode_row(e) for e in episodes],
                returning=True,
            )
            written = set()
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
            sql = (
                f"WITH ins AS (INSERT INTO memories ({', '.join(columns)}) "
                f"VALUES ({_values(columns)}) "
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
                cur.executemany(sql, params, returning=True)
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
        clause, params = self._tenant_clause(memory_id, tenant)
        with self._translate():
            cursor = conn.execute(
                "UPDATE memories SET status = %s, expired_at = %s "
                f"WHERE id = %s AND version = %s AND expired_at IS NULL{clause}",
                (status, at, memory_id, version, *params),
            )
        if cursor.rowcount != 1:
            raise StoreError(f"memory {memory_id} v{version} is not current; nothing was changed")

    def set_status(
        self, memory_id: str, version: int, status: str, tenant: str | None = None
    ) -> None:
        conn = self._write()
        clause, params = self._tenant_clause(memory_id, tenant)
        with self._translate():
            conn.execute(
                f"UPDATE memories SET status = %s WHERE id = %s AND version = %s{clause}",
                (status, memory_id, version, *params),
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

    def append_events(self, events: Sequence[Event]) -> list[Event]:
        conn = self._write()
        if not events:
            return []
        stored = []
        with self._translate(), conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({_values(EVENT_COLUMNS)}) "
                "ON CONFLICT (tenant, id) DO NOTHING RETURNING seq",
                [event_row(e) for e in events],
                returning=True,
            )
            for event in events:
                row = cur.fetchone()
                if row is None:
                    raise InvalidInput(f"event {event.id} already exists")
                stored.append(event.model_copy(update={"seq": row["seq"]}))
                cur.nextset()
        return stored

    def next_seq(self, scope: Scope) -> int:
        where, params = _same_scope(scope)
        with self._conn() as conn:
            # Two servers adding to one session must not both take the same position.
            self._advisory(
                conn,
                _lock_key("session", scope.tenant, scope.user_id, scope.agent_id, scope.session_id),
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

    # -- knowledge graph ----------------------------------------------------
    def save_entities(
        self, rows: Sequence[tuple[Entity, np.ndarray | None, Sequence[str]]]
    ) -> None:
        conn = self._write()
        if not rows:
            return
        columns = [*ENTITY_COLUMNS, "vector"]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("id", "tenant"))
        with self._translate():
            for entity, vector, keys in rows:
                blob = None if vector is None else np.asarray(vector, dtype="<f4").tobytes()
                tenant = entity.scope.tenant
                conn.execute(
                    "DELETE FROM entity_aliases WHERE tenant = %s AND entity_id = %s",
                    (tenant, entity.id),
                )
                conn.execute(
                    f"INSERT INTO entities ({', '.join(columns)}) VALUES ({_values(columns)}) "
                    f"ON CONFLICT (tenant, id) DO UPDATE SET {updates}",
                    (*entity_row(entity), blob),
                )
                if keys:
                    conn.execute(
                        "INSERT INTO entity_aliases (tenant, user_id, alias, entity_id) "
                        "SELECT %s, %s, a, %s FROM unnest(%s::text[]) AS a",
                        (tenant, entity.scope.user_id, entity.id, list(dict.fromkeys(keys))),
                    )

    def get_entities(
        self, tenant: str, user_id: str | None, ids: Sequence[str] | None = None
    ) -> list[tuple[Entity, np.ndarray | None]]:
        sql = (
            f"SELECT {', '.join(ENTITY_COLUMNS)}, vector FROM entities "
            "WHERE tenant = %s AND user_id IS NOT DISTINCT FROM %s"
        )
        params: list[Any] = [tenant, user_id]
        if ids is not None:
            if not ids:
                return []
            sql += " AND id = ANY(%s)"
            params.append(list(ids))
        with self._conn() as conn:
            rows = conn.execute(sql + " ORDER BY created_at, id", params).fetchall()
        return [
            (
                entity_from_row(r),
                None if r["vector"] is None else np.frombuffer(r["vector"], dtype="<f4").copy(),
            )
            for r in rows
        ]

    def entities_by_alias(
        self, tenant: str, user_id: str | None, aliases: Sequence[str]
    ) -> dict[str, list[str]]:
        if not aliases:
            return {}
        found: dict[str, list[str]] = {}
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT alias, entity_id FROM entity_aliases WHERE tenant = %s "
                "AND user_id IS NOT DISTINCT FROM %s AND alias = ANY(%s)",
                (tenant, user_id, list(dict.fromkeys(aliases))),
            ).fetchall()
        for r in rows:
            found.setdefault(r["alias"], []).append(r["entity_id"])
        return found

    def link_entities(self, tenant: str, links: Sequence[tuple[str, str]]) -> None:
        conn = self._write()
        if not links:
            return
        with self._translate():
            conn.execute(
                "INSERT INTO entity_links (tenant, memory_id, entity_id) "
                "SELECT %s, m, e FROM unnest(%s::text[], %s::text[]) AS x(m, e) "
                "ON CONFLICT DO NOTHING",
                (tenant, [m for m, _ in links], [e for _, e in links]),
            )

    def entity_links(
        self,
        tenant: str,
        *,
        entity_ids: Sequence[str] | None = None,
        memory_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 10_000,
    ) -> list[tuple[str, str]]:
        kind = (
            " AND EXISTS (SELECT 1 FROM memories m WHERE m.tenant = l.tenant "
            "AND m.id = l.memory_id AND m.kind = ANY(%(kinds)s))"
            if kinds
            else ""
        )
        params = {"tenant": tenant, "kinds": list(kinds or ()), "limit": limit, "scan": LINK_SCAN}
        if entity_ids is None:
            if not memory_ids:
                return []
            sql = (
                "SELECT memory_id, entity_id FROM entity_links l WHERE tenant = %(tenant)s "
                f"AND memory_id = ANY(%(values)s){kind} ORDER BY lk DESC LIMIT %(limit)s"
            )
            params["values"] = list(memory_ids)
        else:
            if not entity_ids:
                return []
            # One index-ordered walk per entity (LATERAL), so a hub entity costs a bounded scan.
            newest = "LIMIT %(scan)s" if kinds else "LIMIT %(limit)s"
            sql = (
                "SELECT l.memory_id, l.entity_id FROM unnest(%(values)s::text[]) AS e(id) "
                "CROSS JOIN LATERAL (SELECT lk, memory_id, entity_id, tenant FROM entity_links "
                f"WHERE tenant = %(tenant)s AND entity_id = e.id ORDER BY lk DESC {newest}) l "
                f"WHERE TRUE{kind} ORDER BY l.lk DESC LIMIT %(limit)s"
            )
            params["values"] = list(dict.fromkeys(entity_ids))
        with self._conn() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [(r["memory_id"], r["entity_id"]) for r in rows]

    # -- extraction queue ---------------------------------------------------
    def save_job(self, job: ExtractionJob) -> None:
        conn = self._write()
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in JOB_COLUMNS if c not in ("id", "tenant"))
        with self._translate():
            conn.execute(
                f"INSERT INTO extraction_jobs ({', '.join(JOB_COLUMNS)}) "
                f"VALUES ({_values(JOB_COLUMNS)}) ON CONFLICT (tenant, id) DO UPDATE SET {updates}",
                job_row(job),
            )

    def get_jobs(self, tenant: str, limit: int = 100) -> list[ExtractionJob]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(JOB_COLUMNS)} FROM extraction_jobs WHERE tenant = %s "
                'ORDER BY created_at, id COLLATE "C" LIMIT %s',
                (tenant, limit),
            ).fetchall()
        return [job_from_row(r) for r in rows]

    def claim_jobs(self, tenant: str, claim: JobClaim, limit: int = 1) -> list[ExtractionJob]:
        clauses = [
            "tenant = %s",
            "status = ANY(%s::text[])",
            "(claimed_at IS NULL OR claimed_at < %s)",
        ]
        params: list[Any] = [tenant, list(claim.statuses), claim.stale_before]
        if claim.due_only:
            clauses.append("(retry_at IS NULL OR retry_at <= %s)")
            params.append(claim.now)
        if claim.after is not None:
            clauses.append('(created_at > %s OR (created_at = %s AND id COLLATE "C" > %s))')
            params += [claim.after[0], claim.after[0], claim.after[1]]
        if claim.ids is not None:
            clauses.append("id = ANY(%s::text[])")
            params.append(list(claim.ids))
        # SKIP LOCKED: a row another transaction is claiming (or finishing) is passed over,
        # never waited for; a row claimed and committed meanwhile fails the re-checked WHERE.
        with self.transaction(), self._conn() as conn:
            rows = conn.execute(
                "UPDATE extraction_jobs j SET claimed_by = %s, claimed_at = %s "
                f"FROM (SELECT tenant, id FROM extraction_jobs WHERE {' AND '.join(clauses)} "
                'ORDER BY created_at, id COLLATE "C" LIMIT %s FOR UPDATE SKIP LOCKED) c '
                "WHERE j.tenant = c.tenant AND j.id = c.id "
                f"RETURNING {', '.join(f'j.{c}' for c in JOB_COLUMNS)}",
                [claim.owner, claim.now, *params, limit],
            ).fetchall()
        jobs = [job_from_row(r) for r in rows]
        return sorted(jobs, key=lambda j: (j.created_at, j.id))

    def update_job(self, job: ExtractionJob, owner: str, release: bool = False) -> bool:
        conn = self._write()
        columns = [c for c in JOB_COLUMNS if c not in ("id", "tenant")]
        values = dict(zip(JOB_COLUMNS, job_row(job), strict=True))
        sets = ", ".join(f"{c} = %s" for c in columns)
        if release:
            sets += ", claimed_by = NULL, claimed_at = NULL"
        with self._translate():
            done = conn.execute(
                f"UPDATE extraction_jobs SET {sets} "
                "WHERE tenant = %s AND id = %s AND claimed_by = %s",
                [*(values[c] for c in columns), job.scope.tenant, job.id, owner],
            )
        return done.rowcount == 1

    def delete_job(self, tenant: str, job_id: str, owner: str | None = None) -> bool:
        conn = self._write()
        sql = "DELETE FROM extraction_jobs WHERE tenant = %s AND id = %s"
        params = [tenant, job_id]
        if owner is not None:
            sql += " AND claimed_by = %s"
            params.append(owner)
        with self._translate():
            return conn.execute(sql, params).rowcount == 1

    # -- reads --------------------------------------------------------------
    def _memories(self, sql: str, params: Sequence[Any]) -> list[MemoryRecord]:
        with self._conn() as conn:
            return [memory_from_row(r) for r in conn.execute(sql, params)]

    def get_memory(
        self,
        memory_id: str,
        tenant: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> MemoryRecord | None:
        sql = f"SELECT {_MEM_SELECT} FROM memories m WHERE m.tenant = %s AND m.id = %s"
        params: list[Any] = [tenant, memory_id]
        if version is not None:
            sql += " AND m.version = %s"
            params.append(version)
        elif as_of is not None:
            sql += " AND m.recorded_at <= %s AND (m.expired_at IS NULL OR m.expired_at > %s)"
            params.extend([as_of, as_of])
        with self._conn() as conn:
            # Inside a write transaction the caller is about to change this memory: wait for any
            # other writer of it to commit first, then read (READ COMMITTED sees its result).
            self._advisory(conn, _lock_key("memory", tenant, memory_id))
            self._remember_tenant(memory_id, tenant)
            row = conn.execute(sql + " ORDER BY m.version DESC LIMIT 1", params).fetchone()
        return memory_from_row(row) if row else None

    def versions(self, memory_id: str, tenant: str) -> list[MemoryRecord]:
        with self._conn() as conn:
            self._advisory(conn, _lock_key("memory", tenant, memory_id))
            self._remember_tenant(memory_id, tenant)
            rows = conn.execute(
                f"SELECT {_MEM_SELECT} FROM memories m WHERE m.tenant = %s AND m.id = %s "
                "ORDER BY m.version",
                (tenant, memory_id),
            ).fetchall()
        return [memory_from_row(r) for r in rows]

    def list_memories(self, flt: MemoryFilter, *, limit: int, offset: int) -> list[MemoryRecord]:
        where, params = _where(flt)
        return self._memories(
            f"SELECT {_MEM_SELECT} FROM memories m WHERE {where} "
            "ORDER BY m.rk DESC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )

    def count_memories(self, flt: MemoryFilter) -> int:
        where, params = _where(flt)
        with self._conn() as conn:
            row = conn.execute(f"SELECT COUNT(*) AS n FROM memories m WHERE {where}", params)
            return int(row.fetchone()["n"])  # type: ignore[index]

    def _idf(
        self, conn: psycopg.Connection[Any], terms: Sequence[str], tenant: str
    ) -> tuple[list[str], list[float], float]:
        """The query's lexemes, their BM25 IDF and the mean document length in tokens.

        From the planner's statistics when ``ANALYZE`` has run: it keeps the frequencies of the
        most common lexemes of ``tsv`` (``pg_stats.most_common_elems``), and any other lexeme
        is rarer than the rarest of those. Before that (a new table, or a Citus coordinator,
        which has no statistics for distributed tables), from up to ``IDF_SAMPLE`` rows of the
        tenant: exact for small tenants, an estimate for big ones, always a bounded cost.
        """
        rows = conn.execute(_LEXEME_STATS, (list(terms),)).fetchall()
        if not rows:
            return [], [], 20.0
        lexemes = [r["lexeme"] for r in rows]
        first = rows[0]
        if first["floor"] is not None:
            floor = float(first["floor"]) / 2
            freqs = [float(r["freq"]) if r["freq"] is not None else floor for r in rows]
            avgdl = float(first["avgdl"] or 20.0)
        else:
            filters = ", ".join(
                f"COUNT(*) FILTER (WHERE s.tsv @@ %s::tsquery) AS df{i}"
                for i in range(len(lexemes))
            )
            counts = conn.execute(
                "SELECT COUNT(*) AS n, COALESCE(AVG(s.ntokens), 20) AS avgdl, "
                f"{filters} FROM (SELECT ntokens, tsv FROM memories WHERE tenant = %s LIMIT %s) s",
                [*(_tsquery([x]) for x in lexemes), tenant, IDF_SAMPLE],
            ).fetchone()
            assert counts is not None
            total = int(counts["n"])
            freqs = [(counts[f"df{i}"] + 0.5) / (total + 1) for i in range(len(lexemes))]
            avgdl = float(counts["avgdl"])
        # Lucene's idf, ln(1 + (N - n + 0.5) / (n + 0.5)), as the SQLite store uses: never negative.
        idf = [max(math.log1p((1 - f) / f), 1e-6) if 0 < f <= 1 else 1e-6 for f in freqs]
        return lexemes, idf, max(avgdl, 1.0)

    def text_search(
        self, terms: Sequence[str], flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        """BM25 (k1 = 1.2, b = 0.75, as SQLite's FTS5) over the OR of the terms.

        Rows matching any term (GIN) are ranked first by BM25 with every term frequency
        taken as 1, which needs no per-row unpacking; the best ``max(4k, 200)`` are then
        scored with their true term frequencies.
        """
        if not terms:
            return []
        where, params = _where(flt)
        with self._conn() as conn:
            lexemes, idf, avgdl = self._idf(conn, terms, flt.scope.tenant)
            if not lexemes:
                return []  # only stop words
            rough = " + ".join(["%s * (m.tsv @@ %s::tsquery)::int"] * len(lexemes))
            rough_params = [
                x
                for pair in zip(idf, map(_tsquery, ([x] for x in lexemes)), strict=True)
                for x in pair
            ]

            def norm(alias: str) -> str:
                return (
                    f"{BM25_K1}::float8 * ({1 - BM25_B}::float8 + {BM25_B}::float8 "
                    f"* {alias}.ntokens / %s::float8)"
                )

            sql = (
                "WITH cand AS MATERIALIZED ("
                f"SELECT {_MEM_SELECT}, m.rk, m.tsv, m.ntokens, ({rough}) / (1 + {norm('m')}) AS rough "
                f"FROM memories m WHERE m.tsv @@ to_tsquery('english', %s) AND {where} "
                "ORDER BY rough DESC LIMIT %s) "
                "SELECT c.*, (SELECT COALESCE(SUM(w.idf * cardinality(u.positions) "
                f"* {BM25_K1 + 1}::float8 / (cardinality(u.positions) + {norm('c')})), 0) "
                "FROM unnest(c.tsv) AS u "
                "JOIN unnest(%s::text[], %s::float8[]) AS w(lexeme, idf) ON w.lexeme = u.lexeme"
                ") AS score FROM cand c ORDER BY score DESC, c.rk LIMIT %s"
            )
            rows = conn.execute(
                sql,
                [
                    *rough_params,
                    avgdl,
                    _tsquery(terms),
                    *params,
                    max(4 * k, 200),
                    avgdl,
                    lexemes,
                    idf,
                    k,
                ],
            ).fetchall()
        return [(memory_from_row(r), float(r["score"])) for r in rows]

    def vector_search(
        self, vector: np.ndarray, flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        """HNSW (iterative, relaxed order, re-sorted here); exact when the filter leaves too few."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        where, params = _where(flt)
        base = (
            f"SELECT {_MEM_SELECT}, m.embedding <=> %s AS distance FROM memories m "
            f"WHERE {where} AND m.embedding IS NOT NULL "
        )
        with self._conn() as conn:
            if self._dimension(conn) is None:
                return []  # nothing was ever embedded in this store
            rows = conn.execute(
                base + "ORDER BY m.embedding <=> %s LIMIT %s", [query, *params, query, k]
            ).fetchall()
            if len(rows) < k:
                # The graph walk may stop (hnsw.max_scan_tuples) before a selective filter has
                # let k rows through. Few rows pass such a filter, so scan them exactly: the
                # `+ 0` keeps the planner off the HNSW index.
                rows = conn.execute(
                    base + "ORDER BY (m.embedding <=> %s) + 0 LIMIT %s",
                    [query, *params, query, k],
                ).fetchall()
        rows.sort(key=lambda r: r["distance"])
        return [(memory_from_row(r), 1.0 - float(r["distance"])) for r in rows]

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
        where, params = _same_scope(episode.scope)
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(EPISODE_COLUMNS)} FROM episodes WHERE {where} "
                "AND seq BETWEEN %s AND %s ORDER BY seq",
                [*params, episode.seq - window, episode.seq + window],
            ).fetchall()
        return [episode_from_row(r) for r in rows]

    def events(
        self, tenant: str, memory_id: str | None = None, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Event]:
        sql = f"SELECT seq, {', '.join(EVENT_COLUMNS)} FROM events WHERE tenant = %s AND seq > %s"
        params: list[Any] = [tenant, after_seq]
        if memory_id is not None:
            sql += " AND memory_id = %s"
            params.append(memory_id)
        with self._conn() as conn:
            rows = conn.execute(sql + " ORDER BY seq LIMIT %s", [*params, limit]).fetchall()
        return [event_from_row(r) for r in rows]

    def stats(self, scope: Scope) -> dict[str, Any]:
        where = "tenant = %s" + (" AND user_id = %s" if scope.user_id else "")
        params = [scope.tenant, *([scope.user_id] if scope.user_id else [])]
        with self._conn() as conn:
            by = conn.execute(
                f"SELECT kind, status, COUNT(*) AS n FROM memories WHERE {where} "
                "GROUP BY kind, status",
                params,
            ).fetchall()
            n_episodes = conn.execute(
                f"SELECT COUNT(*) AS n FROM episodes WHERE {where}", params
            ).fetchone()["n"]  # type: ignore[index]
            n_events = conn.execute(
                f"SELECT COUNT(*) AS n FROM events WHERE {where}", params
            ).fetchone()["n"]  # type: ignore[index]
            n_entities = conn.execute(
                f"SELECT COUNT(*) AS n FROM entities WHERE {where}", params
            ).fetchone()["n"]  # type: ignore[index]
            jobs = {
                r["status"]: r["n"]
                for r in conn.execute(
                    f"SELECT status, COUNT(*) AS n FROM extraction_jobs WHERE {where} "
                    "GROUP BY status",
                    params,
                )
            }
            size = conn.execute(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS bytes "
                "FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
                "AND c.relname = ANY(%s) AND c.relkind = 'r'",
                (list(TABLES),),
            ).fetchone()["bytes"]  # type: ignore[index]
            meta = self._meta(conn)
        counts: dict[str, dict[str, int]] = {}
        for row in by:
            counts.setdefault(row["kind"], {})[row["status"]] = row["n"]
        return {
            "backend": "postgres",
            "url": redact(self.url),
            "bytes": int(size),
            "embedder": meta.get("embedder"),
            "dimension": int(meta["dimension"]) if "dimension" in meta else None,
            "episodes": n_episodes,
            "events": n_events,
            "memories": counts,
            "entities": n_entities,
            "extraction_queue": {
                "pending": jobs.get("pending", 0),
                "failed": jobs.get("failed", 0),
            },
        }

    # -- portability --------------------------------------------------------
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
                    f"SELECT {_MEM_SELECT}, {vector} AS vector FROM memories m "
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
            for kind, sql in queries:
                with conn.cursor(name=f"remem_dump_{kind}", binary=True) as cur:
                    cur.itersize = 1000
                    cur.execute(sql, params)
                    for row in cur:
                        yield kind, _dumped(kind, row)

    def load(self, items: Sequence[tuple[str, Any]]) -> None:
        dumped = Dumped.of(items)
        with self.transaction(), self._conn() as conn:
            taken = (
                self._existing(conn, "episodes", [(e.scope.tenant, e.id) for e in dumped.episodes])
                + self._existing(
                    conn, "memories", [(m.scope.tenant, m.id) for m, _ in dumped.memories]
                )
                + self._existing(
                    conn, "entities", [(e.scope.tenant, e.id) for e, _, _ in dumped.entities]
                )
                + self._existing(
                    conn, "extraction_jobs", [(j.scope.tenant, j.id) for j in dumped.jobs]
                )
            )
            if taken:
                raise InvalidInput(
                    f"import collides with {len(taken)} record(s) already stored "
                    f"(e.g. {', '.join(taken[:3])}); import into a fresh store or another tenant"
                )
            for start in range(0, len(dumped.episodes), 1000):
                self.insert_episodes(dumped.episodes[start : start + 1000])
            for start in range(0, len(dumped.memories), 1000):
                self.insert_memories(dumped.memories[start : start + 1000])
            self.append_events(dumped.events)
            self.save_entities(dumped.entities)
            for tenant, pairs in dumped.link_runs():
                self.link_entities(tenant, pairs)
            for job in dumped.jobs:
                self.save_job(job)

    def _existing(
        self, conn: psycopg.Connection[Any], table: str, keys: Sequence[tuple[str, str]]
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

    def close(self) -> None:
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r})"


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
