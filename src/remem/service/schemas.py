"""Request and response bodies of the HTTP API: the facade's arguments, typed for OpenAPI.

The engine stays the authority on what is valid; these types add what only HTTP
needs: bounds that keep numbers inside what a database accepts, and text that
every backend can store (no NUL, no lone UTF-16 surrogates), so bad input is a
422 before it reaches the engine, never a 5xx after.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from remem import RECIPES
from remem.engine import MAX_LIMIT
from remem.model import KINDS, LAYERS, ROLES, MemoryRecord, Trust

MAX_OFFSET = 2**31 - 1
MAX_MESSAGES = 10_000
#: How deep JSON values (metadata, filters) may nest: far past any real use, and short of
#: the recursion limits of the parsers and serialisers between here and the database.
MAX_DEPTH = 64


def storable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("contains a NUL character, which no backend can store")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("is not valid Unicode (lone surrogate)") from exc
    return text


def storable_json(value: Any, depth: int = 0) -> Any:
    """``value`` if it is plain JSON every backend stores: storable text, finite numbers
    (Python's parser reads NaN, Infinity and 1e400; JSON has no such numbers), and no
    deeper than ``MAX_DEPTH``."""
    if depth > MAX_DEPTH:
        raise ValueError(f"is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        storable(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"holds {value}, which is not a JSON number")
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            storable_json(item, depth + 1)
    return value


Text = Annotated[str, AfterValidator(storable)]
#: Text with something to remember or look for (not only whitespace).
Content = Annotated[str, Field(min_length=1, pattern=r"\S"), AfterValidator(storable)]
Id = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(storable)]
Time = Annotated[
    str,
    Field(
        max_length=64,
        description="ISO 8601; naive times are UTC",
        examples=["2026-05-02T10:00:00Z"],
    ),
    AfterValidator(storable),
]
Metadata = Annotated[dict[str, Any], AfterValidator(storable_json)]
MetadataFilter = Annotated[dict[str, str | int | float | bool], AfterValidator(storable_json)]
# Built from the engine's own lists, so the schema never drifts from what the engine accepts.
Kind = Literal[KINDS]  # type: ignore[valid-type]
Role = Literal[ROLES]  # type: ignore[valid-type]
Recipe: TypeAlias = Literal[tuple(RECIPES)]  # type: ignore[valid-type]
Layer = Literal[LAYERS]  # type: ignore[valid-type]
TrustLevel: TypeAlias = Trust


class _Body(BaseModel):
    # strict: JSON false is not the integer 0, "1" is not the number 1; NaN is no number.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class MessageIn(_Body):
    role: Role = "user"
    content: Content
    speaker: Text | None = None
    name: Text | None = Field(default=None, description="Alias of speaker (OpenAI message format).")
    timestamp: Time | None = None
    metadata: Metadata | None = None


class AddRequest(_Body):
    """Exactly one of ``text`` or ``messages``."""

    text: Content | None = None
    messages: list[MessageIn] | None = Field(default=None, min_length=1, max_length=MAX_MESSAGES)
    user_id: Id | None = None
    agent_id: Id | None = None
    session_id: Id | None = None
    timestamp: Time | None = None
    metadata: Metadata | None = None
    kind: Kind = "episode"
    importance: float = Field(default=0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_payload(self) -> AddRequest:
        if (self.text is None) == (self.messages is None):
            raise ValueError("give exactly one of text or messages")
        return self


class SearchRequest(_Body):
    query: Content
    user_id: Id | None = None
    agent_id: Id | None = None
    session_id: Id | None = None
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT)
    kinds: list[Kind] | None = None
    metadata: MetadataFilter | None = None
    after: Time | None = None
    before: Time | None = None
    as_of: Time | None = None
    context_window: int = Field(default=0, ge=0, le=20)
    recipe: Recipe = "hybrid"
    asked_at: Time | None = None
    layers: list[Layer] | None = None
    archived: bool = False
    valid_at: Time | None = None
    include_quarantined: bool = False
    min_trust: TrustLevel | None = None


class ContextRequest(_Body):
    """A prompt-ready block for ``query`` within ``budget_tokens`` (see ``Memory.context``)."""

    query: Content
    user_id: Id | None = None
    agent_id: Id | None = None
    session_id: Id | None = None
    budget_tokens: int = Field(default=1000, ge=16, le=1_000_000)
    limit: int = Field(default=30, ge=1, le=MAX_LIMIT)
    recipe: Recipe = "hybrid"
    asked_at: Time | None = None
    after: Time | None = None
    before: Time | None = None
    profile: bool = True


class MaintainRequest(_Body):
    user_id: Id | None = None
    agent_id: Id | None = None
    archive_below: float | None = Field(default=None, ge=0.0, le=1.0)


class SummarizeRequest(_Body):
    user_id: Id | None = None
    agent_id: Id | None = None
    session_id: Id | None = None


class PinRequest(_Body):
    pinned: bool = True
    user_id: Id | None = None


class MaintenanceOut(BaseModel):
    scanned: int
    archived: int
    moved: dict[str, int]
    layers: dict[str, int]
    at: datetime


class UpdateRequest(_Body):
    """A new version; ``metadata`` is a patch (a key set to null is removed)."""

    text: Content | None = None
    metadata: Metadata | None = None
    importance: float | None = Field(default=None, ge=0.0, le=1.0)
    valid_from: Time | None = None
    valid_to: Time | None = None
    reason: Text | None = None
    user_id: Id | None = None
    agent_id: Id | None = None


class PageOut(BaseModel):
    items: list[MemoryRecord]
    total: int
    offset: int
    limit: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last page.")


class Deleted(BaseModel):
    deleted: int = Field(description="How many memories were soft-deleted.")


class Forgotten(BaseModel):
    id: str
    erased: int = Field(description="Rows erased: every version of the memory.")


class Counts(BaseModel):
    model_config = ConfigDict(extra="allow")


class QueueOut(BaseModel):
    pending: int
    failed: int


class LLMUseOut(BaseModel):
    model: str | None
    calls: int
    prompt_tokens: int
    completion_tokens: int
    retries: int


class StatsOut(BaseModel):
    """What a tenant may know of its own data. ``Memory.stats`` also names the database
    (its URL or path) and its size in bytes, which belong to the operator: the database
    is shared by every tenant, so over HTTP only the fields listed here are answered."""

    embedder: str | None
    dimension: int | None
    episodes: int
    events: int
    memories: dict[str, dict[str, int]] = Field(description="Counts by kind, then status.")
    entities: int
    extraction_queue: QueueOut
    llm: LLMUseOut


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    detail: str | None = None
