"""``remem.Client`` / ``remem.AsyncClient``: the ``Memory`` facade over HTTP.

The core methods of ``remem.Memory`` (add, search, get, list, update, delete, forget,
history, lifecycle and context, the graph reads facts/entities/related; not the local
ones such as add_insight/retry_extraction), with the same arguments, return types and errors,
so code moves from embedded to a shared service by changing the line that builds it::

    m = Memory("my.db")                                   # embedded
    m = Client("http://memory.internal:8000", api_key=KEY)  # remote, tenant from the key

Each method is written once on ``_Facade``: it describes its request and how to
read the answer; ``Client`` sends it with a blocking httpx client, ``AsyncClient``
with an async one.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from remem._time import to_utc
from remem.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ProviderError,
    RememError,
    ScopeError,
    StoreError,
    Unauthorized,
)
from remem.model import (
    AddResult,
    Context,
    Entity,
    Episode,
    Event,
    MaintenanceReport,
    MemoryRecord,
    Page,
    SearchResults,
)

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
    )
}
_EVENTS = TypeAdapter(list[Event])
_RECORDS = TypeAdapter(list[MemoryRecord])
_ENTITIES = TypeAdapter(list[Entity])
_EPISODES = TypeAdapter(list[Episode])

Time = datetime | date | str | float | int | None


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    parse: Callable[[httpx.Response], Any]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _when(value: Time) -> str | None:
    """Times as the API reads them: ISO 8601 strings (numbers are unix seconds, as in Memory)."""
    if value is None or isinstance(value, str):
        return value
    moment = to_utc(value)
    return moment.isoformat() if moment else None


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _kinds(kinds: str | Iterable[str] | None) -> list[str] | None:
    if kinds is None:
        return None
    return [kinds] if isinstance(kinds, str) else list(kinds)


def _messages(messages: Any) -> dict[str, Any]:
    if isinstance(messages, str):
        return {"text": messages}
    if isinstance(messages, Mapping):
        return {"messages": [dict(messages)]}
    return {"messages": [dict(m) if isinstance(m, Mapping) else m for m in messages]}


def _page(response: httpx.Response) -> Page:
    body = response.json()
    body.pop("next_offset", None)
    return Page.model_validate(body)


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


class _Facade:
    """The ``Memory`` methods as HTTP calls; subclasses decide how ``_call`` sends them."""

    url: str

    def _call(self, call: _Call) -> Any:
        raise NotImplementedError

    # -- writes ---------------------------------------------------------------
    def add(
        self,
        messages: str | Mapping[str, Any] | Iterable[Mapping[str, Any]],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        timestamp: Time = None,
        metadata: Mapping[str, Any] | None = None,
        kind: str = "episode",
        importance: float = 0.5,
        source: str = "api",
    ) -> AddResult:
        """Store a conversation (every turn kept) or one text; returns what was written.

        ``source`` is accepted for parity with ``Memory.add``; the service records "http".
        """
        body = {
            **_messages(messages),
            **_drop_none(
                {
                    "user_id": user_id,
                    "agent_id": agent_id,
                    "session_id": session_id,
                    "timestamp": _when(timestamp),
                    "metadata": dict(metadata) if metadata is not None else None,
                }
            ),
            "kind": kind,
            "importance": importance,
        }
        return self._call(_Call("POST", "/v1/memories", _model(AddResult), json=body))

    def update(
        self,
        memory_id: str,
        text: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        importance: float | None = None,
        valid_from: Time = None,
        valid_to: Time = None,
        reason: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> MemoryRecord:
        body = _drop_none(
            {
                "text": text,
                "metadata": dict(metadata) if metadata is not None else None,
                "importance": importance,
                "valid_from": _when(valid_from),
                "valid_to": _when(valid_to),
                "reason": reason,
                "user_id": user_id,
                "agent_id": agent_id,
            }
        )
        return self._call(
            _Call("PATCH", f"/v1/memories/{_seg(memory_id)}", _model(MemoryRecord), json=body)
        )

    def delete(
        self,
        memory_id: str,
        *,
        reason: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> MemoryRecord:
        params = _drop_none({"reason": reason, "user_id": user_id, "agent_id": agent_id})
        return self._call(
            _Call("DELETE", f"/v1/memories/{_seg(memory_id)}", _model(MemoryRecord), params)
        )

    def delete_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        reason: str | None = None,
    ) -> int:
        params = _drop_none(
            {"user_id": user_id, "agent_id": agent_id, "session_id": session_id, "reason": reason}
        )
        return self._call(
            _Call("DELETE", "/v1/memories", lambda r: int(r.json()["deleted"]), params)
        )

    def forget(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None
    ) -> int:
        params = _drop_none({"user_id": user_id, "agent_id": agent_id})
        return self._call(
            _Call(
                "POST",
                f"/v1/memories/{_seg(memory_id)}/forget",
                lambda r: int(r.json()["erased"]),
                params,
            )
        )

    # -- reads ----------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        limit: int = 10,
        kinds: str | Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        after: Time = None,
        before: Time = None,
        as_of: Time = None,
        context_window: int = 0,
        recipe: str = "hybrid",
        asked_at: Time = None,
        layers: str | Iterable[str] | None = None,
        archived: bool = False,
        valid_at: Time = None,
    ) -> SearchResults:
        body = {
            "query": query,
            "limit": limit,
            "context_window": context_window,
            "recipe": recipe,
            "archived": archived,
            **_drop_none(
                {
                    "user_id": user_id,
                    "agent_id": agent_id,
                    "session_id": session_id,
                    "kinds": _kinds(kinds),
                    "metadata": dict(metadata) if metadata is not None else None,
                    "after": _when(after),
                    "before": _when(before),
                    "as_of": _when(as_of),
                    "asked_at": _when(asked_at),
                    "layers": _kinds(layers),
                    "valid_at": _when(valid_at),
                }
            ),
        }
        return self._call(_Call("POST", "/v1/search", _model(SearchResults), json=body))

    def get(
        self,
        memory_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        version: int | None = None,
        as_of: Time = None,
    ) -> MemoryRecord:
        params = _drop_none(
            {"user_id": user_id, "agent_id": agent_id, "version": version, "as_of": _when(as_of)}
        )
        return self._call(
            _Call("GET", f"/v1/memories/{_seg(memory_id)}", _model(MemoryRecord), params)
        )

    def list(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        kinds: str | Iterable[str] | None = None,
        status: str | Iterable[str] = "active",
        metadata: Mapping[str, Any] | None = None,
        limit: int = 50,
        offset: int = 0,
        layers: str | Iterable[str] | None = None,
    ) -> Page:
        params = _drop_none(
            {
                "layer": _kinds(layers),
                "user_id": user_id,
                "agent_id": agent_id,
                "session_id": session_id,
                "kind": _kinds(kinds),
                "status": _kinds(status),
                "metadata": json.dumps(dict(metadata)) if metadata is not None else None,
                "limit": limit,
                "offset": offset,
            }
        )
        return self._call(_Call("GET", "/v1/memories", _page, params))

    def history(self, memory_id: str, *, user_id: str | None = None) -> list[Event]:
        params = _drop_none({"user_id": user_id})
        return self._call(
            _Call(
                "GET",
                f"/v1/memories/{_seg(memory_id)}/history",
                lambda r: _EVENTS.validate_python(r.json()),
                params,
            )
        )

    def facts(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        valid_at: Time = None,
        as_of: Time = None,
        current: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[MemoryRecord]:
        params = _drop_none(
            {
                "user_id": user_id,
                "agent_id": agent_id,
                "valid_at": _when(valid_at),
                "as_of": _when(as_of),
                "current": current or None,
                "limit": limit,
                "offset": offset,
            }
        )
        return self._call(
            _Call("GET", "/v1/facts", lambda r: _RECORDS.validate_python(r.json()), params)
        )

    def entities(self, *, user_id: str | None = None, name: str | None = None) -> list[Entity]:
        params = _drop_none({"user_id": user_id, "name": name})
        return self._call(
            _Call("GET", "/v1/entities", lambda r: _ENTITIES.validate_python(r.json()), params)
        )

    def related(
        self, entity_id: str, *, user_id: str | None = None, limit: int = 50
    ) -> list[MemoryRecord]:
        params = _drop_none({"user_id": user_id, "limit": limit})
        return self._call(
            _Call(
                "GET",
                f"/v1/entities/{_seg(entity_id)}/related",
                lambda r: _RECORDS.validate_python(r.json()),
                params,
            )
        )

    def versions(self, memory_id: str) -> list[MemoryRecord]:
        return self._call(
            _Call(
                "GET",
                f"/v1/memories/{_seg(memory_id)}/versions",
                lambda r: _RECORDS.validate_python(r.json()),
            )
        )

    def surrounding(self, memory_id: str, window: int = 2) -> list[Episode]:
        return self._call(
            _Call(
                "GET",
                f"/v1/memories/{_seg(memory_id)}/surrounding",
                lambda r: _EPISODES.validate_python(r.json()),
                {"window": window},
            )
        )

    def stats(self, *, user_id: str | None = None) -> dict[str, Any]:
        return self._call(
            _Call("GET", "/v1/stats", lambda r: r.json(), _drop_none({"user_id": user_id}))
        )

    # -- lifecycle --------------------------------------------------------------
    def maintain(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        archive_below: float | None = None,
    ) -> MaintenanceReport:
        body = _drop_none(
            {"user_id": user_id, "agent_id": agent_id, "archive_below": archive_below}
        )
        return self._call(_Call("POST", "/v1/maintain", _maintenance, json=body))

    def pin(
        self, memory_id: str, pinned: bool = True, *, user_id: str | None = None
    ) -> MemoryRecord:
        body = {"pinned": pinned, **_drop_none({"user_id": user_id})}
        path = f"/v1/memories/{_seg(memory_id)}/pin"
        return self._call(_Call("POST", path, _model(MemoryRecord), json=body))

    def summarize(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> list[MemoryRecord]:
        body = _drop_none({"user_id": user_id, "agent_id": agent_id, "session_id": session_id})
        return self._call(
            _Call("POST", "/v1/summarize", lambda r: _RECORDS.validate_python(r.json()), json=body)
        )

    def profile(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        refresh: bool = False,
    ) -> MemoryRecord:
        params = {"refresh": refresh, **_drop_none({"user_id": user_id, "agent_id": agent_id})}
        return self._call(_Call("GET", "/v1/profile", _model(MemoryRecord), params))

    def context(
        self,
        query: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        budget_tokens: int = 1000,
        limit: int = 30,
        recipe: str = "hybrid",
        asked_at: Time = None,
        after: Time = None,
        before: Time = None,
        profile: bool = True,
    ) -> Context:
        body = {
            "query": query,
            "budget_tokens": budget_tokens,
            "limit": limit,
            "recipe": recipe,
            "profile": profile,
            **_drop_none(
                {
                    "user_id": user_id,
                    "agent_id": agent_id,
                    "session_id": session_id,
                    "asked_at": _when(asked_at),
                    "after": _when(after),
                    "before": _when(before),
                }
            ),
        }
        return self._call(_Call("POST", "/v1/context", _model(Context), json=body))

    # -- portability ----------------------------------------------------------
    def export(self, destination: str | Path | IO[str]) -> dict[str, int]:
        """Write every record of the key's tenant as JSONL; returns counts per type."""

        def write(response: httpx.Response) -> dict[str, int]:
            if isinstance(destination, str | Path):
                Path(destination).write_text(response.text, encoding="utf-8")
            else:
                destination.write(response.text)
            return json.loads(response.headers["Remem-Counts"])

        return self._call(_Call("GET", "/v1/export", write))

    def import_(self, source: str | Path | IO[str]) -> dict[str, int]:
        """Load a JSONL export into the key's tenant, all or nothing."""
        if isinstance(source, str | Path):
            try:
                text = Path(source).read_text(encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(f"cannot open {source}: {exc.strerror}") from exc
        else:
            text = source.read()
        return self._call(
            _Call(
                "POST",
                "/v1/import",
                lambda r: {k: int(v) for k, v in r.json().items()},
                content=text.encode("utf-8"),
                headers={"Content-Type": "application/x-ndjson"},
            )
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def _maintenance(response: httpx.Response) -> MaintenanceReport:
    body = response.json()
    return MaintenanceReport(
        scanned=body["scanned"],
        archived=body["archived"],
        moved=body["moved"],
        layers=body["layers"],
        at=datetime.fromisoformat(body["at"]),
    )


def _seg(memory_id: str) -> str:
    if not isinstance(memory_id, str) or not memory_id:
        raise InvalidInput("memory id must be a non-empty string")
    return quote(memory_id, safe="")


def _model(kind: Any) -> Callable[[httpx.Response], Any]:
    return lambda response: kind.model_validate(response.json())


def _settings(url: str | None, api_key: str | None) -> tuple[str, dict[str, str]]:
    base = (url or os.environ.get("REMEM_URL") or DEFAULT_URL).rstrip("/")
    key = api_key if api_key is not None else os.environ.get("REMEM_API_KEY")
    return base, {"Authorization": f"Bearer {key}"} if key else {}


def _request(call: _Call) -> dict[str, Any]:
    return {
        "params": call.params or None,
        "json": call.json,
        "content": call.content,
        "headers": call.headers or None,
    }


def _unreachable(url: str, exc: httpx.TransportError) -> StoreError:
    return StoreError(f"cannot reach the remem service at {url}: {exc or type(exc).__name__}")


class Client(_Facade):
    """The ``Memory`` facade over HTTP (blocking). ``REMEM_URL`` / ``REMEM_API_KEY`` are defaults."""

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url, headers = _settings(url, api_key)
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def _call(self, call: _Call) -> Any:
        try:
            response = self._http.request(call.method, call.path, **_request(call))
        except httpx.TransportError as exc:
            raise _unreachable(self.url, exc) from exc
        if response.is_error:
            raise _error(response)
        return call.parse(response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _awaitable(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def run(self: AsyncClient, *args: Any, **kwargs: Any) -> Any:
        return await method(self, *args, **kwargs)

    return run


class AsyncClient(_Facade):
    """The ``AsyncMemory`` facade over HTTP: the same methods, awaited."""

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url, headers = _settings(url, api_key)
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    async def _call(self, call: _Call) -> Any:  # type: ignore[override]
        try:
            response = await self._http.request(call.method, call.path, **_request(call))
        except httpx.TransportError as exc:
            raise _unreachable(self.url, exc) from exc
        if response.is_error:
            raise _error(response)
        return call.parse(response)

    add = _awaitable(_Facade.add)
    update = _awaitable(_Facade.update)
    delete = _awaitable(_Facade.delete)
    delete_all = _awaitable(_Facade.delete_all)
    forget = _awaitable(_Facade.forget)
    search = _awaitable(_Facade.search)
    get = _awaitable(_Facade.get)
    list = _awaitable(_Facade.list)
    history = _awaitable(_Facade.history)
    versions = _awaitable(_Facade.versions)
    facts = _awaitable(_Facade.facts)
    entities = _awaitable(_Facade.entities)
    related = _awaitable(_Facade.related)
    surrounding = _awaitable(_Facade.surrounding)
    stats = _awaitable(_Facade.stats)
    maintain = _awaitable(_Facade.maintain)
    pin = _awaitable(_Facade.pin)
    summarize = _awaitable(_Facade.summarize)
    profile = _awaitable(_Facade.profile)
    context = _awaitable(_Facade.context)
    export = _awaitable(_Facade.export)
    import_ = _awaitable(_Facade.import_)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


__all__ = ["AsyncClient", "Client"]
