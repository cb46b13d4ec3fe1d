"""The web inspector: see, search, correct and audit memory in a browser (docs/ui.md).

Server-rendered pages (jinja2) over the public ``Memory`` facade, with htmx for small
interactions and cytoscape for the graph, both vendored from npm at pinned versions
(``scripts/vendor_ui.sh``): installing remem needs no JavaScript build. ``mount_ui`` adds
it at ``/ui`` to the HTTP service, behind the same keys and tenants as the API.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from remem.ui.pages import HERE, InspectorState
from remem.ui.views import ROUTERS


def mount_ui(app: FastAPI) -> None:
    """Serve the inspector at ``/ui`` of an app ``create_app`` built (it reads ``state.remem``)."""
    app.state.remem_ui = InspectorState(app.state.remem)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")


__all__ = ["mount_ui"]
