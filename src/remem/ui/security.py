"""Who a UI request acts for, and what protects it: the key cookie, CSRF tokens, headers.

A browser cannot send an ``Authorization`` header on a link click, so the login form
takes an API key once and keeps it in an http-only, SameSite=Strict cookie scoped to
``/ui`` (never in a URL, never readable by a script). Every write carries a CSRF token
derived from that key (HMAC), and a cross-site ``Origin`` is refused outright.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from remem.errors import RememError
from remem.model import Writer

if TYPE_CHECKING:
    from remem.service.state import ServiceState

COOKIE = "remem_ui_key"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
#: Only our own scripts and styles run; nothing may frame the inspector.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it a browser sends "Origin: null" on our own forms.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
#: Signs CSRF tokens where there is no key (the local, keyless inspector): one per process.
_LOCAL_SECRET = secrets.token_bytes(32)


class LoginRequired(RememError):
    """No valid key cookie: the UI answers with its login form."""

    code = "login_required"
    status = 401


class Forbidden(RememError):
    code = "forbidden"
    status = 403


@dataclass(frozen=True)
class Caller:
    """The tenant a UI request works in, what its writes may claim, and its CSRF token."""

    tenant: str
    writer: Writer
    csrf: str


def csrf_token(key: str | None) -> str:
    secret = key.encode() if key else _LOCAL_SECRET
    return hmac.new(secret, b"remem-ui-csrf", hashlib.sha256).hexdigest()


def caller(request: Request, state: ServiceState) -> Caller:
    """The caller of the key in the cookie; without auth (``remem ui``), the local tenant."""
    if not state.auth:
        return Caller(state.tenant, Writer(), csrf_token(None))
    assert state.keys is not None
    token = request.cookies.get(COOKIE)
    key = state.keys.authenticate(token) if token else None
    if key is None or token is None:
        raise LoginRequired("sign in with an API key")
    return Caller(key.tenant, key.writer, csrf_token(token))


def check_origin(request: Request) -> None:
    """Refuse a write whose Origin is another site's (the browser sets it; a page cannot)."""
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden("cross-site request refused")


def check_csrf(request: Request, who: Caller, sent: str | None) -> None:
    """Every write carries the token of its page, as a form field or an htmx header."""
    check_origin(request)
    given = sent or request.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(given, who.csrf):
        raise Forbidden("the form's CSRF token is missing or wrong: reload the page")
