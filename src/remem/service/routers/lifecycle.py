"""The lifecycle: layers and archiving (maintain), pins, summaries and the user's profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from remem.model import MemoryRecord
from remem.service.deps import TenantMemory
from remem.service.json_route import JSONRoute
from remem.service.params import AgentQ, MemoryId, UserQ
from remem.service.schemas import MaintainRequest, MaintenanceOut, PinRequest, SummarizeRequest

router = APIRouter(tags=["lifecycle"], route_class=JSONRoute)


@router.post("/v1/maintain")
def maintain(body: MaintainRequest, memory: TenantMemory) -> MaintenanceOut:
    """Move memories between layers and archive the faded ones (nothing is deleted)."""
    return MaintenanceOut(**memory.maintain(**body.model_dump()).as_dict())


@router.post("/v1/summarize")
def summarize(body: SummarizeRequest, memory: TenantMemory) -> list[MemoryRecord]:
    """Summaries of changed sessions, the running summary and the profile; what was written."""
    return memory.summarize(**body.model_dump())


@router.get("/v1/profile")
def profile(
    memory: TenantMemory,
    user_id: UserQ = None,
    agent_id: AgentQ = None,
    refresh: Annotated[bool, Query(description="Rebuild it now.")] = False,
) -> MemoryRecord:
    """The user's profile: stable facts and recent changes, each citing its memory."""
    return memory.profile(user_id=user_id, agent_id=agent_id, refresh=refresh)


@router.post("/v1/memories/{memory_id}/pin")
def pin(memory_id: MemoryId, body: PinRequest, memory: TenantMemory) -> MemoryRecord:
    """Pin (never fades, never archived) or unpin a memory."""
    return memory.pin(memory_id, body.pinned, user_id=body.user_id)
