"""One router per view of the inspector; ``mount_ui`` includes them in this order."""

from fastapi import APIRouter

from remem.ui.views import graph, login, memories, review, search, service, timeline

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    memories.router,
    search.router,
    timeline.router,
    graph.router,
    review.router,
    service.router,
)

__all__ = ["ROUTERS"]
