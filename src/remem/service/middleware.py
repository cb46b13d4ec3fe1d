"""ASGI middleware: refuse a request before any route sees it (ambiguous query strings:
422; bodies over the size limit: 413), and answer an unexpected error with a JSON 500
that keeps the connection open."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remem.service.errors import error_response

log = logging.getLogger("remem.service")

DEFAULT_MAX_BODY = 1 << 20  # 1 MiB: thousands of chat turns per add
DEFAULT_MAX_IMPORT = 64 << 20
#: The one route whose body is a whole export, so it gets the larger limit.
IMPORT_PATH = "/v1/import"

#: Query parameters that take several values (``?kind=fact&kind=episode``); others take one.
LIST_PARAMS = frozenset({"kind", "status", "layer"})


class SingleValuedQuery:
    """ASGI middleware: 422 for a repeated single-valued query parameter.

    FastAPI would silently keep the last value, so ``?user_id=&user_id=ana`` passed
    validation on a value the caller may not have meant; ambiguity is refused instead.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            query = scope["query_string"].decode("latin-1")
            seen: set[str] = set()
            for key, _ in parse_qsl(query, keep_blank_values=True):
                if key in seen and key not in LIST_PARAMS:
                    message = f"query parameter {key!r} is given more than once"
                    await error_response(422, "invalid_input", message)(scope, receive, send)
                    return
                seen.add(key)
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: read the body up to a limit before the app sees it; 413 past it.

    Buffering first means an oversized request is refused before any route runs,
    so nothing of it can be stored, whether or not it announced its length.
    """

    def __init__(self, app: ASGIApp, max_body: int, max_import: int) -> None:
        self.app, self.max_body, self.max_import = app, max_body, max_import

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_import if scope["path"] == IMPORT_PATH else self.max_body
        too_large = error_response(413, "too_large", f"request body is over {limit} bytes")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class InternalErrors:
    """ASGI middleware: an exception no handler took becomes a JSON 500, and is not re-raised.

    Starlette's own last-resort handler sends its 500 and then re-raises, and uvicorn answers
    an exception raised after the response started by closing the connection: a keep-alive
    client then loses its next, valid request. Here the exception ends with the answer.
    Once a response has started (a stream cut short) nothing can be said on the wire, so the
    exception goes on and the server closes the connection, which tells the client so.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:
                raise
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            message = "internal error; the server log has the details"
            await error_response(500, "internal", message)(scope, receive, send)
