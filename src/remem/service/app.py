"""The HTTP API: ``create_app`` builds a FastAPI app over ONE store and ONE embedder.

Every request is authenticated by an API key that names its tenant; the route
then calls ``remem.Memory`` bound to that tenant, so isolation is the engine's
own (every store query filters by tenant) and the service adds no policy of its
own. Routes under ``/v1`` mirror the facade one to one.
"""

import io
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from remem import __version__
from remem.config import default_location
from remem.engine import Memory
from remem.errors import InvalidInput, RememError, Unauthorized
from remem.model import (
    AddResult,
    Context,
    Entity,
    Episode,
    Event,
    MemoryRecord,
    SearchResults,
)
from remem.model import Scope as MemoryScope
from remem.pipeline.background import BackgroundMaintenance, ExtractionWorker
from remem.providers.embedder import Embedder, default_embedder
from remem.providers.llm import LLM, default_llm
from remem.service.keys import ApiKey, KeyStore
from remem.service.metrics import MeteredEmbedder, MeteredLLM, Metrics, RequestMetrics
from remem.service.schemas import (
    ERRORS,
    MAX_OFFSET,
    AddRequest,
    ContextRequest,
    Counts,
    Deleted,
    Forgotten,
    Health,
    Id,
    Kind,
    Layer,
    MaintainRequest,
    MaintenanceOut,
    PageOut,
    PinRequest,
    SearchRequest,
    SummarizeRequest,
    UpdateRequest,
    storable,
    storable_json,
)
from remem.stores import MemoryFilter, Store, open_store

log = logging.getLogger("remem.service")

DEFAULT_MAX_BODY = 1 << 20  # 1 MiB: thousands of chat turns per add
DEFAULT_MAX_IMPORT = 64 << 20
_IMPORT_PATH = "/v1/import"


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


#: Query parameters that take several values (``?kind=fact&kind=episode``); others take one.
LIST_PARAMS = frozenset({"kind", "status", "layer"})


class SingleValuedQuery:
    """ASGI middleware: 422 for a repeated single-valued query parameter.

    FastAPI would silently keep the last value, so ``?user_id=&user_id=ana`` passed
    validation on a value the caller may not have meant; ambiguity is refused instead.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            query = scope["query_string"].decode("latin-1")
            seen: set[str] = set()
            for key, _ in parse_qsl(query, keep_blank_values=True):
                if key in seen and key not in LIST_PARAMS:
                    message = f"query parameter {key!r} is given more than once"
                    await error_response(422, "invalid_input", message)(scope, receive, send)
                    return
                seen.add(key)
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: read the body up to a limit before the app sees it; 413 past it.

    Buffering first means an oversized request is refused before any route runs,
    so nothing of it can be stored, whether or not it announced its length.
    """

    def __init__(self, app: ASGIApp, max_body: int, max_import: int) -> None:
        self.app, self.max_body, self.max_import = app, max_body, max_import

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_import if scope["path"] == _IMPORT_PATH else self.max_body
        too_large = error_response(413, "too_large", f"request body is over {limit} bytes")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class Tenants:
    """One ``Memory`` per tenant over the shared store and embedder (cheap; bound once)."""

    def __init__(
        self, store: Store, embedder: Embedder, llm: LLM | None, extraction: str = "inline"
    ) -> None:
        self.store, self.embedder, self.llm = store, embedder, llm
        self.extraction = extraction
        self._memories: dict[str, Memory] = {}
        self._lock = threading.Lock()

    def memory(self, tenant: str) -> Memory:
        with self._lock:
            found = self._memories.get(tenant)
            if found is None:
                found = Memory(
                    store=self.store,
                    embedder=self.embedder,
                    llm=self.llm,
                    tenant=tenant,
                    extraction=self.extraction,
                )
                self._memories[tenant] = found
            return found


