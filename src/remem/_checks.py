"""Checks on what callers hand remem, each failing with ``InvalidInput`` and a plain message.

Neutral ground: the engine, the public query object and the ingest pipeline all check
input the same way, and nothing here imports any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from remem.errors import InvalidInput
from remem.model import KINDS, LAYERS, Scope
from remem.recipes import RECIPES, SearchRecipe

MAX_TEXT_CHARS = 1_000_000
#: The most results one call returns (search, list, facts, related).
MAX_LIMIT = 1000


def check_text(text: Any, field: str = "content") -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"{field} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InvalidInput(f"{field} is empty: there is nothing to remember")
    if "\x00" in text:
        raise InvalidInput(f"{field} contains a NUL character, which no backend can store")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"{field} has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    return text


def check_metadata(metadata: Any, field: str = "metadata") -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInput(f"{field} must be an object of key/value pairs")
    for key in metadata:
        if not isinstance(key, str) or not key or '"' in key:
            raise InvalidInput(f"{field} keys must be non-empty strings without quotes: {key!r}")
    return dict(metadata)


def check_importance(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InvalidInput(f"importance must be a number between 0 and 1, got {value!r}")
    return float(value)


def check_scope(
    tenant: str, user_id: str | None, agent_id: str | None, session_id: str | None
) -> Scope:
    try:
        return Scope(tenant=tenant, user_id=user_id, agent_id=agent_id, session_id=session_id)
    except ValidationError as exc:
        raise InvalidInput(f"bad scope: {exc.errors()[0]['msg']}") from exc


def check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def check_offset(offset: Any) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput("offset must be a non-negative integer")
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
