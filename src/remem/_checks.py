"""Checks on what callers hand remem, each failing with ``InvalidInput`` and a plain message.

Neutral ground: the engine, the public query object and the ingest pipeline all check
input the same way, and nothing here imports any of them. This is the one place that
decides what a store is given, so every backend accepts and refuses exactly the same
values (``tests/stores/test_properties.py`` holds both to it):

- text: a string with something in it, at most ``MAX_TEXT_CHARS`` characters, valid
  Unicode (no lone UTF-16 surrogate, which is what undecodable bytes become in Python)
  and no NUL character (PostgreSQL cannot store one);
- ids and scope fields (tenant, user, agent, session, memory and entity ids): the same,
  at most ``MAX_ID_CHARS`` characters;
- metadata: a JSON object whose top-level keys are non-empty and hold no ``"``; values
  are strings, numbers (integers within 64 bits, finite floats below 2**53 in
  magnitude), booleans, null, lists and objects, nested at most ``MAX_METADATA_DEPTH`` levels, ``MAX_METADATA_CHARS`` of JSON
  in all;
- times: see ``remem._time.to_utc`` (years 1 to 9999, naive ones read as UTC).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from remem.errors import InvalidInput
from remem.model import KINDS, LAYERS, Scope
from remem.recipes import RECIPES, SearchRecipe

MAX_TEXT_CHARS = 1_000_000
MAX_ID_CHARS = 512
#: Levels of nesting in metadata: ``{"a": {"b": 1}}`` has two.
MAX_METADATA_DEPTH = 32
#: Characters of one metadata object written as JSON.
MAX_METADATA_CHARS = 100_000
#: What SQLite's INTEGER and PostgreSQL's bigint hold.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1
#: Floats below this in magnitude come back from every backend as the same float.
MAX_FLOAT = float(2**53)
#: The most results one call returns (search, list, facts, related).
MAX_LIMIT = 1000


def check_unicode(text: str, field: str) -> str:
    """``text`` if every backend can store it: no NUL, no lone surrogate."""
    if "\x00" in text:
        raise InvalidInput(f"{field} contains a NUL character, which no backend can store")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                f"{field} is not valid Unicode: a lone surrogate at character {exc.start} "
                "(undecodable bytes read as text); send UTF-8 text"
            ) from exc
    return text


def check_text(text: Any, field: str = "content") -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"{field} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InvalidInput(f"{field} is empty: there is nothing to remember")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"{field} has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    return check_unicode(text, field)


def check_id(value: Any, field: str = "id") -> str:
    """An id or scope field: a non-blank string every backend stores and compares alike."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInput(f"{field} must be a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise InvalidInput(f"{field} has {len(value)} characters; the limit is {MAX_ID_CHARS}")
    return check_unicode(value, field)


