"""Review (docs/trust.md): the quarantine, and the lessons confirmed attacks leave.

``remem quarantine list|release|forget`` and ``remem lessons`` over HTTP; each decision is
an event with its reason (``GET /v1/memories/{id}/history``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from remem.model import Flagged, MemoryRecord
from remem.service.deps import TenantMemory
from remem.service.json_route import JSONRoute
from remem.service.params import AgentQ, MemoryId, UserQ
from remem.service.schemas import MAX_OFFSET, Id, _Body

router = APIRouter(tags=["review"], route_class=JSONRoute)
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


class Decision(_Body):
    """Why (kept in the decision's event), and whose memory."""

    reason: str | None = Field(default=None, max_length=1000)
    user_id: Id | None = None
    agent_id: Id | None = None


@router.get("/v1/quarantine")
def quarantined(
    memory: TenantMemory,
    user_id: UserQ = None,
    agent_id: AgentQ = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[Flagged]:
    """Memories held in quarantine, newest first, each with why and since when."""
    return memory.quarantined(user_id=user_id, agent_id=agent_id, limit=limit, offset=offset)


@router.post("/v1/quarantine/{memory_id}/release")
def release(memory_id: MemoryId, body: Decision, memory: TenantMemory) -> MemoryRecord:
    """Let a quarantined memory into search and context (it was no attack)."""
    return memory.release(memory_id, **body.model_dump())


@router.post("/v1/quarantine/{memory_id}/forget")
def forget_poisoned(memory_id: MemoryId, body: Decision, memory: TenantMemory) -> MemoryRecord:
    """Confirm a memory as poisoned: never served again, kept as a lesson."""
    return memory.forget_poisoned(memory_id, **body.model_dump())


@router.get("/v1/lessons")
def lessons(
    memory: TenantMemory,
    user_id: UserQ = None,
    agent_id: AgentQ = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[Flagged]:
    """Memories confirmed as poisoned, newest first, with the reason given."""
    return memory.lessons(user_id=user_id, agent_id=agent_id, limit=limit, offset=offset)
