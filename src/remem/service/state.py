"""What one running API holds, in one typed object: a ``Memory`` per tenant over the shared
store, embedder and LLM, the key table, the keyed adds, the metrics and the background workers.

``open_state`` builds it from ``create_app``'s arguments; routes reach it through the
``service_state`` dependency (``remem.service.deps``), never through closures.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from starlette.concurrency import run_in_threadpool

from remem import Memory, Writer
from remem.config import default_location

# The engine's worker threads, run here for every tenant at once (not per Memory).
from remem.engine import BackgroundMaintenance, ExtractionWorker
from remem.providers.embedder import Embedder, default_embedder
from remem.providers.llm import LLM, default_llm
from remem.service import heap
from remem.service.idempotency import Idempotency, KeyedStore
from remem.service.keys import KeyStore
from remem.service.metrics import MeteredEmbedder, MeteredLLM, Metrics
from remem.stores import Store, open_store


class _Closeable(Protocol):
    def close(self) -> None: ...


class Tenants:
    """One ``Memory`` per tenant and writer standing over the shared store and embedder
    (cheap; bound once)."""

    def __init__(
        self, store: Store, embedder: Embedder, llm: LLM | None, extraction: str = "inline"
    ) -> None:
        self.store, self.embedder, self.llm = store, embedder, llm
        self.extraction = extraction
        self._memories: dict[tuple[str, Writer], Memory] = {}
        self._lock = threading.Lock()

    def memory(self, tenant: str, writer: Writer = Writer()) -> Memory:  # noqa: B008 (frozen)
        with self._lock:
            found = self._memories.get((tenant, writer))
            if found is None:
                found = Memory(
                    store=self.store,
                    embedder=self.embedder,
                    llm=self.llm,
                    tenant=tenant,
                    extraction=self.extraction,
                    writer=writer,
                )
                self._memories[tenant, writer] = found
            return found


@dataclass
class ServiceState:
    """The API's shared parts. ``auth=False`` serves every request in ``tenant``."""

    tenants: Tenants
    metrics: Metrics
    keys: KeyStore | None
    auth: bool
    tenant: str
    idempotency: Idempotency
    maintenance: BackgroundMaintenance | None = None
    extraction: ExtractionWorker | None = None
    ready: bool = False
    owned: list[_Closeable] = field(default_factory=list)

    def served_tenants(self) -> list[str]:
        """The tenants background work covers: each with an active key, or the development one."""
        if self.auth and self.keys is not None:
            return sorted({k.tenant for k in self.keys.list() if k.active})
        return [self.tenant]

    def maintain_all(self) -> dict[str, Any]:
        return {
            name: self.tenants.memory(name).maintain().as_dict() for name in self.served_tenants()
        }

    def extract_all(self) -> int:
        return sum(
            self.tenants.memory(name).drain_extraction_queue() for name in self.served_tenants()
        )

    def _runners(self) -> list[BackgroundMaintenance | ExtractionWorker]:
        return [r for r in (self.maintenance, self.extraction) if r is not None]

    async def start(self) -> None:
        # Load the model before the first request, so readiness means fast answers.
        await run_in_threadpool(self.tenants.embedder.embed_query, "warm up")
        heap.settle()  # what start-up made stays: keep it out of full collections
        self.ready = True
        for runner in self._runners():
            runner.start()

    async def stop(self) -> None:
        """Stop the workers, then close what the app opened itself (newest first)."""
        self.ready = False
        for runner in self._runners():
            await run_in_threadpool(runner.stop)
        for thing in reversed(self.owned):
            thing.close()
        heap.release()


def open_state(
    location: str | Path | None,
    *,
    store: Store | None,
    embedder: Embedder | None,
    keys: KeyStore | None,
    auth: bool,
    tenant: str,
    maintain_every_s: float | None,
    llm: LLM | str | None,
    extract_in_background: bool,
    extract_every_s: float,
) -> ServiceState:
    """The state ``create_app`` documents; stores and key tables opened here are owned."""
    owned: list[_Closeable] = []
    if store is not None and auth and keys is None and location is None:
        raise ValueError("create_app(store=...) with auth needs keys= or the store's location")
    target = str(location or default_location())
    if store is None:
        store = open_store(target)
        owned.append(store)
    if auth and keys is None:
        keys = KeyStore(target)
        owned.append(keys)
    metrics = Metrics()
    shared_embedder = MeteredEmbedder(embedder or default_embedder(), metrics)
    model = default_llm() if llm == "env" else llm
    shared_llm = None if model is None else MeteredLLM(model, metrics)  # type: ignore[arg-type]
    if llm == "env" and shared_llm is not None:
        owned.append(shared_llm)
    background = extract_in_background and shared_llm is not None
    # Every tenant writes through KeyedStore, so an add under an Idempotency-Key keeps its
    # answer in its own transaction.
    keyed = cast(Store, KeyedStore(store))
    tenants = Tenants(keyed, shared_embedder, shared_llm, "queue" if background else "inline")
    store.bind_embedder(shared_embedder.model_id, shared_embedder.dimension)
    state = ServiceState(tenants, metrics, keys, auth, tenant, Idempotency(store), owned=owned)
    if maintain_every_s:
        state.maintenance = BackgroundMaintenance(state.maintain_all, maintain_every_s)
    if background:
        state.extraction = ExtractionWorker(state.extract_all, extract_every_s)
    return state
