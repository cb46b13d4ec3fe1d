"""Mem0's REST routes over remem (``remem serve --mem0-compat``), so Mem0's own clients
(``mem0ai``'s ``MemoryClient(host=...)``) work unchanged: ping, add, get all, search, get,
update, delete, delete all and history.

Every route works inside the tenant of the caller's remem API key, sent as Mem0 sends
its own (``Authorization: Token <key>``; Bearer and X-API-Key work too), and calls the
same ``remem.Memory`` as the rest of the API. Payload mapping: ``service/mem0_shapes.py``;
the call-by-call guide: docs/migrating-from-mem0.md. The paths end in a slash, as
Mem0's do, so none collides with remem's own ``/v1`` routes.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from remem import Memory
from remem.errors import InvalidInput, NotFound
from remem.model import MemoryRecord, Writer
from remem.service.deps import State, api_caller
from remem.service.json_route import JSONRoute
from remem.service.mem0_shapes import (
    APP_ID,
    EXPIRES,
    MEM0_ID,
    expiration,
    expired,
    history_out,
    memory_out,
    read_filters,
    when,
)

router = APIRouter(tags=["mem0 compatibility"], route_class=JSONRoute)

#: Mem0's default page of ``get_all``, and remem's largest.
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def mem0_caller(
    state: State,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
) -> tuple[str, Writer]:
    """The caller's tenant from a remem API key sent the Mem0 way (``Token <key>``)."""
    scheme, _, token = (authorization or "").partition(" ")
    sent = token.strip() if scheme.lower() in ("token", "bearer") and token.strip() else None
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=sent) if sent else None
    return api_caller(state, credentials, x_api_key)


def mem0_memory(
    state: State, caller: Annotated[tuple[str, Writer], Depends(mem0_caller)]
) -> Memory:
    return state.tenants.memory(*caller)


Mem0Memory = Annotated[Memory, Depends(mem0_memory)]


class _Body(BaseModel):
    # Mem0 clients send options remem has no use for (infer, custom_categories...).
    model_config = ConfigDict(extra="ignore")


class Ids(_Body):
    user_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    app_id: str | None = None
    filters: dict[str, Any] | None = None

    def where(self) -> Any:
        top = {k: v for k, v in self.model_dump(include=set(_IDS)).items() if v is not None}
        return read_filters(top, self.filters)


_IDS = ("user_id", "agent_id", "run_id", "app_id")


class AddBody(Ids):
    messages: list[dict[str, Any]] | str
    metadata: dict[str, Any] | None = None
    timestamp: int | float | str | None = None
    expiration_date: str | None = None


class SearchBody(Ids):
    query: str = Field(min_length=1)
    top_k: int = Field(default=10, ge=1, le=MAX_PAGE_SIZE)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    show_expired: bool = False


class ListBody(Ids):
    show_expired: bool = False


class UpdateBody(_Body):
    text: str | None = None
    metadata: dict[str, Any] | None = None
    timestamp: int | float | str | None = None
    expiration_date: str | None = None


@router.get("/v1/ping/")
def ping(caller: Annotated[tuple[str, Writer], Depends(mem0_caller)]) -> dict[str, Any]:
    """Mem0's key check: 200 for a valid remem API key. Mem0's client wants an organisation
    and a project: remem has one tenant per key, so both name it."""
    tenant = caller[0]
    return {"status": "ok", "org_id": "remem", "project_id": tenant, "user_email": None}


@router.post("/v3/memories/add/")
def add(body: AddBody, memory: Mem0Memory) -> dict[str, Any]:
    """Remember the messages: one remem memory per message, returned as ADD events."""
    where = body.where()
    metadata = {**(body.metadata or {}), **where.metadata}
    if body.expiration_date is not None:
        metadata[EXPIRES] = expiration(body.expiration_date)
    messages: Any = body.messages
    if isinstance(messages, list):
        messages = [{k: m[k] for k in ("role", "content", "name") if k in m} for m in messages]
    result = memory.add(
        messages,
        **where.scope,
        timestamp=when(body.timestamp),
        metadata=metadata,
        source="mem0",
    )
    return {"results": [{**memory_out(m), "event": "ADD"} for m in result.memories]}


