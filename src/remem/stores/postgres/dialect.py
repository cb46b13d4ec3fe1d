"""PostgreSQL's spelling of the shared SQL: ``%s`` marks, native times, lists as arrays."""

from __future__ import annotations

import json
import math
from typing import Any

from remem.stores.sql import Dialect


def metadata_equals(key: str, value: Any) -> tuple[str, list[Any]]:
    """Equality on a scalar, as SQLite's ``json_extract(...) = ?`` compares it, as containment.

    Strings match strings only; numbers compare numerically (jsonb: 1 = 1.0); booleans are 1
    and 0, so ``True`` matches ``1`` and ``true`` alike; arrays and objects never match a
    scalar. ``@>`` is what the GIN index ``memories_metadata`` answers, so a rare key/value
    (e.g. ``directive: true``) is found without reading the tenant's other rows.
    """
    if isinstance(value, str):
        return "m.metadata @> %s::jsonb", [json.dumps({key: value})]
    if isinstance(value, float) and not math.isfinite(value):
        return "false", []  # JSON has no NaN or infinity, so nothing stored can equal it
    number = int(value) if isinstance(value, bool) else value
    shapes = [json.dumps({key: number})]
    if number in (0, 1):
        shapes.append(json.dumps({key: bool(number)}))
    return "(" + " OR ".join(["m.metadata @> %s::jsonb"] * len(shapes)) + ")", shapes


def _same(value: Any) -> Any:
    return value


POSTGRES = Dialect(
    name="postgres",
    mark="%s",
    types={
        "text": "text",
        "int": "integer",
        "float": "double precision",
        "bool": "boolean",
        "json": "jsonb",
        "time": "timestamptz",
        "bytes": "bytea",
    },
    booleans=("false", "true"),
    time=_same,
    arrays=True,
    unindexed="",
    byte_order=' COLLATE "C"',
    json_cast="::jsonb",
    metadata=metadata_equals,
)
