"""The entity graph: entities as nodes, the memories that mention them as edges, under the
same two time sliders as the timeline; a click lists a node's facts, each a link to its detail
(and from there its source turns). The page draws it with cytoscape from ``/ui/graph.json``.
"""

from __future__ import annotations

from itertools import combinations
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse

from remem import Memory
from remem.model import MemoryRecord
from remem.ui.pages import PageDep, PageRoute
from remem.ui.times import Day, Sliders, sliders

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: The most entities one drawing shows (oldest first) and memories read per entity.
MOST_ENTITIES = 150
PER_ENTITY = 50
User = Annotated[str, Query(max_length=200)]


def _sliders(memory: Memory, user: str, valid: str, known: str) -> Sliders:
    facts = memory.facts(user_id=user, limit=1000)
    moments = [m.valid_from or m.recorded_at for m in facts]
    return sliders(valid, known, moments, memory.clock())


@router.get("/graph", response_class=HTMLResponse)
def graph(p: PageDep, user: User = "", valid: Day = "", known: Day = "") -> HTMLResponse:
    user = user.strip()
    if not user:
        return p.render("graph.html", user="", view=None, data="")
    s = _sliders(p.memory, user, valid, known)
    query = {"user": user, "valid": valid, "known": known}
    data = "/ui/graph.json?" + urlencode({k: v for k, v in query.items() if v})
    return p.render("graph.html", user=user, view={"sliders": s}, data=data)


@router.get("/graph.json")
def graph_data(p: PageDep, user: User, valid: Day = "", known: Day = "") -> JSONResponse:
    """Nodes (entities, and the user) and edges (a memory between what it mentions)."""
    user = user.strip()
    s = _sliders(p.memory, user, valid, known)
    visible = _visible(p.memory, user, s)
    nodes = {"user": {"id": "user", "label": user, "kind": "user"}}
    edges: dict[str, dict[str, Any]] = {}
    for entity in p.memory.entities(user_id=user)[:MOST_ENTITIES]:
        for m in p.memory.related(entity.id, user_id=user, limit=PER_ENTITY):
            if m.id in visible:
                nodes[entity.id] = {"id": entity.id, "label": entity.name, "kind": entity.type}
                edges.setdefault(m.id, {"memory": visible[m.id], "ends": []})["ends"].append(
                    entity.id
                )
    return JSONResponse(
        {"nodes": list(nodes.values()), "edges": _edges(edges)},
        headers={"Cache-Control": "no-store"},
    )


def _visible(memory: Memory, user: str, s: Sliders) -> dict[str, MemoryRecord]:
    """Facts true at ``valid_at`` as known ``as_of``; turns that had happened and were known."""
    found = {
        m.id: m for m in memory.facts(user_id=user, valid_at=s.valid_at, as_of=s.as_of, limit=1000)
    }
    for turn in memory.list(user_id=user, kinds="episode", limit=1000).items:
        happened = turn.valid_from or turn.recorded_at
        if (s.valid_at is None or happened <= s.valid_at) and (
            s.as_of is None or turn.recorded_at <= s.as_of
        ):
            found[turn.id] = turn
    return found


def _edges(found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A memory naming one entity ties it to the user; naming several, ties them together."""
    edges = []
    for memory_id, edge in found.items():
        m: MemoryRecord = edge["memory"]
        ends = edge["ends"]
        pairs = list(combinations(ends, 2)) if len(ends) > 1 else [("user", ends[0])]
        for n, (a, b) in enumerate(pairs):
            edges.append(
                {
                    "id": f"{memory_id}-{n}",
                    "source": a,
                    "target": b,
                    "memory": memory_id,
                    "kind": m.kind,
                    "text": m.text,
                }
            )
    return edges
