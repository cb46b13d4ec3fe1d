"""One router per view of the inspector; ``mount_ui`` includes them in this order."""

from fastapi import APIRouter

from remem.ui.views import login, memories, search

ROUTERS: tuple[APIRouter, ...] = (login.router, memories.router, search.router)

__all__ = ["ROUTERS"]