def create_app(
    location: str | Path | None = None,
    *,
    store: Store | None = None,
    embedder: Embedder | None = None,
    keys: KeyStore | None = None,
    auth: bool = True,
    tenant: str = "default",
    max_body_bytes: int = DEFAULT_MAX_BODY,
    max_import_bytes: int = DEFAULT_MAX_IMPORT,
    maintain_every_s: float | None = None,
    llm: LLM | str | None = "env",
    extract_in_background: bool = False,
    extract_every_s: float = 5.0,
) -> FastAPI:
    """The API over ``store`` (or the store at ``location``) with keys from the same database.

    ``auth=False`` is the development mode: no key is asked for and every request
    works in ``tenant``. Stores and key tables the app opened itself close on shutdown.
    ``maintain_every_s`` runs ``Memory.maintain`` for every tenant with a key (or the
    development tenant) in a background thread while the app is up. ``llm`` (default:
    the one ``REMEM_LLM_URL`` configures, if any; None: offline) is shared by every
    tenant and metered. ``extract_in_background``: adds only queue their fact extraction
    and one worker thread drains every such tenant's queue (woken by each add, else every
    ``extract_every_s`` seconds); other servers on the same database may drain it too.
    """
    owned: list[Any] = []
    if store is not None and auth and keys is None and location is None:
        raise ValueError("create_app(store=...) with auth needs keys= or the store's location")
    target = str(location or default_location())
    if store is None:
        store = open_store(target)
        owned.append(store)
    if auth and keys is None:
        keys = KeyStore(target)
        owned.append(keys)
    metrics = Metrics()
    shared_embedder = MeteredEmbedder(embedder or default_embedder(), metrics)
    model = default_llm() if llm == "env" else llm
    shared_llm = None if model is None else MeteredLLM(model, metrics)  # type: ignore[arg-type]
    if llm == "env" and shared_llm is not None:
        owned.append(shared_llm)
    background = extract_in_background and shared_llm is not None
    tenants = Tenants(store, shared_embedder, shared_llm, "queue" if background else "inline")
    store.bind_embedder(shared_embedder.model_id, shared_embedder.dimension)
    state = {"ready": False}

    def maintain_all() -> dict[str, Any]:
        names = {k.tenant for k in keys.list() if k.active} if auth and keys else {tenant}
        return {name: tenants.memory(name).maintain().as_dict() for name in sorted(names)}

    maintenance = (
        BackgroundMaintenance(maintain_all, maintain_every_s) if maintain_every_s else None
    )

    def extract_all() -> int:
        names = {k.tenant for k in keys.list() if k.active} if auth and keys else {tenant}
        return sum(tenants.memory(name).drain_extraction_queue() for name in sorted(names))

    extraction = ExtractionWorker(extract_all, extract_every_s) if background else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Load the model before the first request, so readiness means fast answers.
        await run_in_threadpool(shared_embedder.embed_query, "warm up")
        state["ready"] = True
        for runner in (maintenance, extraction):
            if runner is not None:
                runner.start()
        try:
            yield
        finally:
            state["ready"] = False
            for runner in (maintenance, extraction):
                if runner is not None:
                    await run_in_threadpool(runner.stop)
            for thing in reversed(owned):
                thing.close()

    app = FastAPI(
        title="remem",
        version=__version__,
        description="Long-term memory for LLM agents. Every route works inside the tenant of its "
        "API key (Authorization: Bearer <key>, or X-API-Key).",
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.state.metrics = metrics
    app.state.tenants = tenants
    app.state.keys = keys
    app.state.maintenance = maintenance
    app.state.extraction = extraction
    app.add_middleware(SingleValuedQuery)
    app.add_middleware(BodyLimit, max_body=max_body_bytes, max_import=max_import_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)

    bearer = HTTPBearer(auto_error=False, description="An API key from `remem keys create`.")
    header = APIKeyHeader(name="X-API-Key", auto_error=False)

    def tenant_memory(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        api_key: Annotated[str | None, Security(header)],
    ) -> Memory:
        if not auth:
            return tenants.memory(tenant)
        assert keys is not None
        token = credentials.credentials if credentials else api_key
        if not token:
            raise Unauthorized("an API key is required: Authorization: Bearer <key>")
        key: ApiKey | None = keys.authenticate(token)
        if key is None:
            raise Unauthorized("unknown or revoked API key")
        return tenants.memory(key.tenant)

    Tenant = Annotated[Memory, Depends(tenant_memory)]
    UserQ = Annotated[Id | None, Query(description="Only this user's memories.")]
    AgentQ = Annotated[Id | None, Query(description="Only this agent's memories.")]
    SessionQ = Annotated[Id | None, Query(description="Only this session's memories.")]
    MemoryId = Annotated[str, PathParam(min_length=1, max_length=512), AfterValidator(storable)]

    # -- errors: typed, JSON, never a traceback --------------------------------
    @app.exception_handler(RememError)
    async def _remem_error(_: Request, exc: RememError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("%s: %s", exc.code, exc)
        return error_response(exc.status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return error_response(422, "invalid_input", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        where = f"{request.method} {request.url.path}"
        response = error_response(exc.status_code, code, f"{exc.detail}: {where}")
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route on the path; list every method it has.
            allowed = set()
            for route in app.routes:
                methods = getattr(route, "methods", None)
                if methods and route.matches(request.scope)[0] is not Match.NONE:
                    allowed |= methods
            response.headers["Allow"] = ", ".join(sorted(allowed))
        return response

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error; the server log has the details")

    # -- operations ------------------------------------------------------------
    @app.get("/healthz", tags=["operations"])
    def healthz() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @app.get("/readyz", tags=["operations"], responses={503: {"model": Health}})
    def readyz() -> Any:
        """Readiness: the model is loaded and the store (and key table) answer."""
        try:
            store.count_memories(MemoryFilter(scope=MemoryScope(tenant="readiness-probe")))
            if keys is not None:
                keys.authenticate("remem_probe_probe")
        except Exception as exc:  # the reason goes to the log: it may name hosts and users
            log.warning("readiness check failed: %s", exc)
            detail = Health(status="unavailable", detail="store unavailable").model_dump()
            return JSONResponse(detail, 503)
        if not state["ready"]:
            return JSONResponse(Health(status="unavailable", detail="warming up").model_dump(), 503)
        return Health(status="ok")

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus() -> Response:
        """Prometheus metrics: request latency, adds, searches, model (embedder, LLM) calls."""
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    # -- memories --------------------------------------------------------------
    @app.post("/v1/memories", tags=["memories"], status_code=201)
    def add(body: AddRequest, memory: Tenant) -> AddResult:
        """Remember a text or a conversation: one episode and one memory per message."""
        messages: Any = (
            body.text
            if body.messages is None
            else [m.model_dump(exclude_none=True) for m in body.messages]
        )
        result = memory.add(
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
        metrics.added.inc(len(result.memories))
        if extraction is not None and result.extraction and result.extraction.status == "queued":
            extraction.wake()
        return result

    @app.post("/v1/search", tags=["memories"])
    def search(body: SearchRequest, memory: Tenant) -> SearchResults:
        """Ranked memories for a query; each hit says which signals found it."""
        results = memory.search(body.query, **body.model_dump(exclude={"query"}))
        metrics.searches.inc()
        return results

    @app.get("/v1/memories", tags=["memories"])
    def list_memories(
        memory: Tenant,
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
    ) -> PageOut:
        """Current memories, newest first, one page at a time (follow ``next_offset``)."""
        page = memory.list(
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            kinds=kind,
            status=status or "active",
            metadata=_json_object(metadata, "metadata"),
            limit=limit,
            offset=offset,
            layers=layer,
        )
        return PageOut(
            items=list(page.items),
            total=page.total,
            offset=page.offset,
            limit=page.limit,
            next_offset=page.next_offset,
        )

    @app.delete("/v1/memories", tags=["memories"])
    def delete_all(
        memory: Tenant,
        user_id: UserQ = None,
        agent_id: AgentQ = None,
        session_id: SessionQ = None,
        reason: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> Deleted:
        """Soft-delete every memory of one explicit user, agent or session (400 without one)."""
        deleted = memory.delete_all(
            user_id=user_id, agent_id=agent_id, session_id=session_id, reason=_safe(reason)
        )
        return Deleted(deleted=deleted)

    @app.get("/v1/memories/{memory_id}", tags=["memories"])
    def get(
        memory_id: MemoryId,
        memory: Tenant,
        user_id: UserQ = None,
        agent_id: AgentQ = None,
        version: Annotated[int | None, Query(ge=1, le=MAX_OFFSET)] = None,
        as_of: Annotated[str | None, Query(max_length=64)] = None,
    ) -> MemoryRecord:
        """The current version, a given version, or the one believed at ``as_of``."""
        return memory.get(
            memory_id, user_id=user_id, agent_id=agent_id, version=version, as_of=_safe(as_of)
        )

    @app.patch("/v1/memories/{memory_id}", tags=["memories"])
    def update(memory_id: MemoryId, body: UpdateRequest, memory: Tenant) -> MemoryRecord:
        """Write a new version; the old one stays in the history."""
        return memory.update(memory_id, **body.model_dump(exclude_unset=True))

    @app.delete("/v1/memories/{memory_id}", tags=["memories"])
    def delete(
        memory_id: MemoryId,
        memory: Tenant,
        user_id: UserQ = None,
        agent_id: AgentQ = None,
        reason: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> MemoryRecord:
        """Soft delete: hidden from search and list, kept in the history."""
        return memory.delete(memory_id, user_id=user_id, agent_id=agent_id, reason=_safe(reason))

    @app.post("/v1/memories/{memory_id}/forget", tags=["memories"])
    def forget(
        memory_id: MemoryId, memory: Tenant, user_id: UserQ = None, agent_id: AgentQ = None
    ) -> Forgotten:
        """Hard delete: erase every version, its index entries and uncited source turns."""
        return Forgotten(
            id=memory_id, erased=memory.forget(memory_id, user_id=user_id, agent_id=agent_id)
        )

    @app.get("/v1/memories/{memory_id}/history", tags=["memories"])
    def history(memory_id: MemoryId, memory: Tenant, user_id: UserQ = None) -> list[Event]:
        """Every operation on the memory, oldest first, with the record after it."""
        return memory.history(memory_id, user_id=user_id)

    @app.get("/v1/memories/{memory_id}/versions", tags=["memories"])
    def versions(memory_id: MemoryId, memory: Tenant) -> list[MemoryRecord]:
        """Every version of the memory, oldest first."""
        return memory.versions(memory_id)

    @app.get("/v1/facts", tags=["graph"])
    def facts(
        memory: Tenant,
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
            valid_at=_safe(valid_at),
            as_of=_safe(as_of),
            current=current,
            limit=limit,
            offset=offset,
        )

    @app.get("/v1/entities", tags=["graph"])
    def entities(
        memory: Tenant,
        user_id: UserQ = None,
        name: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
    ) -> list[Entity]:
        """The user's entities, or those a name (or alias) resolves to."""
        return memory.entities(user_id=user_id, name=_safe(name))

    @app.get("/v1/entities/{entity_id}/related", tags=["graph"])
    def related(
        entity_id: MemoryId,
        memory: Tenant,
        user_id: UserQ = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> list[MemoryRecord]:
        """Current memories that mention the entity (its edges in the graph), newest first."""
        return memory.related(entity_id, user_id=user_id, limit=limit)

    @app.get("/v1/memories/{memory_id}/surrounding", tags=["memories"])
    def surrounding(
        memory_id: MemoryId, memory: Tenant, window: Annotated[int, Query(ge=0, le=20)] = 2
    ) -> list[Episode]:
        """The conversation turns around the one the memory came from."""
        return memory.surrounding(memory_id, window)

    # -- lifecycle ---------------------------------------------------------------
    @app.post("/v1/context", tags=["lifecycle"])
    def context(body: ContextRequest, memory: Tenant) -> Context:
        """A prompt-ready block: profile, summaries, facts and turns, within a token budget."""
        return memory.context(body.query, **body.model_dump(exclude={"query"}))

    @app.post("/v1/maintain", tags=["lifecycle"])
    def maintain(body: MaintainRequest, memory: Tenant) -> MaintenanceOut:
        """Move memories between layers and archive the faded ones (nothing is deleted)."""
        return MaintenanceOut(**memory.maintain(**body.model_dump()).as_dict())

    @app.post("/v1/summarize", tags=["lifecycle"])
    def summarize(body: SummarizeRequest, memory: Tenant) -> list[MemoryRecord]:
        """Summaries of changed sessions, the running summary and the profile; what was written."""
        return memory.summarize(**body.model_dump())

    @app.get("/v1/profile", tags=["lifecycle"])
    def profile(
        memory: Tenant,
        user_id: UserQ = None,
        agent_id: AgentQ = None,
        refresh: Annotated[bool, Query(description="Rebuild it now.")] = False,
    ) -> MemoryRecord:
        """The user's profile: stable facts and recent changes, each citing its memory."""
        return memory.profile(user_id=user_id, agent_id=agent_id, refresh=refresh)

    @app.post("/v1/memories/{memory_id}/pin", tags=["lifecycle"])
    def pin(memory_id: MemoryId, body: PinRequest, memory: Tenant) -> MemoryRecord:
        """Pin (never fades, never archived) or unpin a memory."""
        return memory.pin(memory_id, body.pinned, user_id=body.user_id)

    @app.get("/v1/stats", tags=["memories"])
    def stats(memory: Tenant, user_id: UserQ = None) -> dict[str, Any]:
        """What this tenant (or one user) holds: counts by kind and status."""
        return memory.stats(user_id=user_id)

    # -- portability -----------------------------------------------------------
    @app.get(
        "/v1/export",
        tags=["portability"],
        response_class=Response,
        responses={200: {"content": {"application/x-ndjson": {}}}},
    )
    def export(memory: Tenant) -> Response:
        """Every record of this tenant as JSONL (counts in the Remem-Counts header)."""
        out = io.StringIO()
        counts = memory.export(out)
        return Response(
            out.getvalue().encode(),
            media_type="application/x-ndjson",
            headers={"Remem-Counts": json.dumps(counts)},
        )

    @app.post(
        _IMPORT_PATH,
        tags=["portability"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            }
        },
    )
    async def import_(request: Request, memory: Tenant) -> Counts:
        """Load a JSONL export into this tenant, all or nothing."""
        raw = await request.body()
        if not raw.strip():
            raise InvalidInput("the request body is empty: send a remem JSONL export")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the export must be UTF-8 JSONL") from exc
        counts = await run_in_threadpool(memory.import_, io.StringIO(text))
        return Counts(**counts)

    return app


def _safe(value: str | None) -> str | None:
    try:
        return None if value is None else storable(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def _json_object(text: str | None, field: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = storable_json(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{field} must be a JSON object: {exc.msg}") from exc
    except ValueError as exc:
        raise InvalidInput(f"{field}: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be a JSON object")
    return value
