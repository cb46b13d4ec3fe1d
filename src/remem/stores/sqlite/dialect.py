"""SQLite's spelling of the shared SQL: ``?`` marks, ISO text times, JSON as text."""

from __future__ import annotations

import json
from typing import Any

from remem._time import iso
from remem.stores.sql import Dialect

#: Metadata keys the retrieval policy filters on for every search get an expression index
#: (migration m003_metadata_filter_index creates it for "directive").
INDEXED_METADATA = ("directive",)


def metadata_equals(key: str, value: Any) -> tuple[str, list[Any]]:
    """``json_extract`` equality; JSON true/false come out of it as 1/0."""
    value = int(value) if isinstance(value, bool) else value
    if key in INDEXED_METADATA:
        # Written out (from our own constant) so SQLite can use the expression index.
        return f"json_extract(m.metadata, '$.\"{key}\"') = ?", [value]
    # Keys from callers are bound as parameters: keys are data, never SQL. json_extract
    # matches a quoted label against the key as the row's JSON text spells it, and rows
    # are written by json.dumps: the label must be escaped the same way ("é" is "\u00e9",
    # a backslash is doubled), or such keys would never match.
    return "json_extract(m.metadata, ?) = ?", ["$." + json.dumps(key), value]


SQLITE = Dialect(
    name="sqlite",
    mark="?",
    types={
        "text": "TEXT",
        "int": "INTEGER",
        "float": "REAL",
        "bool": "INTEGER",
        "json": "TEXT",
        "time": "TEXT",
        "bytes": "BLOB",
    },
    booleans=("0", "1"),
    time=iso,
    arrays=False,
    # The unary + makes a column an expression, which no index covers.
    unindexed="+",
    byte_order="",
    json_cast="",
    metadata=metadata_equals,
)
