"""The numbered steps (``stores/migrations.py``) applied to a SQLite file.

Files from before the steps were recorded kept one number, ``meta.schema_version``
(1-5), and the releases that wrote them still read it: they refuse a file whose number
is above theirs. So it stays: the last of those versions the schema still equals (5
from step 6 on), and once a step changes what they know, that step's own number (7 and
up), so that they refuse the file instead of misreading it.

Those releases also ran their whole schema script on every open (``CREATE ... IF NOT
EXISTS``), so a file's number never told exactly which tables and indexes it held; a
development build could even have added a later version's columns. Every step up to 6
is therefore idempotent here, and a file without ``schema_migrations`` replays them all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from remem.errors import StoreError
from remem.stores.migrations import LATEST, Schema
from remem.stores.sqlite.dialect import SQLITE

#: The last step each ``meta.schema_version`` of the files before ``schema_migrations`` equals.
LEGACY_STEPS = {1: 1, 2: 2, 3: 4, 4: 5, 5: 6}
#: Steps that only rewrite data, which those releases read as before (m009: padded years).
DATA_ONLY_STEPS = frozenset({9})


def legacy_version(step: int) -> int:
    """``meta.schema_version`` for a file at ``step``: what releases before the steps read."""
    step = max(s for s in range(1, step + 1) if s not in DATA_ONLY_STEPS)
    if step > max(LEGACY_STEPS.values()):
        return step
    return max(v for v, s in LEGACY_STEPS.items() if s <= step)


#: What this remem writes for releases before the steps: 5 (they can open the file).
SCHEMA_VERSION = legacy_version(LATEST)


class SQLiteSchema(Schema):
    dialect = SQLITE

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, script: str) -> None:
        # One statement at a time: executescript() would commit the migration's transaction.
        statement = ""
        for line in script.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                self.db.execute(statement)
                statement = ""
        if statement.strip():
            self.db.execute(statement)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.db.execute(sql, params).fetchall()]

    def columns(self, table: str) -> set[str]:
        return {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}

    def legacy_version(self) -> int | None:
        if not self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"):
            return None
        row = self.query("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(row[0][0]) if row else None


def migrate(db: sqlite3.Connection, where: str, until: int | None = None) -> None:
    """Bring the file up to date (up to step ``until``) in one write transaction.

    ``BEGIN IMMEDIATE`` takes the write lock first, so processes opening one new file at
    once apply the steps once: the others wait, then find them recorded.
    """
    schema = SQLiteSchema(db)
    db.execute("BEGIN IMMEDIATE")
    try:
        version = schema.legacy_version()
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(
                f"{where} was written by a newer remem (schema {version}); upgrade remem"
            )
        schema.upgrade(where, until)
        step = max(schema.recorded())
        db.execute(
            "INSERT INTO meta VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(legacy_version(step)),),
        )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
