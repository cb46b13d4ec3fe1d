"""``Client`` and ``AsyncClient``: send ``_Facade``'s calls, blocking or awaited.

Each method is derived from its ``_Facade`` builder by ``_sync``/``_async``, which keep
its parameters (ParamSpec) and turn ``Call[R]`` into ``R`` (or an awaitable of ``R``):
a type checker and an IDE show ``Client.search(...) -> SearchResults``, and ``inspect``
shows ``Memory``'s signature. ``tests/test_parity.py`` checks both against ``Memory``.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
import typing
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from remem.client.calls import _Facade
from remem.client.retry import DEFAULT_RETRY, Retry
from remem.client.wire import Call
from remem.errors import (
    AmbiguousCredentials,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ProviderError,
    RememError,
    ScopeError,
    StoreError,
    Unauthorized,
)

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_URL = "http://127.0.0.1:8000"
_ERRORS: dict[str, type[RememError]] = {
    cls.code: cls
    for cls in (
        InvalidInput,
        ScopeError,
        NotFound,
        Conflict,
        StoreError,
        ProviderError,
        Unauthorized,
        AmbiguousCredentials,
        Forbidden,
    )
}
_CALLS = _Facade()


def _error(response: httpx.Response) -> RememError:
    try:
        detail = response.json()["error"]
        code, message = detail["code"], detail["message"]
    except (ValueError, KeyError, TypeError):
        code, message = "", response.text[:500] or response.reason_phrase
    if response.status_code == 413:
        return InvalidInput(message)
    kind = _ERRORS.get(code)
    if kind is None:
        kind = InvalidInput if 400 <= response.status_code < 500 else StoreError
        message = f"HTTP {response.status_code}: {message}"
    return kind(message)


def _settings(url: str | None, api_key: str | None) -> tuple[str, dict[str, str]]:
    base = (url or os.environ.get("REMEM_URL") or DEFAULT_URL).rstrip("/")
    key = api_key if api_key is not None else os.environ.get("REMEM_API_KEY")
    return base, {"Authorization": f"Bearer {key}"} if key else {}


def _request(call: Call[Any]) -> dict[str, Any]:
    return {
        "params": call.params or None,
        "json": call.json,
        "content": call.content,
        "headers": call.headers or None,
    }


def _answer(call: Call[R], response: httpx.Response) -> R:
    if response.is_error:
        raise _error(response)
    return call.parse(response)


def _unreachable(url: str, exc: httpx.TransportError) -> StoreError:
    return StoreError(f"cannot reach the remem service at {url}: {exc or type(exc).__name__}")


def _like(run: F, build: Callable[..., Call[Any]], owner: str) -> F:
    """``run`` as ``build`` reads to ``inspect``: its name, docs and parameters, and the
    type its ``Call`` answers with (``Call[SearchResults]`` -> ``SearchResults``)."""
    signature = inspect.signature(build, eval_str=True)
    (answer,) = typing.get_args(signature.return_annotation)
    derived: Any = run  # not a wrapper: run returns what the builder's Call answers with
    derived.__name__ = build.__name__
    derived.__qualname__ = f"{owner}.{build.__name__}"
    derived.__doc__ = build.__doc__
    derived.__signature__ = signature.replace(return_annotation=answer)
    derived.__annotations__ = {
        **{name: p.annotation for name, p in signature.parameters.items() if name != "self"},
        "return": answer,
    }
    return run


def _sync(
    build: Callable[Concatenate[_Facade, P], Call[R]],
) -> Callable[Concatenate[Client, P], R]:
    def run(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._send(build(_CALLS, *args, **kwargs))

    return _like(run, build, "Client")


def _async(
    build: Callable[Concatenate[_Facade, P], Call[R]],
) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, R]]:
    async def run(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._send(build(_CALLS, *args, **kwargs))

    return _like(run, build, "AsyncClient")


class Client:
    """The ``Memory`` facade over HTTP (blocking). ``REMEM_URL`` / ``REMEM_API_KEY`` are defaults.

    ``retry`` says which failed calls are sent again and after what wait
    (``remem.client.retry``; ``NO_RETRY`` sends each once).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retry: Retry = DEFAULT_RETRY,
    ) -> None:
        self.url, headers = _settings(url, api_key)
        self.retry = retry
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def _send(self, call: Call[R]) -> R:
        """Send ``call``, again after each failure ``self.retry`` says may pass."""
        attempts = self.retry.start(call)
        while True:
            try:
                response = self._http.request(call.method, call.path, **_request(call))
            except httpx.TransportError as exc:
                wait = attempts.wait_after(exc)
                if wait is None:
                    raise _unreachable(self.url, exc) from exc
            else:
                wait = attempts.wait_after(response)
                if wait is None:
                    return _answer(call, response)
            time.sleep(wait)

    add = _sync(_Facade.add)
    update = _sync(_Facade.update)
    delete = _sync(_Facade.delete)
    delete_all = _sync(_Facade.delete_all)
    forget = _sync(_Facade.forget)
    search = _sync(_Facade.search)
    context = _sync(_Facade.context)
    get = _sync(_Facade.get)
    history = _sync(_Facade.history)
    versions = _sync(_Facade.versions)
    surrounding = _sync(_Facade.surrounding)
    stats = _sync(_Facade.stats)
    facts = _sync(_Facade.facts)
    entities = _sync(_Facade.entities)
    related = _sync(_Facade.related)
    maintain = _sync(_Facade.maintain)
    pin = _sync(_Facade.pin)
    summarize = _sync(_Facade.summarize)
    profile = _sync(_Facade.profile)
    quarantined = _sync(_Facade.quarantined)
    lessons = _sync(_Facade.lessons)
    release = _sync(_Facade.release)
    forget_poisoned = _sync(_Facade.forget_poisoned)
    export = _sync(_Facade.export)
    import_ = _sync(_Facade.import_)
    list = _sync(_Facade.list)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"


