"""Memories one by one and in pages: add, list, read, update, delete, forget, their history."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from remem import Memory
from remem.model import AddResult, Episode, Event, MemoryRecord
from remem.service.deps import State, TenantMemory
from remem.service.idempotency import HEADER, KEY_PATTERN, RETENTION, fingerprint
from remem.service.json_route import JSONRoute
from remem.service.params import AgentQ, MemoryId, SessionQ, UserQ, json_object, safe
from remem.service.schemas import (
    MAX_OFFSET,
    AddRequest,
    Deleted,
    Forgotten,
    Kind,
    Layer,
    PageOut,
    StatsOut,
    UpdateRequest,
)

router = APIRouter(tags=["memories"], route_class=JSONRoute)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        pattern=KEY_PATTERN,
        description="Sent again with the same body, the add is answered, not stored twice "
        f"(kept {RETENTION.total_seconds() / 3600:g} hours, per tenant); another body: 422.",
    ),
]


@router.post("/v1/memories", status_code=201)
def add(
    body: AddRequest,
    memory: TenantMemory,
    state: State,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> AddResult:
    """Remember a text or a conversation: one episode and one memory per message."""
    if idempotency_key is None:
        result = _add(body, memory)
    else:
        run = partial(_add, body, memory)
        result, replayed = state.idempotency.add(
            memory.tenant, idempotency_key, fingerprint(body), run
        )
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
            return result
    state.metrics.added.inc(len(result.memories))
    queued = result.extraction is not None and result.extraction.status == "queued"
    if state.extraction is not None and queued:
        state.extraction.wake()
    return result


def _add(body: AddRequest, memory: Memory) -> AddResult:
    messages: Any = (
        body.text
        if body.messages is None
        else [m.model_dump(exclude_none=True) for m in body.messages]
    )
    return memory.add(
        messages,
        user_id=body.user_id,
        agent_id=body.agent_id,
        session_id=body.session_id,
        timestamp=body.timestamp,
        metadata=body.metadata,
        kind=body.kind,
        importance=body.importance,
        source="http",
    )


@router.get("/v1/memories")
def list_memories(
    memory: TenantMemory,
    user_id: UserQ = None,
    agent_id: AgentQ = None,
    session_id: SessionQ = None,
    kind: Annotated[list[Kind] | None, Query(description="Only these kinds.")] = None,
    status: Annotated[
        list[str] | None, Query(description="active (default) and/or archived.")
    ] = None,
    metadata: Annotated[
        str | None, Query(max_length=4096, description='JSON object, e.g. {"topic": "work"}')
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    layer: Annotated[
        list[Layer] | None, Query(description="Only these layers (working, short, long).")
    ] = None,
    after: Annotated[
        str | None, Query(max_length=64, description="Event time at or after (ISO 8601).")
    ] = None,
    before: Annotated[
        str | None, Query(max_length=64, description="Event time before (ISO 8601).")
    ] = None,
) -> PageOut:
    """Current memories, newest first, one page at a time (follow ``next_offset``)."""
    page = memory.list(
        user_id=user_id,
        agent_id=agent_id,
        session_id=session_id,
        kinds=kind,
        status=status or "active",
        metadata=json_object(metadata, "metadata"),
        limit=limit,
        offset=offset,
        layers=layer,
        after=safe(after),
        before=safe(before),
    )
    return PageOut(
        items=list(page.items),
        total=page.total,
        offset=page.offset,
        limit=page.limit,
        next_offset=page.next_offset,
    )


@router.delete("/v1/memories")
def delete_all(
    memory: TenantMemory,
    user_id: UserQ = None,
    agent_id: AgentQ = None,
    session_id: SessionQ = None,
    reason: Annotated[str | None, Query(max_length=1000)] = None,
) -> Deleted:
    """Soft-delete every memory of one explicit user, agent or session (400 without one)."""
    deleted = memory.delete_all(
        user_id=user_id, agent_id=agent_id, session_id=session_id, reason=safe(reason)
    )
    return Deleted(deleted=deleted)


@router.get("/v1/memories/{memory_id}")
def get(
    memory_id: MemoryId,
    memory: TenantMemory,
    user_id: UserQ = None,
    agent_id: AgentQ = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_OFFSET)] = None,
    as_of: Annotated[str | None, Query(max_length=64)] = None,
) -> MemoryRecord:
    """The current version, a given version, or the one believed at ``as_of``."""
    return memory.get(
        memory_id, user_id=user_id, agent_id=agent_id, version=version, as_of=safe(as_of)
    )


@router.patch("/v1/memories/{memory_id}")
def update(memory_id: MemoryId, body: UpdateRequest, memory: TenantMemory) -> MemoryRecord:
    """Write a new version; the old one stays in the history."""
    return memory.update(memory_id, **body.model_dump(exclude_unset=True))


@router.delete("/v1/memories/{memory_id}")
def delete(
    memory_id: MemoryId,
    memory: TenantMemory,
    user_id: UserQ = None,
    agent_id: AgentQ = None,
    reason: Annotated[str | None, Query(max_length=1000)] = None,
) -> MemoryRecord:
    """Soft delete: hidden from search and list, kept in the history."""
    return memory.delete(memory_id, user_id=user_id, agent_id=agent_id, reason=safe(reason))


@router.post("/v1/memories/{memory_id}/forget")
def forget(
    memory_id: MemoryId, memory: TenantMemory, user_id: UserQ = None, agent_id: AgentQ = None
) -> Forgotten:
    """Hard delete: erase every version, its index entries and uncited source turns."""
    return Forgotten(
        id=memory_id, erased=memory.forget(memory_id, user_id=user_id, agent_id=agent_id)
    )


@router.get("/v1/memories/{memory_id}/history")
def history(memory_id: MemoryId, memory: TenantMemory, user_id: UserQ = None) -> list[Event]:
    """Every operation on the memory, oldest first, with the record after it."""
    return memory.history(memory_id, user_id=user_id)


@router.get("/v1/memories/{memory_id}/versions")
def versions(memory_id: MemoryId, memory: TenantMemory) -> list[MemoryRecord]:
    """Every version of the memory, oldest first."""
    return memory.versions(memory_id)


@router.get("/v1/memories/{memory_id}/surrounding")
def surrounding(
    memory_id: MemoryId, memory: TenantMemory, window: Annotated[int, Query(ge=0, le=20)] = 2
) -> list[Episode]:
    """The conversation turns around the one the memory came from."""
    return memory.surrounding(memory_id, window)


@router.get("/v1/stats")
def stats(memory: TenantMemory, user_id: UserQ = None) -> StatsOut:
    """What this tenant (or one user) holds: counts by kind and status; not where or how
    large the shared database is."""
    return StatsOut.model_validate(memory.stats(user_id=user_id))
