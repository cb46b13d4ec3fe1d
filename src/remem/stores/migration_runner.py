"""How schema steps are written and applied: what a step sees of a database (``Schema``),
the numbered registry ``@migration`` fills, and the runner that applies what a database has
not recorded. The steps themselves are in ``stores/migrations.py``, which every backend
imports (importing it is what registers them).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from remem._time import utcnow
from remem.errors import StoreError
from remem.stores.sql import Dialect


class Schema(ABC):
    """A database being migrated, as steps see it; each backend supplies the three primitives."""

    dialect: Dialect

    @abstractmethod
    def execute(self, script: str) -> None:
        """Run one or more statements (no parameters)."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def columns(self, table: str) -> set[str]: ...

    # -- what steps use -----------------------------------------------------
    def run(
        self, sql: str | None = None, *, sqlite: str | None = None, postgres: str | None = None
    ) -> None:
        """Run ``sql`` (the same in every dialect), or this dialect's own script."""
        script = (
            sql if sql is not None else {"sqlite": sqlite, "postgres": postgres}[self.dialect.name]
        )
        if script is None:
            raise ValueError(f"this step has no SQL for {self.dialect.name}")
        self.execute(script)

    def add_column(
        self,
        table: str,
        column: str,
        type: str,
        *,
        not_null: bool = False,
        default: str | bool | float | None = None,
    ) -> None:
        """Add a column of a portable type (``Dialect.types``) unless a development build
        already did."""
        if column in self.columns(table):
            return
        spec = self.dialect.types[type] + (" NOT NULL" if not_null else "")
        if default is not None:
            spec += f" DEFAULT {self.dialect.literal(default)}"
        self.execute(f"ALTER TABLE {table} ADD COLUMN {column} {spec}")

    # -- what runners use ---------------------------------------------------
    def recorded(self) -> set[int]:
        """The steps this database has applied (creating the record on first use)."""
        self.execute(TABLE[self.dialect.name])
        return {int(r[0]) for r in self.query(f"SELECT version FROM {TABLE_NAME}")}

    def upgrade(self, where: str, until: int | None = None) -> list[Step]:
        """Apply, in order, every step (up to ``until``) not recorded yet, recording each."""
        recorded = self.recorded()
        newer, latest = max(recorded, default=0), STEPS[-1].version
        if newer > latest:
            raise StoreError(
                f"{where} was written by a newer remem "
                f"(schema {newer}, this one knows {latest}); upgrade remem"
            )
        record = (
            f"INSERT INTO {TABLE_NAME} (version, name, applied_at) VALUES ({self.dialect.marks(3)})"
        )
        applied = []
        for step in STEPS[:until]:
            if step.version not in recorded:
                step.change(self)
                self.query(record, (step.version, step.name, self.dialect.time(utcnow())))
                applied.append(step)
        return applied


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    change: Callable[[Schema], None]


STEPS: list[Step] = []
TABLE_NAME = "schema_migrations"
TABLE = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS {TABLE_NAME} ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    "postgres": f"CREATE TABLE IF NOT EXISTS {TABLE_NAME} ("
    "version integer PRIMARY KEY, name text NOT NULL, "
    "applied_at timestamptz NOT NULL DEFAULT now())",
}


def migration(change: Callable[[Schema], None]) -> Callable[[Schema], None]:
    """Register ``mNNN_name`` as step NNN, which must be the next number."""
    name = change.__name__
    if not (name[:1] == "m" and name[1:4].isdigit() and int(name[1:4]) == len(STEPS) + 1):
        raise ValueError(f"migration {name} must be named m{len(STEPS) + 1:03d}_...")
    STEPS.append(Step(int(name[1:4]), name, change))
    return change
