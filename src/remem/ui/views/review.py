"""Review: the profile and summaries with their citations, the extraction queue with retry,
and the quarantine (release, or forget as poisoned) with the lessons kept."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from remem.ui.pages import PageDep, PageRoute
from remem.ui.security import check_csrf
from remem.ui.views.memories import Csrf, done

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

User = Annotated[str, Query(max_length=200)]
Reason = Annotated[str, Form(max_length=1000)]
SUMMARIES = 50
#: The most queued jobs the queue page lists.
JOBS = 200


@router.get("/profile", response_class=HTMLResponse)
def profile(p: PageDep, user: User = "") -> HTMLResponse:
    """The profile's items, each citing the memory it stands on, and the summaries."""
    user = user.strip()
    if not user:
        return p.render("profile.html", user="", profile=None)
    found = p.memory.profile(user_id=user)
    items: list[dict[str, Any]] = list(found.metadata.get("items", []))
    summaries = p.memory.list(user_id=user, kinds="summary", limit=SUMMARIES).items
    return p.render(
        "profile.html",
        user=user,
        profile=found,
        items=items,
        summaries=[(s, s.metadata.get("sources", [])) for s in summaries],
    )


@router.post("/profile")
def summarize(
    request: Request, p: PageDep, user: Annotated[str, Form(max_length=200)], csrf: Csrf = ""
) -> Response:
    """Summarize the user's changed sessions and rebuild the profile now."""
    check_csrf(request, p.who, csrf)
    p.memory.summarize(user_id=user)
    return done(request, "/ui/profile?" + urlencode({"user": user}))


@router.get("/queue", response_class=HTMLResponse)
def queue(p: PageDep) -> HTMLResponse:
    """Counts, then each waiting or failed job with its attempts and last error."""
    counts = p.memory.stats()["extraction_queue"]
    jobs = p.memory.extraction_jobs(limit=JOBS)
    llm = p.memory.llm is not None
    return p.render("queue.html", counts=counts, jobs=jobs, llm=llm, ran=None)


@router.post("/queue/retry", response_class=HTMLResponse)
def retry(request: Request, p: PageDep, csrf: Csrf = "") -> HTMLResponse:
    """Run the queued and failed extractions now (needs the service's LLM)."""
    check_csrf(request, p.who, csrf)
    ran = p.memory.retry_extraction()
    counts = p.memory.stats()["extraction_queue"]
    jobs = p.memory.extraction_jobs(limit=JOBS)
    return p.render("queue.html", counts=counts, jobs=jobs, llm=True, ran=ran)


@router.get("/quarantine", response_class=HTMLResponse)
def quarantine(
    p: PageDep, user: User = "", offset: Annotated[int, Query(ge=0, le=10**9)] = 0
) -> HTMLResponse:
    held = p.memory.quarantined(user_id=user.strip() or None, limit=50, offset=offset)
    lessons = p.memory.lessons(user_id=user.strip() or None, limit=20)
    return p.render("quarantine.html", user=user, held=held, lessons=lessons, offset=offset)


@router.post("/quarantine/{memory_id}/release")
def release(
    request: Request, p: PageDep, memory_id: str, csrf: Csrf = "", reason: Reason = ""
) -> Response:
    check_csrf(request, p.who, csrf)
    p.memory.release(memory_id, reason=reason.strip() or "released in the inspector")
    return done(request, "/ui/quarantine")


@router.post("/quarantine/{memory_id}/forget")
def forget_poisoned(
    request: Request, p: PageDep, memory_id: str, csrf: Csrf = "", reason: Reason = ""
) -> Response:
    check_csrf(request, p.who, csrf)
    p.memory.forget_poisoned(
        memory_id, reason=reason.strip() or "confirmed poisoned in the inspector"
    )
    return done(request, "/ui/quarantine")
