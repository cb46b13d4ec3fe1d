"""Liveness, readiness and Prometheus metrics: the routes an orchestrator calls, without a key."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from remem.service.deps import State
from remem.service.json_route import JSONRoute
from remem.service.schemas import Health

log = logging.getLogger("remem.service")
router = APIRouter(tags=["operations"], route_class=JSONRoute)

#: The readiness probe reads this tenant: a real query, whatever the tenant holds.
PROBE_TENANT = "readiness-probe"


@router.get("/healthz")
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Health}})
def readyz(state: State) -> Any:
    """Readiness: the model is loaded and the store (and key table) answer."""
    try:
        state.tenants.memory(PROBE_TENANT).list(limit=1)
        if state.keys is not None:
            state.keys.authenticate("remem_probe_probe")
    except Exception as exc:  # the reason goes to the log: it may name hosts and users
        log.warning("readiness check failed: %s", exc)
        detail = Health(status="unavailable", detail="store unavailable").model_dump()
        return JSONResponse(detail, 503)
    if not state.ready:
        return JSONResponse(Health(status="unavailable", detail="warming up").model_dump(), 503)
    return Health(status="ok")


@router.get("/metrics", response_class=Response)
def prometheus(state: State) -> Response:
    """Prometheus metrics: request latency, adds, searches, model (embedder, LLM) calls."""
    return Response(state.metrics.exposition(), media_type="text/plain; version=0.0.4")
