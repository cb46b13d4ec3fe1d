"""The state every part of ``Memory`` shares, and the few steps more than one part takes.

Each part (writes, reads, graph, lifecycle, queue, portability) is a class over this
core; ``Memory`` inherits them all, so a method is written once, with its real signature,
and an IDE shows it on ``Memory``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from remem._checks import check_id, check_scope
from remem.config import GuardPolicy, QueuePolicy
from remem.engine.background import ExtractionWorker
from remem.errors import NotFound
from remem.model import LLMUsage, MemoryRecord, Scope, Writer
from remem.pipeline import derived, digests, lifecycle
from remem.pipeline.extract import OfflineExtractor
from remem.providers.embedder import Embedder
from remem.query import SearchQuery, trust_levels
from remem.retention import LifecyclePolicy
from remem.stores import MemoryFilter, Store

if TYPE_CHECKING:
    from remem.providers.llm import LLM


def as_seen(memory: MemoryRecord, as_of: datetime | None) -> MemoryRecord:
    """The record as it looked at system time ``as_of``: its later expiry was not yet known."""
    if as_of is None or memory.expired_at is None or memory.expired_at <= as_of:
        return memory
    return memory.model_copy(update={"status": "active", "expired_at": None})


class Core:
    """What ``Memory.__init__`` sets up (see ``Memory`` for each attribute's meaning)."""

    store: Store
    embedder: Embedder
    tenant: str
    clock: Callable[[], datetime]
    track_recalls: bool
    policy: LifecyclePolicy
    llm: LLM | None
    extract_facts: bool
    extractor: OfflineExtractor | None
    extraction: str
    queue_policy: QueuePolicy
    writer: Writer
    guard: GuardPolicy
    llm_usage: LLMUsage
    _owns_llm: bool
    _usage_lock: threading.Lock
    _bound: bool
    _worker: ExtractionWorker | None

    def _scope(
        self,
        user_id: str | None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> Scope:
        """A scope inside this Memory's tenant."""
        return check_scope(self.tenant, user_id, agent_id, session_id)

    def _bind(self) -> None:
        """Tie the store to this embedder (once; a store refuses vectors of another model)."""
        if not self._bound:
            self.store.bind_embedder(self.embedder.model_id, self.embedder.dimension)
            self._bound = True

    def _current(self, memory_id: str, scope: Scope) -> MemoryRecord:
        check_id(memory_id, "memory id")
        found = self.store.get_memory(memory_id, scope.tenant)
        if found is None or found.expired_at is not None or not scope.contains(found.scope):
            where = f" in scope {scope.label()}" if scope.label() else ""
            raise NotFound(f"no current memory {memory_id}{where}")
        return found

    def _filter(self, query: SearchQuery, kinds: tuple[str, ...] | None = None) -> MemoryFilter:
        """The rows ``query`` may see in this tenant (``kinds``: when the call fixes them)."""
        return MemoryFilter(
            scope=self._scope(query.user_id, query.agent_id, query.session_id),
            kinds=kinds or query.kinds,
            metadata=dict(query.metadata or {}),
            event_after=query.after,
            event_before=query.before,
            as_of=query.as_of,
            layers=query.layers,
            statuses=("active",)
            + (("archived",) if query.archived else ())
            + (("quarantined",) if query.include_quarantined else ()),
            valid_at=query.valid_at,
            trust=trust_levels(query.min_trust),
        )

    def _recall(self, memories: list[MemoryRecord]) -> dict[str, MemoryRecord]:
        """Count a recall of each (one batched write); the records as they are after it, by id."""
        if not self.track_recalls or not memories:
            return {}
        updated = lifecycle.recall(self.store, memories, self.clock(), self.policy)
        return {m.id: m for m in updated}

    def _after_fact_change(self, memory: MemoryRecord) -> None:
        """Keep an existing profile true to the facts it lists (inside the caller's write)."""
        if memory.kind != "fact" or (
            memory.scope.user_id is None and memory.scope.agent_id is None
        ):
            return
        scope = memory.scope.model_copy(update={"session_id": None})
        if derived.find(self.store, scope, "profile") is not None:
            self._bind()
            digests.refresh_profile(self.store, self.embedder, scope, self.clock(), self.llm)
