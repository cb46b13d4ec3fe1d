"""The HTTP API: ``create_app`` builds a FastAPI app over ONE store and ONE embedder.

Every request is authenticated by an API key that names its tenant; the route
then calls ``remem.Memory`` bound to that tenant, so isolation is the engine's
own (every store query filters by tenant) and the service adds no policy of its
own. Routes under ``/v1`` mirror the facade one to one.

Where things are: the routes in ``routers/`` (one module per area), the key and
tenant dependencies in ``deps``, the shared state in ``state``, the size and
query-string guards and the last-resort 500 in ``middleware``, the JSON error in ``errors``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from remem import __version__
from remem.errors import RememError
from remem.providers.embedder import Embedder
from remem.providers.llm import LLM
from remem.service.errors import ERRORS, error_response, remem_error_response
from remem.service.keys import KeyStore
from remem.service.metrics import RequestMetrics
from remem.service.middleware import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_IMPORT,
    BodyLimit,
    InternalErrors,
    SingleValuedQuery,
)
from remem.service.routers import ROUTERS
from remem.service.state import ServiceState, open_state
from remem.stores import Store
from remem.ui import mount_ui

log = logging.getLogger("remem.service")


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
    mem0_compat: bool = False,
    ui: bool = True,
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
    ``mem0_compat`` also serves Mem0's REST routes (``routers/mem0.py``), same keys and tenants.
    The app's ``state.remem`` is the ``ServiceState`` (tenants, keys, metrics, workers).
    ``ui`` serves the web inspector at ``/ui`` (``remem.ui``) behind the same keys.
    """
    state = open_state(
        location,
        store=store,
        embedder=embedder,
        keys=keys,
        auth=auth,
        tenant=tenant,
        maintain_every_s=maintain_every_s,
        llm=llm,
        extract_in_background=extract_in_background,
        extract_every_s=extract_every_s,
    )
    app = FastAPI(
        title="remem",
        version=__version__,
        description="Long-term memory for LLM agents. Every route works inside the tenant of its "
        "API key (Authorization: Bearer <key>, or X-API-Key).",
        lifespan=_lifespan,
        responses=ERRORS,
    )
    app.state.remem = state
    app.add_middleware(SingleValuedQuery)
    app.add_middleware(BodyLimit, max_body=max_body_bytes, max_import=max_import_bytes)
    app.add_middleware(RequestMetrics, metrics=state.metrics)
    # Outermost of ours: whatever fails below is answered, and the connection stays open.
    app.add_middleware(InternalErrors)
    app.add_exception_handler(RememError, _remem_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    routers = ROUTERS
    if mem0_compat:
        from remem.service.routers import mem0

        routers = (*ROUTERS, mem0.router)
    app.state.routers = routers
    for router in routers:
        app.include_router(router)
    if ui:
        mount_ui(app)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServiceState = app.state.remem
    await state.start()
    try:
        yield
    finally:
        await state.stop()


# -- errors: typed, JSON, never a traceback --------------------------------------
async def _remem_error(_: Request, exc: RememError) -> JSONResponse:
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc)
    return remem_error_response(exc)


async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors()[:5]:
        if err.get("type") == "json_invalid":  # FastAPI's message hides the parser's
            problems.append(f"the body is not valid JSON: {err.get('ctx', {}).get('error')}")
            continue
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    return error_response(422, "invalid_input", "; ".join(problems))


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    where = f"{request.method} {request.url.path}"
    response = error_response(exc.status_code, code, f"{exc.detail}: {where}")
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route on the path; list every method it has.
        response.headers["Allow"] = ", ".join(sorted(_methods_on_path(request)))
    return response


def _methods_on_path(request: Request) -> set[str]:
    # The app holds one entry per included router, not its routes: read the routers' own.
    routers: tuple[APIRouter, ...] = request.app.state.routers
    routes = [*request.app.routes, *(route for router in routers for route in router.routes)]
    allowed: set[str] = set()
    for route in routes:
        methods = getattr(route, "methods", None)
        if methods and route.matches(request.scope)[0] is not Match.NONE:
            allowed |= methods
    return allowed
