"""Query and path parameters shared by several routes, and the checks for free-text ones.

Bodies are typed in ``remem.service.schemas``; these are the values that arrive in the
URL, held to the same rules (storable text, bounded ids) so bad input is a 422.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator

from remem._json import loads
from remem.errors import InvalidInput
from remem.service.schemas import Id, storable, storable_json

UserQ = Annotated[Id | None, Query(description="Only this user's memories.")]
AgentQ = Annotated[Id | None, Query(description="Only this agent's memories.")]
SessionQ = Annotated[Id | None, Query(description="Only this session's memories.")]
MemoryId = Annotated[str, Path(min_length=1, max_length=512), AfterValidator(storable)]


def safe(value: str | None) -> str | None:
    """``value`` if every backend can store it; else an ``InvalidInput`` (422)."""
    try:
        return None if value is None else storable(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def json_object(text: str | None, field: str) -> dict[str, Any] | None:
    """A query parameter holding a JSON object, parsed; an ``InvalidInput`` if it is not one."""
    if text is None:
        return None
    try:
        value = storable_json(loads(text))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{field} must be a JSON object: {exc.msg}") from exc
    except ValueError as exc:
        raise InvalidInput(f"{field}: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object")
    return value
