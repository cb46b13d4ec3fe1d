"""JSON as remem reads it from files and callers: one meaning per document.

Neutral ground, like ``remem._time``: imports, the CLI, the HTTP service and the Mem0
importer all parse through ``loads``, and nothing here imports any of them.
"""

from __future__ import annotations

import json
from typing import Any

from remem.errors import InvalidInput


def loads(text: str | bytes) -> Any:
    """JSON from a file or a caller, where ``json.loads`` would guess.

    A key given twice in one object, which ``json.loads`` settles by keeping the last, and
    ``NaN`` / ``Infinity``, which JSON does not have, are an ``InvalidInput`` naming them:
    an import or a message list must mean one thing.
    """
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise InvalidInput(f"the key {key!r} appears twice in one JSON object")
        value[key] = item
    return value


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"{name} is not a JSON number")
