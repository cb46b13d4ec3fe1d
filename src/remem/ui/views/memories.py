"""Memories: the filtered, paged table and one memory's detail with its actions.

Every action (edit, pin, delete, forget) is a POST with the page's CSRF token, confirmed
in the browser first; it answers with the page to show next.
"""

from __future__ import annotations

import difflib
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from remem.errors import InvalidInput
from remem.model import KINDS, LAYERS, MemoryRecord
from remem.ui.pages import PageDep, PageRoute
from remem.ui.security import check_csrf

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 50
#: What the table's status filter offers: the statuses a memory has while it is current.
LIST_STATUSES = ("active", "archived", "quarantined", "poisoned")
#: The retention curve's points: days from now.
CURVE_DAYS = (0, 1, 2, 4, 7, 14, 21, 30, 45, 60, 90)

Text = Annotated[str, Query(max_length=200)]
#: A day from the browser's date picker, or empty.
Date = Annotated[str, Query(pattern=r"^(\d{4}-\d{2}-\d{2})?$")]


def _blank(value: str) -> str | None:
    return value.strip() or None


@router.get("/", response_class=HTMLResponse)
def home() -> Response:
    return RedirectResponse("/ui/memories", status_code=303)


@router.get("/memories", response_class=HTMLResponse)
def memories(
    p: PageDep,
    user: Text = "",
    agent: Text = "",
    session: Text = "",
    kind: Text = "",
    layer: Text = "",
    status: Text = "active",
    after: Date = "",
    before: Date = "",
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HTMLResponse:
    """The table: the facade's ``list``, 50 rows a page, newest first; the time range is
    event time, ``before`` counting its whole day."""
    filters = {
        "user": user,
        "agent": agent,
        "session": session,
        "kind": kind,
        "layer": layer,
        "after": after,
        "before": before,
    }
    start, end = _day(after, "from"), _day(before, "to")
    page = p.memory.list(
        user_id=_blank(user),
        agent_id=_blank(agent),
        session_id=_blank(session),
        kinds=_blank(kind),
        layers=_blank(layer),
        status=status or "active",
        limit=PAGE_SIZE,
        offset=offset,
        after=start.isoformat() if start else None,
        before=(end + timedelta(days=1)).isoformat() if end else None,
    )
    query = {k: v for k, v in (filters | {"status": status}).items() if v}
    return p.render(
        "memories.html",
        page=page,
        filters=filters,
        status=status,
        query=query,
        kinds=KINDS,
        layers=LAYERS,
        statuses=LIST_STATUSES,
    )


@router.get("/memories/{memory_id}", response_class=HTMLResponse)
def detail(p: PageDep, memory_id: str) -> HTMLResponse:
    """Text, source turns, versions with a diff, history, retention; the actions."""
    memory = p.memory.get(memory_id)
    versions = p.memory.versions(memory_id)
    turns = p.memory.surrounding(memory_id, window=2)
    now = p.memory.clock()
    curve = [(d, p.memory.retention(memory, now + timedelta(days=d))) for d in CURVE_DAYS]
    return p.render(
        "memory.html",
        memory=memory,
        versions=[
            (v, _diff(prev, v)) for prev, v in zip([None, *versions[:-1]], versions, strict=True)
        ],
        events=p.memory.history(memory_id),
        turns=turns,
        source=memory.provenance[0] if memory.provenance else None,
        curve=curve,
        points=_polyline(curve),
    )


def _day(value: str, name: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInput(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def _diff(before: MemoryRecord | None, after: MemoryRecord) -> list[tuple[str, str]]:
    """Word-level changes from one version's text to the next, as (op, words) pairs."""
    if before is None:
        return [("same", after.text)]
    old, new = before.text.split(), after.text.split()
    parts: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
        if op == "equal":
            parts.append(("same", " ".join(old[i1:i2])))
            continue
        if i2 > i1:
            parts.append(("del", " ".join(old[i1:i2])))
        if j2 > j1:
            parts.append(("ins", " ".join(new[j1:j2])))
    return parts


def _polyline(curve: list[tuple[int, float]]) -> str:
    """SVG points for the retention curve in a 300 x 100 box (days across, strength up)."""
    last = curve[-1][0] or 1
    return " ".join(f"{d * 300 / last:.1f},{100 - r * 100:.1f}" for d, r in curve)


def done(request: Request, target: str) -> Response:
    """After a write: htmx follows ``HX-Redirect``; a plain form a 303."""
    if request.headers.get("HX-Request"):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


Csrf = Annotated[str, Form(max_length=200)]


@router.post("/memories/{memory_id}/edit")
def edit(
    request: Request,
    p: PageDep,
    memory_id: str,
    text: Annotated[str, Form(max_length=100_000)],
    csrf: Csrf = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    check_csrf(request, p.who, csrf)
    p.memory.update(memory_id, text, reason=_blank(reason) or "edited in the inspector")
    return done(request, f"/ui/memories/{memory_id}")


@router.post("/memories/{memory_id}/pin")
def pin(
    request: Request,
    p: PageDep,
    memory_id: str,
    pinned: Annotated[bool, Form()] = True,
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, p.who, csrf)
    p.memory.pin(memory_id, pinned)
    return done(request, f"/ui/memories/{memory_id}")


@router.post("/memories/{memory_id}/delete")
def delete(
    request: Request,
    p: PageDep,
    memory_id: str,
    csrf: Csrf = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    check_csrf(request, p.who, csrf)
    p.memory.delete(memory_id, reason=_blank(reason) or "deleted in the inspector")
    return done(request, "/ui/memories")


@router.post("/memories/{memory_id}/forget")
def forget(request: Request, p: PageDep, memory_id: str, csrf: Csrf = "") -> Response:
    check_csrf(request, p.who, csrf)
    p.memory.forget(memory_id)
    return done(request, "/ui/memories")
