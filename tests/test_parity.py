"""The Python surface is declared once: ``Memory``'s public methods.

``AsyncMemory``, ``Client`` and ``AsyncClient`` each have every one of them, with the
same parameters (names, kinds, defaults) and the same result type (awaited, for the async
ones), or list it in ``LOCAL_ONLY`` with the reason. A method added to ``Memory`` fails
here until every front end has it or says why not. (The HTTP routes, the MCP tools and
the CLI are checked against ``Memory`` by their own tests.)
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from remem import RECIPES, AsyncClient, AsyncMemory, Client, InvalidInput, Memory, SearchQuery

_SERVICE_RUNS_IT = "the service runs it next to its store"
#: Memory methods a remote client does not offer, and why.
_REMOTE: dict[str, str] = {
    "add_insight": "no route: insights are derived where the store is (summarize with an LLM)",
    "drain_extraction_queue": f"operator work on the service's queue; {_SERVICE_RUNS_IT}",
    "retry_extraction": f"operator work on the service's queue; {_SERVICE_RUNS_IT}",
    "extraction_jobs": f"operator work on the service's queue; {_SERVICE_RUNS_IT} (its /ui/queue)",
    "start_extraction_worker": "a thread of the process holding the store: "
    "`remem serve --extract-in-background` starts the service's",
    "stop_extraction_worker": "stops the thread start_extraction_worker starts, which a "
    "client has no way to start",
    "maintain_in_background": "a thread of the process holding the store: "
    "`remem serve --maintain-every` runs the service's",
    "backup": "copies the whole database file, every tenant: an operator's job next to "
    "it (`remem backup`), never one tenant's key",
    "migrate_to": "copies every tenant of a store to another backend: an operator's job "
    "next to both databases (`remem migrate`), never one tenant's key",
    "reembed": "moves every tenant of the store to another embedding model: an operator's "
    "job next to the database and the model files (`remem reembed`), never one tenant's key",
    "retention": "arithmetic on a record in hand under this process's LifecyclePolicy; the "
    "service's policy is not part of the API",
    "export_lines": "an iterator over a snapshot held open in the store's process; "
    "Client.export writes the same lines (GET /v1/export streams them) to a file",
    "add_many": "bulk ingest where the embedder runs (one embedder call for many adds); "
    "over HTTP each add is a request to `add`, embedded by the server",
}
LOCAL_ONLY: dict[type, dict[str, str]] = {
    # every method, run in a worker thread, but one
    AsyncMemory: {
        "export_lines": "a blocking iterator: each line reads the store; await export(path), "
        "or iterate Memory.export_lines in a thread",
    },
    Client: _REMOTE,
    AsyncClient: _REMOTE,
}
FRONT_ENDS = list(LOCAL_ONLY)
ASYNC = {AsyncMemory, AsyncClient}


def public_methods(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))}


SURFACE = sorted(public_methods(Memory))


def shape(method: Any) -> tuple[list[tuple[str, Any, Any]], Any]:
    """Parameters as (name, kind, default), and the result type, annotations evaluated."""
    signature = inspect.signature(method, eval_str=True)
    params = [(p.name, p.kind, p.default) for p in signature.parameters.values()]
    return params, signature.return_annotation


def test_the_surface_is_what_memory_offers() -> None:
    assert {"add", "search", "context", "list", "facts", "maintain", "export"} <= set(SURFACE)
    assert all(inspect.isfunction(getattr(Memory, name)) for name in SURFACE)


@pytest.mark.parametrize("front", FRONT_ENDS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", SURFACE)
def test_each_front_end_has_each_method_or_says_why_not(front: type, name: str) -> None:
    if name in LOCAL_ONLY[front]:
        assert not hasattr(front, name), f"{front.__name__}.{name} exists: drop it from LOCAL_ONLY"
        return
    assert hasattr(front, name), (
        f"Memory.{name} is missing on {front.__name__}: add it, or list it in LOCAL_ONLY "
        "with the reason"
    )
    theirs, answer = shape(getattr(front, name))
    ours, expected = shape(getattr(Memory, name))
    assert theirs == ours, f"{front.__name__}.{name} takes other parameters than Memory.{name}"
    assert answer == expected, f"{front.__name__}.{name} returns {answer}, Memory {expected}"
    assert inspect.iscoroutinefunction(getattr(front, name)) == (front in ASYNC)


@pytest.mark.parametrize("front", FRONT_ENDS, ids=lambda f: f.__name__)
def test_front_ends_add_nothing_to_the_surface(front: type) -> None:
    assert public_methods(front) <= set(SURFACE)


@pytest.mark.parametrize("front", FRONT_ENDS, ids=lambda f: f.__name__)
def test_local_only_names_memory_methods_with_a_reason(front: type) -> None:
    for name, reason in LOCAL_ONLY[front].items():
        assert name in SURFACE, f"LOCAL_ONLY[{front.__name__}] names {name}, not a Memory method"
        assert len(reason) > 20


def test_async_memory_is_built_like_memory() -> None:
    def params(cls: type) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]

    assert params(AsyncMemory) == params(Memory)


def _sent(call: Callable[[Client], Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The JSON body ``call`` sends (to an in-process transport answering ``answer``)."""
    bodies: list[dict[str, Any]] = []

    def reply(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=answer)

    with Client("http://remem.test", transport=httpx.MockTransport(reply)) as client:
        call(client)
    (body,) = bodies
    return body


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"user_id": "ana", "limit": 3, "kinds": "fact", "metadata": {"topic": "travel"}},
        {"after": "2026-05-01T00:00:00+00:00", "as_of": datetime(2026, 6, 1, tzinfo=UTC)},
        {"layers": ["long"], "archived": True, "context_window": 2, "recipe": "recent"},
    ],
)
def test_a_search_query_sends_what_its_keywords_send(options: dict[str, Any]) -> None:
    nothing = {"query": "x", "hits": []}
    by_query = _sent(lambda c: c.search(SearchQuery("x", **options)), nothing)
    by_keywords = _sent(lambda c: c.search("x", **options), nothing)
    assert by_query == by_keywords


def test_a_context_query_sends_what_its_keywords_send() -> None:
    block = {"query": "x", "text": "", "tokens": 0, "budget_tokens": 64, "lines": []}
    options = {"user_id": "ana", "before": datetime(2026, 6, 1, tzinfo=UTC), "recipe": "recent"}
    by_query = _sent(lambda c: c.context(SearchQuery("x", **options), budget_tokens=64), block)
    by_keywords = _sent(lambda c: c.context("x", budget_tokens=64, **options), block)
    assert by_query == by_keywords and by_query["limit"] == 30
    with pytest.raises(InvalidInput, match="context does not take kinds"):
        _sent(lambda c: c.context(SearchQuery("x", kinds="fact")), block)
    with pytest.raises(InvalidInput, match="not both: user_id"):
        _sent(lambda c: c.search(SearchQuery("x"), user_id="ana"), block)
    own = dataclasses.replace(RECIPES["hybrid"], bm25=2.0)
    with pytest.raises(InvalidInput, match="by name"):
        _sent(lambda c: c.search("x", recipe=own), block)