def check_metadata(metadata: Any, field: str = "metadata") -> dict[str, Any]:
    """A plain copy of ``metadata`` (dicts and lists all the way down), or ``InvalidInput``."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInput(f"{field} must be an object of key/value pairs")
    for key in metadata:
        if not isinstance(key, str) or not key or '"' in key:
            raise InvalidInput(f"{field} keys must be non-empty strings without quotes: {key!r}")
    checked = check_json(metadata, field, MAX_METADATA_DEPTH)
    size = len(json.dumps(checked, ensure_ascii=False))
    if size > MAX_METADATA_CHARS:
        raise InvalidInput(
            f"{field} is {size} characters of JSON; the limit is {MAX_METADATA_CHARS}"
        )
    return checked


def check_json(value: Any, field: str, max_depth: int) -> Any:
    """``value`` as plain JSON data (dicts, lists, str, int, float, bool, None) every
    backend stores alike, nested at most ``max_depth`` levels; else ``InvalidInput``
    naming where (``metadata.a[2]``)."""
    # An explicit stack, not recursion: depth is what is being checked.
    root: list[Any] = [None]
    stack: list[tuple[Any, str, int, Any, Any]] = [(value, field, 0, root, 0)]
    while stack:
        item, where, depth, parent, slot = stack.pop()
        if isinstance(item, str):
            parent[slot] = check_unicode(item, where)
        elif item is None or isinstance(item, bool):
            parent[slot] = item
        elif isinstance(item, int):
            if not MIN_INT <= item <= MAX_INT:
                raise InvalidInput(f"{where}: integers must fit in 64 bits, got {item}")
            parent[slot] = int(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInput(f"{where}: {item} is not a JSON number (NaN or infinite)")
            if abs(item) >= MAX_FLOAT:
                raise InvalidInput(
                    f"{where}: {item} is past 2**53; PostgreSQL keeps a float that large as "
                    "a different integer: store it as an integer or a string"
                )
            parent[slot] = float(item)
        elif isinstance(item, Mapping | list | tuple):
            if depth >= max_depth:
                raise InvalidInput(f"{field} nests deeper than {max_depth} levels")
            if isinstance(item, Mapping):
                for key in item:
                    if not isinstance(key, str):
                        raise InvalidInput(f"{where}: keys must be strings, got {key!r}")
                    check_unicode(key, f"{where} key {key!r}")
                copy: Any = dict.fromkeys(item)  # in the caller's order; values come below
                for key, child in item.items():
                    stack.append((child, f"{where}.{key}", depth + 1, copy, key))
            else:
                copy = [None] * len(item)
                for index, child in enumerate(item):
                    stack.append((child, f"{where}[{index}]", depth + 1, copy, index))
            parent[slot] = copy
        else:
            raise InvalidInput(
                f"{where}: {type(item).__name__} is not JSON data (use strings, numbers, "
                "booleans, null, lists and objects)"
            )
    return root[0]


def check_note(value: Any, field: str) -> str | None:
    """An optional free-text note (a reason): None, or a string every backend can store."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, got {type(value).__name__}")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidInput(f"{field} has {len(value)} characters; the limit is {MAX_TEXT_CHARS}")
    return check_unicode(value, field)


def check_version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INT:
        raise InvalidInput(f"version must be a positive integer, got {value!r}")
    return value


def check_importance(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidInput(f"importance must be a number between 0 and 1, got {value!r}")
    return float(value)


def check_scope(
    tenant: str, user_id: str | None, agent_id: str | None, session_id: str | None
) -> Scope:
    for name, value in (
        ("tenant", tenant),
        ("user_id", user_id),
        ("agent_id", agent_id),
        ("session_id", session_id),
    ):
        if value is not None:
            try:
                check_id(value, name)
            except InvalidInput as exc:
                raise InvalidInput(f"bad scope: {exc}") from None
    try:
        return Scope(tenant=tenant, user_id=user_id, agent_id=agent_id, session_id=session_id)
    except ValidationError as exc:
        raise InvalidInput(f"bad scope: {exc.errors()[0]['msg']}") from exc


def check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def check_offset(offset: Any) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_INT:
        raise InvalidInput(f"offset must be an integer from 0 to {MAX_INT}, got {offset!r}")
    return offset


def check_kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """One kind or several as a tuple; None (or none given) means every kind."""
    return _one_of(kinds, KINDS, "kind")


def check_layers(layers: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """One layer or several as a tuple; None (or none given) means every layer."""
    return _one_of(layers, LAYERS, "layer")


def _one_of(
    given: str | Iterable[str] | None, known: tuple[str, ...], what: str
) -> tuple[str, ...] | None:
    if given is None:
        return None
    chosen = (given,) if isinstance(given, str) else tuple(given)
    for value in chosen:
        if value not in known:
            raise InvalidInput(f"unknown {what} {value!r}; expected one of {', '.join(known)}")
    return chosen or None


def check_metadata_filter(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    checked = check_metadata(metadata, "metadata filter")
    for key, value in checked.items():
        if not isinstance(value, str | int | float | bool):
            raise InvalidInput(f"metadata filter {key!r}: only strings, numbers and booleans match")
    return checked


def check_recipe(recipe: str | SearchRecipe) -> SearchRecipe:
    if isinstance(recipe, SearchRecipe):
        return recipe
    if not isinstance(recipe, str) or recipe not in RECIPES:
        raise InvalidInput(
            f"unknown search recipe {recipe!r}; expected one of {', '.join(RECIPES)}"
        )
    return RECIPES[recipe]
