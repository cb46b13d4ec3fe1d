"""What differs between the SQL dialects of the backends, named once.

The statements both backends run are written once (``stores/statements.py``) and the
schema steps once (``stores/migrations.py``); where SQLite and PostgreSQL spell a thing
differently (a placeholder, a type, a list parameter, a time value) they ask their
``Dialect``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remem.stores.rows import TimeOut

#: Columns whose values a dialect with ``json_cast`` casts on the way in (PostgreSQL ``jsonb``).
JSON_COLUMNS = frozenset({"provenance", "metadata", "payload", "aliases", "episode_ids"})


@dataclass(frozen=True)
class Dialect:
    """One backend's spelling of what both backends' SQL says.

    ``types`` maps the portable column types the migrations use (text, int, float, bool,
    json, time, bytes) to this dialect's. ``arrays``: a list binds as one array parameter
    (``= ANY(%s)``) instead of one placeholder per value. ``unindexed`` prefixes a column
    to keep the planner off its indexes (SQLite's unary ``+``). ``byte_order`` follows a
    text column to sort it by bytes (SQLite's default; PostgreSQL's ``COLLATE "C"``), so
    ids sort alike everywhere. ``metadata`` writes the equality of one metadata key with a
    scalar.
    """

    name: str
    mark: str
    types: Mapping[str, str]
    booleans: tuple[str, str]
    time: TimeOut
    arrays: bool
    unindexed: str
    byte_order: str
    json_cast: str
    metadata: Callable[[str, Any], tuple[str, list[Any]]]

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def values(self, columns: Iterable[str]) -> str:
        """Placeholders for ``columns``, JSON ones cast where the dialect types them."""
        return ", ".join(
            self.mark + self.json_cast if c in JSON_COLUMNS else self.mark for c in columns
        )

    def one_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` equal to any of ``values`` (a non-empty list)."""
        if self.arrays:
            return f"{column} = ANY({self.mark}::text[])", [list(values)]
        return f"{column} IN ({','.join([self.mark] * len(values))})", list(values)

    def literal(self, value: str | bool | float | None) -> str:
        """A constant as written in DDL (a column default)."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return self.booleans[value]
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        return repr(value)
