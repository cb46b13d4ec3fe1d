"""Recall: ranked search hits, and a prompt-ready context block within a token budget."""

from __future__ import annotations

from fastapi import APIRouter

from remem.model import Context, SearchResults
from remem.service.deps import State, TenantMemory
from remem.service.json_route import JSONRoute
from remem.service.schemas import ContextRequest, SearchRequest

router = APIRouter(route_class=JSONRoute)


@router.post("/v1/search", tags=["memories"])
def search(body: SearchRequest, memory: TenantMemory, state: State) -> SearchResults:
    """Ranked memories for a query; each hit says which signals found it."""
    results = memory.search(body.query, **body.model_dump(exclude={"query"}))
    state.metrics.searches.inc()
    return results


@router.post("/v1/context", tags=["lifecycle"])
def context(body: ContextRequest, memory: TenantMemory) -> Context:
    """A prompt-ready block: profile, summaries, facts and turns, within a token budget."""
    return memory.context(body.query, **body.model_dump(exclude={"query"}))
