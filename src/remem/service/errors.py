"""The JSON error of remem's network front ends: ``{"error": {"code", "message"}}``.

The HTTP API and the MCP server's HTTP transport both answer with it, so a client
reads one shape whichever it talks to. The code and status come from the
``remem.errors`` tree (``RememError.code``/``.status``); this module only writes
them down for HTTP. It needs Starlette and pydantic, not the FastAPI app, so the
MCP server imports it without importing the API.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse

from remem.errors import RememError


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


#: The error answers every route may give, for the OpenAPI document.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Scope missing or too broad, or two different API keys"),
        (401, "Missing, unknown or revoked API key"),
        (403, "The API key may not do this (e.g. store system turns)"),
        (404, "No such memory in this tenant and scope"),
        (413, "Request body too large"),
        (422, "Invalid input; nothing was written"),
    )
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """An ``ErrorBody`` answer; a 401 also names the scheme to authenticate with."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def remem_error_response(exc: RememError) -> JSONResponse:
    """The answer for a ``RememError``: its own status, code and message."""
    return error_response(exc.status, exc.code, str(exc))
