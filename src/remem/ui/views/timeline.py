"""Timeline per user: sessions by date, facts as validity intervals, and two sliders that show
what was true at an event time (``valid_at``) and what was known at a system time (``as_of``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from remem.model import MemoryRecord
from remem.ui.pages import PageDep, PageRoute
from remem.ui.times import Day, Sliders, day_of, sliders

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: The most turns and facts one timeline reads (newest first).
MOST = 1000
#: The drawing's width in SVG units; a fact is one row of ROW units.
WIDTH, ROW = 1000, 22


def _start(m: MemoryRecord) -> datetime:
    return m.valid_from or m.recorded_at


@router.get("/timeline", response_class=HTMLResponse)
def timeline(
    p: PageDep,
    user: Annotated[str, Query(max_length=200)] = "",
    valid: Day = "",
    known: Day = "",
) -> HTMLResponse:
    user = user.strip()
    if not user:
        return p.render("timeline.html", user="", view=None)
    turns = p.memory.list(user_id=user, kinds="episode", limit=MOST).items
    everything = p.memory.facts(user_id=user, limit=MOST)
    moments = [_start(m) for m in (*turns, *everything)] + [
        m.valid_to for m in everything if m.valid_to
    ]
    s = sliders(valid, known, moments, p.memory.clock())
    known_facts = p.memory.facts(user_id=user, as_of=s.as_of, limit=MOST)
    true_ids = (
        {m.id for m in p.memory.facts(user_id=user, valid_at=s.valid_at, as_of=s.as_of, limit=MOST)}
        if s.valid_at
        else {m.id for m in known_facts}
    )
    view = {
        "sliders": s,
        "sessions": _sessions(turns),
        "facts": [_bar(m, s, m.id in true_ids) for m in sorted(known_facts, key=_start)],
        "hidden": len(everything) - len(known_facts),
        "marks": [_x(d, s) for d in (s.valid_day, s.known_day)],
    }
    return p.render("timeline.html", user=user, view=view, height=ROW * len(known_facts) + 30)


def _sessions(turns: tuple[MemoryRecord, ...]) -> list[dict[str, Any]]:
    """One entry per session: its first and last turn, how many, oldest first."""
    found: dict[str, list[MemoryRecord]] = defaultdict(list)
    for turn in turns:
        found[turn.scope.session_id or "(no session)"].append(turn)
    rows = [
        {"id": sid, "first": min(map(_start, ts)), "last": max(map(_start, ts)), "turns": len(ts)}
        for sid, ts in found.items()
    ]
    return sorted(rows, key=lambda r: r["first"])


def _x(day: int | None, s: Sliders) -> float | None:
    if day is None:
        return None
    return round((day - s.first_day) * WIDTH / max(1, s.last_day - s.first_day + 1), 1)


def _bar(m: MemoryRecord, s: Sliders, true: bool) -> dict[str, Any]:
    start = _x(day_of(_start(m)), s) or 0.0
    end = _x(day_of(m.valid_to), s) if m.valid_to else float(WIDTH)
    return {"memory": m, "x": start, "width": max(3.0, (end or 0.0) - start), "true": true}
