"""The knowledge graph: extracted facts (bi-temporal), entities and what mentions them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from remem.model import Entity, MemoryRecord
from remem.service.deps import TenantMemory
from remem.service.json_route import JSONRoute
from remem.service.params import AgentQ, MemoryId, UserQ, safe
from remem.service.schemas import MAX_OFFSET

router = APIRouter(tags=["graph"], route_class=JSONRoute)


@router.get("/v1/facts")
def facts(
    memory: TenantMemory,
    user_id: UserQ = None,
    agent_id: AgentQ = None,
    valid_at: Annotated[str | None, Query(max_length=64)] = None,
    as_of: Annotated[str | None, Query(max_length=64)] = None,
    current: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[MemoryRecord]:
    """Extracted facts: true at ``valid_at`` (event time), believed at ``as_of``, or current."""
    return memory.facts(
        user_id=user_id,
        agent_id=agent_id,
        valid_at=safe(valid_at),
        as_of=safe(as_of),
        current=current,
        limit=limit,
        offset=offset,
    )


@router.get("/v1/entities")
def entities(
    memory: TenantMemory,
    user_id: UserQ = None,
    name: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
) -> list[Entity]:
    """The user's entities, or those a name (or alias) resolves to."""
    return memory.entities(user_id=user_id, name=safe(name))


@router.get("/v1/entities/{entity_id}/related")
def related(
    entity_id: MemoryId,
    memory: TenantMemory,
    user_id: UserQ = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[MemoryRecord]:
    """Current memories that mention the entity (its edges in the graph), newest first."""
    return memory.related(entity_id, user_id=user_id, limit=limit)
