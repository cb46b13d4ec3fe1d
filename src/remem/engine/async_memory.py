"""``AsyncMemory``: the ``Memory`` facade for asyncio code.

Each method runs its ``Memory`` twin in a worker thread (the store and the embedder
block). The twins are derived, not written out: ``_to_thread`` keeps the parameters and
the result type of the method it wraps (ParamSpec), so a type checker and an IDE show
``await AsyncMemory(...).search(query, *, user_id=..., ...) -> SearchResults``.
``tests/test_parity.py`` fails when ``Memory`` gains a method this class lacks.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from remem.engine.memory import Memory

P = ParamSpec("P")
R = TypeVar("R")


def _to_thread(
    method: Callable[Concatenate[Memory, P], R],
) -> Callable[Concatenate[AsyncMemory, P], Coroutine[Any, Any, R]]:
    """An async twin of a ``Memory`` method with the same parameters, result and docs."""

    @functools.wraps(method)
    async def run(self: AsyncMemory, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(method, self.sync, *args, **kwargs)

    run.__qualname__ = f"AsyncMemory.{method.__name__}"
    return run


def _takes_what(
    init: Callable[Concatenate[Memory, P], None],
) -> Callable[[Callable[..., None]], Callable[Concatenate[AsyncMemory, P], None]]:
    """Give the decorated constructor the parameters of ``init`` (for checkers and ``inspect``)."""

    def same(constructor: Callable[..., None]) -> Callable[Concatenate[AsyncMemory, P], None]:
        constructor.__wrapped__ = init  # type: ignore[attr-defined]
        return constructor

    return same


class AsyncMemory:
    """The ``Memory`` facade for asyncio: the same constructor and methods, awaited.

    ``sync`` is the ``Memory`` underneath, for its attributes (``store``, ``tenant``,
    ``llm_usage``...). Runners a method returns (``maintain_in_background``,
    ``start_extraction_worker``) are the same thread-based objects as ``Memory``'s.
    """

    sync: Memory

    @_takes_what(Memory.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sync = Memory(*args, **kwargs)

    add = _to_thread(Memory.add)
    add_many = _to_thread(Memory.add_many)
    update = _to_thread(Memory.update)
    delete = _to_thread(Memory.delete)
    delete_all = _to_thread(Memory.delete_all)
    forget = _to_thread(Memory.forget)
    add_insight = _to_thread(Memory.add_insight)

    search = _to_thread(Memory.search)
    context = _to_thread(Memory.context)
    get = _to_thread(Memory.get)
    history = _to_thread(Memory.history)
    versions = _to_thread(Memory.versions)
    surrounding = _to_thread(Memory.surrounding)
    stats = _to_thread(Memory.stats)
    list = _to_thread(Memory.list)

    facts = _to_thread(Memory.facts)
    entities = _to_thread(Memory.entities)
    related = _to_thread(Memory.related)

    maintain = _to_thread(Memory.maintain)
    pin = _to_thread(Memory.pin)
    maintain_in_background = _to_thread(Memory.maintain_in_background)
    retention = _to_thread(Memory.retention)
    summarize = _to_thread(Memory.summarize)
    profile = _to_thread(Memory.profile)

    extraction_jobs = _to_thread(Memory.extraction_jobs)
    retry_extraction = _to_thread(Memory.retry_extraction)
    drain_extraction_queue = _to_thread(Memory.drain_extraction_queue)
    start_extraction_worker = _to_thread(Memory.start_extraction_worker)
    stop_extraction_worker = _to_thread(Memory.stop_extraction_worker)

    quarantined = _to_thread(Memory.quarantined)
    lessons = _to_thread(Memory.lessons)
    release = _to_thread(Memory.release)
    forget_poisoned = _to_thread(Memory.forget_poisoned)

    export = _to_thread(Memory.export)
    import_ = _to_thread(Memory.import_)
    backup = _to_thread(Memory.backup)
    migrate_to = _to_thread(Memory.migrate_to)
    reembed = _to_thread(Memory.reembed)

    close = _to_thread(Memory.close)

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Async{self.sync!r}"
