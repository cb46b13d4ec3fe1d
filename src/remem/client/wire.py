"""How values travel between the clients and the service: the request a call makes, times,
kinds and queries as JSON, and readers turning answers back into remem's records."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from remem._time import to_utc
from remem.errors import InvalidInput
from remem.model import Entity, Episode, Event, Flagged, MaintenanceReport, MemoryRecord, Page
from remem.query import SearchQuery, When
from remem.recipes import RECIPES, SearchRecipe

R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)

EVENTS = TypeAdapter(list[Event])
RECORDS = TypeAdapter(list[MemoryRecord])
ENTITIES = TypeAdapter(list[Entity])
EPISODES = TypeAdapter(list[Episode])
FLAGGED = TypeAdapter(list[Flagged])


@dataclass(frozen=True)
class Call(Generic[R]):
    """One request, and how to read its answer.

    ``idempotent``: sending it twice does what sending it once does and answers the same
    (a POST that only reads, an add under an ``Idempotency-Key``); GETs are so anyway.
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], R]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    idempotent: bool = False

    @property
    def repeatable(self) -> bool:
        """Whether the client may send it again after an attempt whose outcome is unknown."""
        return self.method == "GET" or self.idempotent


def when(value: When) -> str | None:
    """Times as the API reads them: ISO 8601 strings (numbers are unix seconds, as in Memory)."""
    if value is None or isinstance(value, str):
        return value
    moment = to_utc(value)
    return moment.isoformat() if moment else None


def drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def kinds_list(kinds: str | Iterable[str] | None) -> list[str] | None:
    if kinds is None:
        return None
    return [kinds] if isinstance(kinds, str) else list(kinds)


def messages_body(messages: Any) -> dict[str, Any]:
    if isinstance(messages, str):
        return {"text": messages}
    if isinstance(messages, Mapping):
        return {"messages": [dict(messages)]}
    return {"messages": [dict(m) if isinstance(m, Mapping) else m for m in messages]}


def recipe_name(recipe: str | SearchRecipe) -> str:
    """The service takes a recipe by name: one of ``RECIPES``, or a SearchRecipe equal to it."""
    if not isinstance(recipe, SearchRecipe):
        return recipe
    if RECIPES.get(recipe.name) != recipe:
        raise InvalidInput(
            f"the service takes a search recipe by name ({', '.join(RECIPES)}); "
            "a SearchRecipe of one's own works with an embedded Memory only"
        )
    return recipe.name


def keywords(
    query: SearchQuery, names: Iterable[str], defaults: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A query's options as a call's keyword arguments (an unset limit: the call's default)."""
    values = {name: getattr(query, name) for name in names}
    if values.get("limit", 0) is None:
        values["limit"] = (defaults or {})["limit"]
    return values


def page(response: httpx.Response) -> Page:
    body = response.json()
    body.pop("next_offset", None)
    return Page.model_validate(body)


def maintenance(response: httpx.Response) -> MaintenanceReport:
    body = response.json()
    return MaintenanceReport(
        scanned=body["scanned"],
        archived=body["archived"],
        moved=body["moved"],
        layers=body["layers"],
        at=datetime.fromisoformat(body["at"]),
    )


def segment(memory_id: str) -> str:
    if not isinstance(memory_id, str) or not memory_id:
        raise InvalidInput("memory id must be a non-empty string")
    return quote(memory_id, safe="")


def model(kind: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: kind.model_validate(response.json())


def list_of(adapter: TypeAdapter[R]) -> Callable[[httpx.Response], R]:
    return lambda response: adapter.validate_python(response.json())
