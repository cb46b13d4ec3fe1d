"""What every UI page shares: the templates, the page route class, the caller's ``Memory``.

``PageRoute`` wraps each UI route so that a remem error becomes a message on a page (or
the login form), never JSON or a stack trace, and every answer carries the security
headers. Routes ask for ``Page`` (a ``Memory`` of the caller's tenant plus what the
templates need) and call the facade only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from remem import Memory
from remem.errors import RememError
from remem.model import Writer
from remem.ui.security import CSRF_HEADER, HEADERS, Caller, LoginRequired, caller

if TYPE_CHECKING:
    from remem.service.state import ServiceState

log = logging.getLogger("remem.ui")
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


templates.env.filters["when"] = _when
templates.env.globals["csrf_header"] = CSRF_HEADER


class PageRoute(APIRoute):
    """A UI route: errors as messages, the login form when signed out, headers always."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                target = urlencode({"next": request.url.path})
                response = RedirectResponse(f"/ui/login?{target}", status_code=303)
            except RememError as exc:
                response = error_page(request, exc.status, str(exc))
            except RequestValidationError as exc:
                response = error_page(request, 422, _invalid(exc))
            except Exception:
                log.exception("UI page failed: %s %s", request.method, request.url.path)
                response = error_page(request, 500, "something went wrong; the log has details")
            response.headers.update(HEADERS)
            return response

        return route


def _invalid(exc: RequestValidationError) -> str:
    problems = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body"))
        problems.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(problems)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """A whole page around the message: htmx swaps error answers too (``responseHandling``
    in base.html), and the message sits in ``#view`` for the views that reload only that."""
    values = {"message": message, "status": status, "csrf": ""}
    return templates.TemplateResponse(request, "error.html", values, status_code=status)


class InspectorState:
    """What the inspector keeps beside the service: one ``Memory`` per tenant and writer over
    the service's store and embedder, and the folder of eval reports it may show (None: none).

    Looking is not recalling: these never count a read as a recall, so inspecting a memory
    does not strengthen it.
    """

    def __init__(self, state: ServiceState, evals: Path | None = None) -> None:
        self.state, self.evals = state, evals
        self._memories: dict[tuple[str, Writer], Memory] = {}
        self._lock = threading.Lock()

    def memory(self, who: Caller) -> Memory:
        with self._lock:
            found = self._memories.get((who.tenant, who.writer))
            if found is None:
                tenants = self.state.tenants
                found = Memory(
                    store=tenants.store,
                    embedder=tenants.embedder,
                    llm=tenants.llm,
                    tenant=who.tenant,
                    writer=who.writer,
                    extraction=tenants.extraction,
                    track_recalls=False,
                )
                self._memories[who.tenant, who.writer] = found
            return found


class Page:
    """A request's caller, its ``Memory``, the eval folder, and a ``render`` for templates."""

    def __init__(
        self, request: Request, who: Caller, memory: Memory, auth: bool, evals: Path | None
    ) -> None:
        self.request, self.who, self.memory, self.auth = request, who, memory, auth
        self.evals = evals

    def render(self, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        values |= {"csrf": self.who.csrf, "tenant": self.who.tenant, "auth": self.auth}
        return templates.TemplateResponse(self.request, name, values, status_code=status_code)


def page(request: Request) -> Page:
    state: ServiceState = request.app.state.remem
    inspector: InspectorState = request.app.state.remem_ui
    who = caller(request, state)
    return Page(request, who, inspector.memory(who), state.auth, inspector.evals)


PageDep = Annotated[Page, Depends(page)]
