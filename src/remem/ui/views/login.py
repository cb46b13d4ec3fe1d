"""Sign in and out: an API key in, an http-only cookie out; the key never goes in a URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from remem.ui.pages import PageRoute, templates
from remem.ui.security import COOKIE, check_origin, csrf_token

if TYPE_CHECKING:
    from remem.service.state import ServiceState

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: A week; revoking the key ends the session sooner.
COOKIE_AGE_S = 7 * 24 * 3600


def _next(target: str) -> str:
    """Only a path of the inspector: never another site (open redirect)."""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/memories"


def _login_form(request: Request, target: str, message: str = "", status: int = 200) -> Response:
    values = {"next": _next(target), "message": message, "csrf": "", "auth": True}
    return templates.TemplateResponse(request, "login.html", values, status_code=status)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str, Query(max_length=500)] = "") -> Response:
    state: ServiceState = request.app.state.remem
    if not state.auth:
        return RedirectResponse(_next(next), status_code=303)
    return _login_form(request, next)


@router.post("/login")
def login(
    request: Request,
    key: Annotated[str, Form(max_length=500)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    check_origin(request)
    state: ServiceState = request.app.state.remem
    if not state.auth:
        return RedirectResponse(_next(next), status_code=303)
    assert state.keys is not None
    if state.keys.authenticate(key.strip()) is None:
        return _login_form(request, next, "unknown or revoked API key", status=401)
    response = RedirectResponse(_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        key.strip(),
        max_age=COOKIE_AGE_S,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_origin(request)
    token = request.cookies.get(COOKIE)
    response = RedirectResponse("/ui/login", status_code=303)
    if token and csrf == csrf_token(token):
        response.delete_cookie(COOKIE, path="/ui")
    return response
