"""``Memory``: the facade, assembled from its parts."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from remem._checks import check_scope
from remem._time import utcnow
from remem.config import (
    DEFAULT_GUARD_POLICY,
    DEFAULT_QUEUE_POLICY,
    GuardPolicy,
    QueuePolicy,
    default_location,
)
from remem.engine.embedding import Embedding
from remem.engine.graph import FactsAndGraph
from remem.engine.lifecycle import Lifecycle
from remem.engine.portable import Portability
from remem.engine.queue import ExtractionQueue
from remem.engine.reads import Reads
from remem.engine.trust import Review
from remem.engine.writes import Writes
from remem.errors import InvalidInput
from remem.model import LLMUsage, Writer
from remem.pipeline.extract import EXTRACTORS, offline_extractor
from remem.providers.embedder import EmbedderChoice, embedder_from
from remem.retention import DEFAULT_POLICY, LifecyclePolicy
from remem.stores import Store, open_store

if TYPE_CHECKING:
    from remem.providers.llm import LLM

#: Where an add's fact extraction runs: in the call, or in a worker (this process's, or
#: any other process's on the same store).
EXTRACTION_MODES = ("inline", "background", "queue")


def _configured_llm() -> LLM | None:
    """The LLM REMEM_LLM_URL names; the HTTP client is only imported when one is configured."""
    if not os.environ.get("REMEM_LLM_URL"):
        return None
    from remem.providers.llm import default_llm

    return default_llm()


def _chosen_llm(llm: LLM | str | None) -> LLM | None:
    if not isinstance(llm, str):
        return llm
    if llm != "env":
        raise InvalidInput(f'llm must be an LLM, None or "env", got {llm!r}')
    return _configured_llm()


class Memory(
    Writes, Reads, FactsAndGraph, Lifecycle, Review, ExtractionQueue, Portability, Embedding
):
    """Long-term memory for one application.

    ``Memory()`` opens the embedded default (a SQLite file in the user data
    dir); ``Memory("my.db")`` a file; ``Memory("postgresql://...")`` a server.

    ``embedder`` turns text into vectors: an ``Embedder``, the path of a local model
    folder (``model.onnx`` + ``tokenizer.json``; ``remem.providers.OnnxEmbedder`` reads
    its pooling and prefixes), or "local"; by default the packaged all-MiniLM-L6-v2 (or
    what REMEM_EMBEDDER names). A store keeps the vectors of one embedder and refuses
    another: ``reembed`` moves it to a new one.

    ``clock`` is where every "now" comes from (tests pass a controlled one);
    ``track_recalls`` counts each memory returned by search/get/context as recalled,
    which strengthens it (``remem.pipeline.lifecycle``); ``llm`` (default: the one
    REMEM_LLM_URL names, if any) writes abstractive summaries, profiles and insights;
    without one they are extractive.
    ``llm=None`` keeps remem offline whatever the environment says. With an LLM,
    ``extract_facts`` (default on) turns each added conversation into facts and a
    knowledge graph (docs/graph.md). ``extractor`` names the offline entity extractor:
    "regex" (default, REMEM_EXTRACTOR), "spacy" or "none".

    ``extraction`` says where that LLM work runs: "inline" (default: ``add`` waits for
    it), "background" (``add`` queues it and returns; a worker thread of this Memory,
    stopped by ``close()``, drains the queue) or "queue" (``add`` only queues; a worker
    elsewhere drains it: ``start_extraction_worker``, another process, or
    ``remem serve --extract-in-background``). ``queue_policy`` sets the worker's retries,
    backoff and claim lease.

    ``writer`` says who writes through this Memory and so what its writes may claim
    (docs/trust.md): by default the owner, whose user turns are trusted and who may not
    store ``role: "system"`` turns; ``Writer(system_turns=True)`` allows them,
    ``Writer(role="external")`` makes everything written untrusted. ``guard`` sets what
    the guard does beyond recording provenance: quarantine, the consensus check, lessons
    (``GuardPolicy``; ``GuardPolicy.off()`` only to measure the guard).

    The methods are grouped by concern in ``remem.engine``: ``writes``, ``reads``
    (search and context), ``graph`` (facts and entities), ``lifecycle``, ``queue``
    (the extraction queue and its worker), ``portable`` (export, import, migrate) and
    ``embedding`` (reembed).
    """

    def __init__(
        self,
        location: str | Path | None = None,
        *,
        embedder: EmbedderChoice = None,
        tenant: str = "default",
        store: Store | None = None,
        clock: Callable[[], datetime] = utcnow,
        track_recalls: bool = True,
        policy: LifecyclePolicy = DEFAULT_POLICY,
        llm: LLM | str | None = "env",
        extract_facts: bool = True,
        extractor: str | None = None,
        extraction: str = "inline",
        queue_policy: QueuePolicy = DEFAULT_QUEUE_POLICY,
        writer: Writer = Writer(),  # noqa: B008 (frozen: one shared default is safe)
        guard: GuardPolicy = DEFAULT_GUARD_POLICY,
    ) -> None:
        if extraction not in EXTRACTION_MODES:
            raise InvalidInput(
                f"extraction must be one of {', '.join(EXTRACTION_MODES)}, got {extraction!r}"
            )
        self.store = store or open_store(location or default_location())
        self.embedder = embedder_from(embedder)
        self.tenant = check_scope(tenant, None, None, None).tenant
        self.clock = clock
        self.track_recalls = track_recalls
        self.policy = policy
        self._owns_llm = llm == "env"
        self.llm = _chosen_llm(llm)
        self.extract_facts = extract_facts
        chosen = extractor or os.environ.get("REMEM_EXTRACTOR") or "regex"
        if chosen not in EXTRACTORS:
            raise InvalidInput(f"extractor must be one of {', '.join(EXTRACTORS)}, got {chosen!r}")
        self.extractor = offline_extractor(chosen)
        self.llm_usage = LLMUsage()
        self._usage_lock = threading.Lock()
        self._bound = False
        self.extraction = extraction
        self.queue_policy = queue_policy
        if not isinstance(writer, Writer):
            raise InvalidInput(f"writer must be a remem.Writer, got {type(writer).__name__}")
        self.writer = writer
        if not isinstance(guard, GuardPolicy):
            raise InvalidInput(f"guard must be a remem.GuardPolicy, got {type(guard).__name__}")
        self.guard = guard
        self._worker = None
        if extraction == "background" and self.llm is not None and extract_facts:
            self.start_extraction_worker()

    def close(self) -> None:
        """Stop this Memory's worker thread, close the store (and the LLM client it opened)."""
        self.stop_extraction_worker()
        self.store.close()
        if self._owns_llm and self.llm is not None and hasattr(self.llm, "close"):
            self.llm.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Memory({self.store.url!r}, tenant={self.tenant!r})"
