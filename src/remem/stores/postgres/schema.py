"""The numbered steps (``stores/migrations.py``) applied to a PostgreSQL schema.

Several API servers may start at once on one database: each runs the steps at startup,
in one transaction under an advisory lock, so the first applies what is missing and the
others wait for it, then find nothing to do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from remem.errors import StoreError
from remem.stores.migrations import Schema
from remem.stores.postgres.dialect import POSTGRES

#: Held (to the end of the transaction) by whoever changes the schema of the current one.
SCHEMA_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended('remem.migrations.' || current_schema(), 0))"
)


class PostgresSchema(Schema):
    dialect = POSTGRES

    def __init__(self, cur: psycopg.Cursor[tuple[Any, ...]]) -> None:
        self.cur = cur

    def execute(self, script: str) -> None:
        self.cur.execute(script)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cur.execute(sql, params)
        return self.cur.fetchall() if self.cur.description else []

    def columns(self, table: str) -> set[str]:
        rows = self.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        )
        return {r[0] for r in rows}


def migrate(
    conn: psycopg.Connection[Any], where: str = "the database", until: int | None = None
) -> tuple[int, bool]:
    """Bring the schema up to date (up to step ``until``) under the schema lock; on a schema
    distributed over Citus, tables the steps add are distributed in the same transaction.

    Returns the OID of pgvector's ``vector`` type and whether pgvector has iterative scans.
    """
    from remem.stores.postgres import citus  # it builds on this module

    cur = conn.cursor(row_factory=tuple_row)
    with conn.transaction():
        distributed = citus.is_distributed(cur)
        if distributed:
            cur.execute(citus.SEQUENTIAL)
        cur.execute(SCHEMA_LOCK)
        if PostgresSchema(cur).upgrade(where, until) and distributed:
            citus.spread(cur)  # the tables the steps added join the cluster
    row = cur.execute(
        "SELECT t.oid, e.extversion FROM pg_type t "
        "JOIN pg_extension e ON e.extname = 'vector' "
        "WHERE t.oid = to_regtype('vector')"
    ).fetchone()
    if row is None:
        raise StoreError(
            "the pgvector type `vector` is not visible: install pgvector and make sure the "
            "schema holding the extension is on the search_path"
        )
    major, minor = (int(x) for x in re.findall(r"\d+", row[1])[:2])
    return int(row[0]), (major, minor) >= (0, 8)
