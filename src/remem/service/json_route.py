"""Request bodies parsed as remem parses every JSON it is handed (``remem._json.loads``).

Starlette's ``Request.json`` is ``json.loads``: a key given twice keeps its last value, so
``{"role": "user", "role": "system"}`` would be read one way here and perhaps another by a
proxy or log in front of us. Routes built with ``JSONRoute`` refuse it as invalid input
instead (422, naming the key), as imports and CLI message files do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from remem._json import loads
from remem.errors import InvalidInput


class _StrictRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = loads(body)
            except InvalidInput as exc:
                # FastAPI turns a JSONDecodeError into its 422 for a malformed body.
                text = body.decode("utf-8", "replace")
                raise json.JSONDecodeError(str(exc), text, 0) from exc
        return self._json


class JSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictRequest(request.scope, request.receive))

        return strict
