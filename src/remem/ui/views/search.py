"""Search: the facade's hybrid search, each hit with its per-signal explanation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from remem.recipes import RECIPES
from remem.ui.pages import PageDep, PageRoute

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)


def _blank(value: str) -> str | None:
    return value.strip() or None


@router.get("/search", response_class=HTMLResponse)
def search(
    p: PageDep,
    q: Annotated[str, Query(max_length=2000)] = "",
    user: Annotated[str, Query(max_length=200)] = "",
    recipe: Annotated[str, Query(max_length=50)] = "hybrid",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> HTMLResponse:
    """Hits with the rank and score each signal gave, the boosts, and the guard's flags."""
    results = None
    if q.strip():
        results = p.memory.search(
            q, user_id=_blank(user), recipe=recipe, limit=limit, context_window=1
        )
    return p.render(
        "search.html",
        q=q,
        user=user,
        recipe=recipe,
        recipes=sorted(RECIPES),
        limit=limit,
        results=results,
    )
