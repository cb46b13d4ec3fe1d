"""One ``APIRouter`` per area of the API; ``create_app`` includes them in this order."""

from fastapi import APIRouter

from remem.service.routers import (
    graph,
    lifecycle,
    memories,
    operations,
    portability,
    review,
    search,
)

ROUTERS: tuple[APIRouter, ...] = (
    operations.router,
    memories.router,
    search.router,
    graph.router,
    lifecycle.router,
    portability.router,
    review.router,
)

__all__ = ["ROUTERS"]
