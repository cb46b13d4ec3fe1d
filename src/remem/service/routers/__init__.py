"""One ``APIRouter`` per area of the API; ``create_app`` includes them in this order."""

from fastapi import APIRouter

from remem.service.routers import graph, lifecycle, memories, operations, portability, search

ROUTERS: tuple[APIRouter, ...] = (
    operations.router,
    memories.router,
    search.router,
    graph.router,
    lifecycle.router,
    portability.router,
)

__all__ = ["ROUTERS"]