class AsyncClient:
    """The ``AsyncMemory`` facade over HTTP: the same methods, awaited."""

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: Retry = DEFAULT_RETRY,
    ) -> None:
        self.url, headers = _settings(url, api_key)
        self.retry = retry
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    async def _send(self, call: Call[R]) -> R:
        """Send ``call``, again after each failure ``self.retry`` says may pass."""
        attempts = self.retry.start(call)
        while True:
            try:
                response = await self._http.request(call.method, call.path, **_request(call))
            except httpx.TransportError as exc:
                wait = attempts.wait_after(exc)
                if wait is None:
                    raise _unreachable(self.url, exc) from exc
            else:
                wait = attempts.wait_after(response)
                if wait is None:
                    return _answer(call, response)
            await asyncio.sleep(wait)

    add = _async(_Facade.add)
    update = _async(_Facade.update)
    delete = _async(_Facade.delete)
    delete_all = _async(_Facade.delete_all)
    forget = _async(_Facade.forget)
    search = _async(_Facade.search)
    context = _async(_Facade.context)
    get = _async(_Facade.get)
    history = _async(_Facade.history)
    versions = _async(_Facade.versions)
    surrounding = _async(_Facade.surrounding)
    stats = _async(_Facade.stats)
    facts = _async(_Facade.facts)
    entities = _async(_Facade.entities)
    related = _async(_Facade.related)
    maintain = _async(_Facade.maintain)
    pin = _async(_Facade.pin)
    summarize = _async(_Facade.summarize)
    profile = _async(_Facade.profile)
    quarantined = _async(_Facade.quarantined)
    lessons = _async(_Facade.lessons)
    release = _async(_Facade.release)
    forget_poisoned = _async(_Facade.forget_poisoned)
    export = _async(_Facade.export)
    import_ = _async(_Facade.import_)
    list = _async(_Facade.list)

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r})"
