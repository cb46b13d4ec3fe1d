"""Spread a remem schema over a Citus cluster: tenant tables sharded by tenant, the rest copied.

Every remem table that has a ``tenant`` column starts its primary key and unique constraints
with it (``stores/migrations.py``), so each becomes a distributed table with ``tenant`` as
its distribution column, all in one colocation group: one tenant's memories, turns, events
and graph live on the same worker, and every query the store runs with a tenant goes to that
worker alone. Tables without a tenant (``meta``, ``schema_migrations``) become reference
tables, a copy on every node. Plain PostgreSQL never runs any of this; see docs/postgres.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from remem.errors import StoreError
from remem.stores.postgres.connection import redact
from remem.stores.postgres.schema import SCHEMA_LOCK, migrate

DISTRIBUTION_COLUMN = "tenant"
#: The table the tenant tables are colocated with (the first one distributed).
ANCHOR = "memories"


@dataclass(frozen=True)
class Distribution:
    """What ``distribute`` found and did, table by table."""

    distributed: tuple[str, ...]  # newly sharded by tenant
    referenced: tuple[str, ...]  # newly copied to every node
    shards: int  # shards per tenant table
    workers: int  # active worker nodes


def has_citus(cur: psycopg.Cursor[Any]) -> bool:
    return cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone() is not None


def is_distributed(cur: psycopg.Cursor[Any]) -> bool:
    """Whether the current schema's remem tables are already spread over a cluster."""
    if not has_citus(cur):
        return False
    row = cur.execute(
        "SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass(%s)",
        (f"{_schema(cur)}.{ANCHOR}",),
    ).fetchone()
    return row is not None


def _schema(cur: psycopg.Cursor[Any]) -> str:
    row = cur.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        raise StoreError("no current schema: set search_path to the remem schema")
    return str(row[0])


def _local_tables(cur: psycopg.Cursor[Any], schema: str) -> dict[str, bool]:
    """The schema's tables Citus does not manage yet, each with whether it has a tenant."""
    rows = cur.execute(
        "SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
        "AND a.attname = %s AND NOT a.attisdropped) "
        "FROM pg_class c WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' "
        "AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)",
        (DISTRIBUTION_COLUMN, schema),
    ).fetchall()
    return {str(name): bool(tenant) for name, tenant in rows}


def _foreign_keys(cur: psycopg.Cursor[Any], schema: str) -> list[tuple[str, str, str]]:
    rows = cur.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = %s::regnamespace ORDER BY conrelid, conname",
        (schema,),
    ).fetchall()
    return [(str(t), str(n), str(d)) for t, n, d in rows]


def _distribute_tables(
    cur: psycopg.Cursor[Any], schema: str, shard_count: int | None
) -> tuple[list[str], list[str]]:
    tables = _local_tables(cur, schema)
    if not tables:
        return [], []
    # Citus shards a table only when the tables its foreign keys reference are sharded the
    # same way; drop the keys among the tables moved now and put them back once all moved.
    keys = [k for k in _foreign_keys(cur, schema) if k[0].split(".")[-1] in tables]
    for table, name, _ in keys:
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.SQL(table), sql.Identifier(name)
            )
        )
    referenced = sorted(t for t, tenant in tables.items() if not tenant)
    distributed = sorted(
        (t for t, tenant in tables.items() if tenant), key=lambda t: (t != ANCHOR, t)
    )
    anchor = f"{schema}.{ANCHOR}"
    for table in referenced:
        cur.execute("SELECT create_reference_table(%s)", (f"{schema}.{table}",))
    for table in distributed:
        name = f"{schema}.{table}"
        if table == ANCHOR:
            cur.execute(
                "SELECT create_distributed_table(%s, %s, colocate_with => 'none', "
                "shard_count => COALESCE(%s, current_setting('citus.shard_count')::int))",
                (name, DISTRIBUTION_COLUMN, shard_count),
            )
        else:
            cur.execute(
                "SELECT create_distributed_table(%s, %s, colocate_with => %s)",
                (name, DISTRIBUTION_COLUMN, anchor),
            )
    for table in [*referenced, *distributed]:
        # rows already there were copied into the shards; the coordinator's copy goes
        cur.execute(
            "SELECT truncate_local_data_after_distributing_table(%s)", (f"{schema}.{table}",)
        )
    for table, name, definition in keys:
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} " + definition.replace("%", "%%")).format(
                sql.SQL(table), sql.Identifier(name)
            )
        )
    return distributed, referenced


def spread(cur: psycopg.Cursor[Any], shard_count: int | None = None) -> Distribution:
    """Distribute the current schema's tables Citus does not manage yet, in the caller's
    transaction, which must have started with ``SEQUENTIAL``."""
    distributed, referenced = _distribute_tables(cur, _schema(cur), shard_count)
    return _summary(cur, distributed, referenced)


#: The first statement of a transaction that changes a distributed schema: one connection per
#: worker for all of it, since DDL and data copies that follow each other on the same shards
#: must not be spread over parallel connections.
SEQUENTIAL = "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"


def _require_citus(cur: psycopg.Cursor[Any]) -> None:
    if not has_citus(cur):
        raise StoreError(
            "this database has no citus extension: install Citus on every node, "
            "CREATE EXTENSION citus, and register the workers first (docs/postgres.md)"
        )


def distribute_tables(
    conn: psycopg.Connection[Any], shard_count: int | None = None
) -> Distribution:
    """Distribute the current schema's tables as they are, without migrating first."""
    cur = conn.cursor(row_factory=tuple_row)
    _require_citus(cur)
    with conn.transaction():
        cur.execute(SEQUENTIAL)
        cur.execute(SCHEMA_LOCK)
        return spread(cur, shard_count)


def distribute_schema(
    conn: psycopg.Connection[Any], shard_count: int | None = None
) -> Distribution:
    """Bring the current schema up to date and distribute it; safe to run again.

    Once distributed, opening the store distributes the tables a later migration adds
    (``schema.migrate``). ``shard_count`` defaults to the server's ``citus.shard_count``.
    """
    _require_citus(conn.cursor(row_factory=tuple_row))
    migrate(conn)
    return distribute_tables(conn, shard_count)


def _summary(
    cur: psycopg.Cursor[Any], distributed: list[str], referenced: list[str]
) -> Distribution:
    shards = cur.execute(
        "SELECT COUNT(*) FROM pg_dist_shard WHERE logicalrelid = to_regclass(%s)",
        (f"{_schema(cur)}.{ANCHOR}",),
    ).fetchone()
    workers = cur.execute("SELECT COUNT(*) FROM citus_get_active_worker_nodes()").fetchone()
    return Distribution(
        distributed=tuple(distributed),
        referenced=tuple(referenced),
        shards=int(shards[0]) if shards else 0,
        workers=int(workers[0]) if workers else 0,
    )


def distribute(url: str, shard_count: int | None = None) -> Distribution:
    """Distribute the remem schema at ``url`` (a Citus coordinator) by tenant."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            return distribute_schema(conn, shard_count)
    except psycopg.Error as exc:
        raise StoreError(f"cannot distribute the remem schema at {redact(url)}: {exc}") from exc
