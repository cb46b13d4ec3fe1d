"""The Store protocol: storage, never policy.

A store persists records, keeps its text and vector indexes in step with them
inside one transaction, and answers narrow questions. What to keep and how to
rank lives in ``remem.pipeline`` and ``remem.retrieval``, written once for
every backend.

``Store`` is the union of one protocol per concern (``remem.stores.operations``):
memories and episodes, events, the knowledge graph, the extraction queue, search,
dump/load, answers kept per request key, re-embedding. Code that needs only one of them
can ask for only that one.
"""

from __future__ import annotations

from typing import Any, Protocol

from remem.model import MemoryRecord, Scope
from remem.stores.operations import (
    EventStore,
    GraphStore,
    IdempotencyStore,
    JobStore,
    MemoryStore,
    PortableStore,
    ReembedStore,
    SearchStore,
    Transactional,
)
from remem.stores.records import (
    LINK_SCAN,
    Dumped,
    EntityRow,
    JobClaim,
    KeptAnswer,
    LifecycleChange,
    MemoryFilter,
    Reembedding,
    Unembedded,
)

__all__ = [
    "LINK_SCAN",
    "Dumped",
    "EntityRow",
    "EventStore",
    "GraphStore",
    "IdempotencyStore",
    "JobClaim",
    "JobStore",
    "KeptAnswer",
    "LifecycleChange",
    "MemoryFilter",
    "MemoryStore",
    "PortableStore",
    "ReembedStore",
    "Reembedding",
    "SearchStore",
    "Store",
    "Transactional",
    "Unembedded",
    "list_all",
]


class Store(
    MemoryStore,
    EventStore,
    GraphStore,
    JobStore,
    SearchStore,
    PortableStore,
    IdempotencyStore,
    ReembedStore,
    Protocol,
):
    """What every backend implements; checked by the shared conformance suite."""

    url: str

    def bind_embedder(self, model_id: str, dimension: int) -> None:
        """Record (first use) or check (later) which embedding space the vectors live in."""
        ...

    def stats(self, scope: Scope) -> dict[str, Any]:
        """Counts of what the scope holds (memories by kind and status, episodes, events,
        entities, the extraction queue), the backend, its URL, its size and its embedder."""
        ...

    def close(self) -> None: ...


def list_all(store: MemoryStore, flt: MemoryFilter, page: int = 1000) -> list[MemoryRecord]:
    """Every memory ``flt`` admits, read page by page."""
    rows: list[MemoryRecord] = []
    while True:
        got = store.list_memories(flt, limit=page, offset=len(rows))
        rows += got
        if len(got) < page:
            return rows