@router.post("/v3/memories/")
def get_all(
    body: ListBody,
    memory: Mem0Memory,
    request: Request,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> dict[str, Any]:
    """One page of the memories the filters name, newest first, as Mem0 pages them."""
    where = body.where()
    found = memory.list(
        **where.scope, metadata=where.metadata, limit=page_size, offset=(page - 1) * page_size
    )
    today = date.today()
    kept = [m for m in found.items if body.show_expired or not expired(m, today)]

    def link(to: int) -> str:
        return str(request.url.include_query_params(page=to, page_size=page_size))

    more = page * page_size < found.total
    return {
        "count": found.total,
        "next": link(page + 1) if more else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": [memory_out(m) for m in kept],
    }


@router.post("/v3/memories/search/")
def search(body: SearchBody, memory: Mem0Memory) -> dict[str, Any]:
    """remem's hybrid search; ``score`` is the cosine similarity Mem0 reports (``why`` says
    what else ranked each hit), and ``threshold`` applies to it."""
    where = body.where()
    found = memory.search(body.query, **where.scope, metadata=where.metadata, limit=body.top_k)
    today = date.today()
    results = []
    for hit in found.hits:
        dense = hit.signals.get("dense")
        similarity = dense.score if dense is not None else None
        if body.threshold is not None and (similarity is None or similarity < body.threshold):
            continue
        if not body.show_expired and expired(hit.memory, today):
            continue
        score = similarity if similarity is not None else hit.score
        results.append({**memory_out(hit.memory, score=score), "why": hit.explain()})
    return {"results": results}


@router.get("/v1/memories/{memory_id}/")
def get(memory_id: str, memory: Mem0Memory) -> dict[str, Any]:
    """The memory; a deleted one is gone for Mem0 (404), though its history remains."""
    found = memory.get(_resolve(memory, memory_id))
    if found.status in ("deleted", "superseded"):
        raise NotFound(f"no memory {memory_id} (it was deleted; its history remains)")
    return memory_out(found)


@router.put("/v1/memories/{memory_id}/")
def update(memory_id: str, body: UpdateBody, memory: Mem0Memory) -> dict[str, Any]:
    """A new version of the memory (the old one stays in its history)."""
    patch: dict[str, Any] = dict(body.metadata or {})
    if "expiration_date" in body.model_fields_set:
        patch[EXPIRES] = expiration(body.expiration_date)  # None clears it
    changed = memory.update(
        _resolve(memory, memory_id),
        body.text,
        metadata=patch or None,
        valid_from=when(body.timestamp),
        reason="updated through the Mem0 API",
    )
    return memory_out(changed)


@router.delete("/v1/memories/{memory_id}/")
def delete(memory_id: str, memory: Mem0Memory) -> dict[str, Any]:
    memory.delete(_resolve(memory, memory_id), reason="deleted through the Mem0 API")
    return {"message": "Memory deleted successfully!"}


@router.delete("/v1/memories/")
def delete_all(
    memory: Mem0Memory,
    user_id: str | None = None,
    agent_id: str | None = None,
    run_id: str | None = None,
    app_id: str | None = None,
) -> dict[str, Any]:
    """Delete every memory of the named user, agent or run (remem refuses an unscoped one)."""
    ids = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id, "app_id": app_id}
    where = read_filters({k: v for k, v in ids.items() if v is not None})
    if not where.scope:
        raise InvalidInput(
            "delete all needs user_id, agent_id or run_id: remem never deletes a whole tenant"
        )
    if APP_ID not in where.metadata:
        count = memory.delete_all(**where.scope, reason="deleted through the Mem0 API")
    else:
        count = len([_delete(memory, m) for m in _every(memory, where.scope, where.metadata)])
    return {"message": f"Memories deleted successfully! ({count})"}


@router.get("/v1/memories/{memory_id}/history/")
def history(memory_id: str, memory: Mem0Memory) -> list[dict[str, Any]]:
    """Every add, update and delete of the memory, oldest first."""
    return history_out(memory.history(_resolve(memory, memory_id)))


def _resolve(memory: Memory, memory_id: str) -> str:
    """The remem id of ``memory_id``: itself, or the memory imported with that Mem0 id
    (``remem import --from mem0``), so ids a client kept from Mem0 still work."""
    if memory_id.startswith("mem_"):  # remem's own ids; Mem0's are UUIDs
        return memory_id
    page = memory.list(metadata={MEM0_ID: memory_id}, status=_CURRENT, limit=1)
    return page.items[0].id if page.items else memory_id


_CURRENT = ("active", "archived", "quarantined")


def _every(memory: Memory, scope: dict[str, str], metadata: dict[str, Any]) -> list[MemoryRecord]:
    found: list[MemoryRecord] = []
    while True:
        page = memory.list(**scope, metadata=metadata, limit=MAX_PAGE_SIZE, offset=len(found))
        found += page.items
        if not page.items or len(found) >= page.total:
            return found


def _delete(memory: Memory, record: MemoryRecord) -> str:
    memory.delete(record.id, reason="deleted through the Mem0 API")
    return record.id
