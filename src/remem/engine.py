"""``remem.Memory``: the one public facade. Interfaces (CLI, HTTP, MCP) are thin layers over it.

Every write runs in one store transaction and appends an Event in that same
transaction, so the history is exactly what happened, no more, no less.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ParamSpec, TypeVar

from remem import portability
from remem._ids import new_id
from remem._time import to_utc, utcnow
from remem.config import DEFAULT_QUEUE_POLICY, QueuePolicy, default_location
from remem.errors import Conflict, InvalidInput, NotFound, ProviderError, ScopeError
from remem.model import (
    KINDS,
    LAYERS,
    STATUSES,
    AddResult,
    Context,
    Entity,
    Episode,
    Event,
    Extraction,
    ExtractionJob,
    LLMUsage,
    MaintenanceReport,
    MemoryRecord,
    Page,
    Scope,
    SearchResults,
)
from remem.pipeline import derived, digests, knowledge, lifecycle
from remem.pipeline.background import BackgroundMaintenance, ExtractionWorker
from remem.pipeline.extract import EXTRACTORS, OfflineExtractor, offline_extractor
from remem.pipeline.ingest import (
    Messages,
    build_turns,
    check_importance,
    check_metadata,
    check_text,
)
from remem.providers.embedder import Embedder, default_embedder
from remem.recipes import RECIPES, SearchRecipe
from remem.retention import DEFAULT_POLICY, LifecyclePolicy, retention
from remem.retrieval.context import build_context
from remem.retrieval.search import hybrid_search
from remem.stores import JobClaim, MemoryFilter, Store, open_store
from remem.text.names import normalise

if TYPE_CHECKING:
    from remem.providers.llm import LLM

P = ParamSpec("P")
R = TypeVar("R")

MAX_LIMIT = 1000

#: Where an add's fact extraction runs: in the call, or in a worker (this process's, or
#: any other process's on the same store).
EXTRACTION_MODES = ("inline", "background", "queue")


def _scope(tenant: str, user_id: str | None, agent_id: str | None, session_id: str | None) -> Scope:
    try:
        return Scope(tenant=tenant, user_id=user_id, agent_id=agent_id, session_id=session_id)
    except ValueError as exc:
        raise InvalidInput(f"bad scope: {exc.errors()[0]['msg']}") from exc  # type: ignore[attr-defined]


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def _kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if kinds is None:
        return None
    chosen = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    for kind in chosen:
        if kind not in KINDS:
            raise InvalidInput(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return chosen or None


def as_seen(memory: MemoryRecord, as_of: datetime | None) -> MemoryRecord:
    """The record as it looked at system time ``as_of``: its later expiry was not yet known."""
    if as_of is None or memory.expired_at is None or memory.expired_at <= as_of:
        return memory
    return memory.model_copy(update={"status": "active", "expired_at": None})


def _configured_llm() -> LLM | None:
    """The LLM REMEM_LLM_URL names; the HTTP client is only imported when one is configured."""
    if not os.environ.get("REMEM_LLM_URL"):
        return None
    from remem.providers.llm import default_llm

    return default_llm()


def _recipe(recipe: str | SearchRecipe) -> SearchRecipe:
    if isinstance(recipe, SearchRecipe):
        return recipe
    if recipe not in RECIPES:
        raise InvalidInput(
            f"unknown search recipe {recipe!r}; expected one of {', '.join(RECIPES)}"
        )
    return RECIPES[recipe]


def _layers(layers: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if layers is None:
        return None
    chosen = (layers,) if isinstance(layers, str) else tuple(layers)
    for layer in chosen:
        if layer not in LAYERS:
            raise InvalidInput(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    return chosen or None


def _metadata_filter(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    checked = check_metadata(metadata, "metadata filter")
    for key, value in checked.items():
        if not isinstance(value, str | int | float | bool):
            raise InvalidInput(f"metadata filter {key!r}: only strings, numbers and booleans match")
    return checked


class Memory:
    """Long-term memory for one application.

    ``Memory()`` opens the embedded default (a SQLite file in the user data
    dir); ``Memory("my.db")`` a file; ``Memory("postgresql://...")`` a server.

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
    """

    def __init__(
        self,
        location: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
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
    ) -> None:
        if extraction not in EXTRACTION_MODES:
            raise InvalidInput(
                f"extraction must be one of {', '.join(EXTRACTION_MODES)}, got {extraction!r}"
            )
        self.store: Store = store or open_store(location or default_location())
        self.embedder: Embedder = embedder or default_embedder()
        self.tenant = _scope(tenant, None, None, None).tenant
        self.clock = clock
        self.track_recalls = track_recalls
        self.policy = policy
        self._owns_llm = llm == "env"
        self.llm: LLM | None = _configured_llm() if llm == "env" else llm  # type: ignore[assignment]
        self.extract_facts = extract_facts
        chosen = extractor or os.environ.get("REMEM_EXTRACTOR") or "regex"
        if chosen not in EXTRACTORS:
            raise InvalidInput(f"extractor must be one of {', '.join(EXTRACTORS)}, got {chosen!r}")
        self.extractor: OfflineExtractor | None = offline_extractor(chosen)
        self.llm_usage = LLMUsage()
        self._usage_lock = threading.Lock()
        self._bound = False
        self.extraction = extraction
        self.queue_policy = queue_policy
        self._worker: ExtractionWorker | None = None
        if extraction == "background" and self.llm is not None and extract_facts:
            self.start_extraction_worker()

    # -- lifecycle ------------------------------------------------------------
    def close(self) -> None:
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

    def _bind(self) -> None:
        if not self._bound:
            self.store.bind_embedder(self.embedder.model_id, self.embedder.dimension)
            self._bound = True

    def _current(self, memory_id: str, scope: Scope) -> MemoryRecord:
        if not isinstance(memory_id, str) or not memory_id:
            raise InvalidInput("memory id must be a non-empty string")
        found = self.store.get_memory(memory_id, scope.tenant)
        if found is None or found.expired_at is not None or not scope.contains(found.scope):
            where = f" in scope {scope.label()}" if scope.label() else ""
            raise NotFound(f"no current memory {memory_id}{where}")
        return found

    # -- writes ---------------------------------------------------------------
    def add(
        self,
        messages: Messages,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        timestamp: datetime | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        kind: str = "episode",
        importance: float = 0.5,
        source: str = "api",
    ) -> AddResult:
        """Store a conversation (every turn kept, round-level) or one text; returns what was written."""
        scope = _scope(self.tenant, user_id, agent_id, session_id)
        now = self.clock()
        turns = build_turns(
            messages,
            scope=scope,
            first_seq=0,
            now=now,
            timestamp=timestamp,
            metadata=metadata,
            source=source,
            kind=kind,
            importance=check_importance(importance),
        )
        self._bind()
        vectors = self.embedder.embed([memory.text for _, memory in turns])
        with self.store.transaction():
            first = self.store.next_seq(scope)
            turns = [
                (episode.model_copy(update={"seq": first + i}), memory)
                for i, (episode, memory) in enumerate(turns)
            ]
            self.store.insert_episodes([episode for episode, _ in turns])
            self.store.insert_memories([(m, v) for (_, m), v in zip(turns, vectors, strict=True)])
            self.store.append_events([Event.of("add", m, None, now) for _, m in turns])
            linked = (
                knowledge.link_offline(self.store, self.extractor, turns, now)
                if self.extractor
                else []
            )
            job = owner = None
            if self.llm is not None and self.extract_facts and kind == "episode":
                # Queued in the turn's own transaction: a crash during the LLM call loses nothing.
                job = ExtractionJob(
                    id=new_id("job"),
                    scope=scope,
                    episode_ids=tuple(e.id for e, _ in turns),
                    created_at=now,
                    updated_at=now,
                )
                self.store.save_job(job)
                if self.extraction == "inline":  # ours until done; a worker elsewhere skips it
                    claimed, token = self._claim(ids=(job.id,))
                    owner = token if claimed is not None else None
        episodes = tuple(e for e, _ in turns)
        if job is None:
            extraction = Extraction(status="offline", entities=tuple(linked))
        elif owner is None:
            extraction = Extraction(status="queued", entities=tuple(linked), job_id=job.id)
            if self._worker is not None:
                self._worker.wake()
        else:
            extraction = self._extract(job, owner, episodes, None)
        return AddResult(
            episodes=episodes, memories=tuple(m for _, m in turns), extraction=extraction
        )

    def _claim(
        self,
        *,
        statuses: tuple[str, ...] = ("pending",),
        due_only: bool = True,
        after: tuple[datetime, str] | None = None,
        ids: tuple[str, ...] | None = None,
    ) -> tuple[ExtractionJob | None, str]:
        """The oldest job ``claim_jobs`` gives under a fresh owner token (None: nothing to do)."""
        now = self.clock()
        owner = new_id("claim")
        claim = JobClaim(
            owner=owner,
            now=now,
            stale_before=now - self.queue_policy.lease,
            statuses=statuses,
            due_only=due_only,
            after=after,
            ids=ids,
        )
        found = self.store.claim_jobs(self.tenant, claim, limit=1)
        return (found[0] if found else None), owner

    def _run_claimed(
        self, job: ExtractionJob, owner: str, policy: QueuePolicy | None
    ) -> Extraction | None:
        """Run a claimed job; None when its turns were forgotten meanwhile (it is dropped)."""
        episodes = tuple(self.store.get_episodes(list(job.episode_ids), self.tenant))
        if not episodes:
            with self.store.transaction():
                self.store.delete_job(self.tenant, job.id, owner)
            return None
        return self._extract(job, owner, episodes, policy)

    def _extract(
        self,
        job: ExtractionJob,
        owner: str,
        episodes: tuple[Episode, ...],
        policy: QueuePolicy | None,
    ) -> Extraction:
        """Facts from committed turns; a failure is recorded on the job, never raised.

        Without ``policy`` (inline, ``retry_extraction``) a failed job is left "failed";
        a worker's ``policy`` keeps it pending, with backoff, until its attempts run out.
        """
        assert self.llm is not None
        before = self.llm.usage
        current = job
        try:
            current, spent = knowledge.extract(
                store=self.store,
                llm=self.llm,
                job=job,
                episodes=episodes,
                now=self.clock(),
                owner=owner,
            )
            return knowledge.build(
                store=self.store,
                embedder=self.embedder,
                llm=self.llm,
                job=current,
                episodes=episodes,
                now=self.clock(),
                event=Event.of,
                owner=owner,
                spent=spent,
            )
        except ProviderError as exc:
            now = self.clock()
            attempts = current.attempts + 1
            again = policy is not None and attempts < policy.max_attempts
            failed = current.model_copy(
                update={
                    "status": "pending" if again else "failed",
                    "attempts": attempts,
                    "error": str(exc),
                    "updated_at": now,
                    "retry_at": now + policy.backoff(attempts) if policy and again else None,
                }
            )
            with self.store.transaction():
                self.store.update_job(failed, owner, release=True)
            return Extraction(
                status="failed",
                error=str(exc),
                job_id=job.id,
                usage=self._usage(before, job, current),
            )
        except Conflict as exc:  # another worker took the job over; it applies it
            return Extraction(
                status="queued",
                error=str(exc),
                job_id=job.id,
                usage=self._usage(before, job, current),
            )
        finally:
            with self._usage_lock:
                self.llm_usage = knowledge.add_usage(self.llm_usage, self.llm.usage - before)

    def _usage(self, before: Any, job: ExtractionJob, current: ExtractionJob) -> LLMUsage:
        """What a run that did not finish cost: its extraction call, and the consolidation
        call it failed at (the answer was kept, so extraction had succeeded)."""
        assert self.llm is not None
        return knowledge.usage_of(
            self.llm.usage - before, job.extracted is None, current.extracted is not None
        )

    def retry_extraction(self, *, limit: int = 100) -> list[Extraction]:
        """Run the queued extractions now (failed, pending, backing off), oldest first.

        Each job is claimed first, so a background worker never runs the same one; a job
        kept with its extraction answer resumes at consolidation. One result per job run.
        """
        if self.llm is None:
            raise InvalidInput("retry_extraction needs an LLM: pass llm= or set REMEM_LLM_URL")
        self._bind()
        results = []
        after = None
        for _ in range(_limit(limit)):
            job, owner = self._claim(statuses=("pending", "failed"), due_only=False, after=after)
            if job is None:
                break
            after = (job.created_at, job.id)
            result = self._run_claimed(job, owner, None)
            if result is not None:
                results.append(result)
        return results

    def drain_extraction_queue(self) -> int:
        """One pass over the due pending jobs, oldest first, as the background worker runs it.

        Failed attempts follow ``queue_policy`` (backoff, then "failed"). Returns how many
        jobs ran. Safe next to other workers, threads or processes on the same store.
        """
        if self.llm is None:
            raise InvalidInput("the extraction queue needs an LLM: pass llm= or set REMEM_LLM_URL")
        self._bind()
        ran = 0
        after = None
        while True:
            job, owner = self._claim(after=after)
            if job is None:
                return ran
            after = (job.created_at, job.id)
            self._run_claimed(job, owner, self.queue_policy)
            ran += 1

    def start_extraction_worker(self, interval_s: float | None = None) -> ExtractionWorker:
        """Start (or return) this Memory's daemon thread draining the extraction queue.

        It runs every due job now, then whenever an add queues one (``extraction=
        "background"``) or every ``interval_s`` seconds (default: ``queue_policy``).
        ``stop_extraction_worker()`` (or ``close()``) stops and joins it.
        """
        if self.llm is None:
            raise InvalidInput("the extraction worker needs an LLM: pass llm= or set REMEM_LLM_URL")
        if self._worker is None:
            every = interval_s or self.queue_policy.interval_s
            self._worker = ExtractionWorker(self.drain_extraction_queue, every).start()
        return self._worker

    def stop_extraction_worker(self, timeout: float | None = 30.0) -> None:
        """Stop the worker thread, letting the job under way finish, and join it."""
        if self._worker is not None:
            self._worker.stop(timeout)
            self._worker = None

    def update(
        self,
        memory_id: str,
        text: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        importance: float | None = None,
        valid_from: datetime | str | None = None,
        valid_to: datetime | str | None = None,
        reason: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> MemoryRecord:
        """Write a new version; the old one stays, marked superseded, for history and ``as_of``.

        ``metadata`` is a patch: given keys are set, keys given as None are removed.
        """
        scope = _scope(self.tenant, user_id, agent_id, None)
        changes: dict[str, Any] = {}
        if text is not None:
            changes["text"] = check_text(text, "text")
        patch = check_metadata(metadata) if metadata is not None else None
        if importance is not None:
            changes["importance"] = check_importance(importance)
        if valid_from is not None:
            changes["valid_from"] = to_utc(valid_from, field="valid_from")
        if valid_to is not None:
            changes["valid_to"] = to_utc(valid_to, field="valid_to")
        if not changes and not patch:
            raise InvalidInput(
                "update needs at least one of text, metadata, importance, valid_from, valid_to"
            )
        self._bind()
        vector = self.embedder.embed([changes["text"]])[0] if "text" in changes else None
        now = self.clock()
        with self.store.transaction():
            old = self._current(memory_id, scope)
            if patch:
                merged = {**old.metadata, **patch}
                changes["metadata"] = {k: v for k, v in merged.items() if v is not None}
            new = old.model_copy(
                update={
                    **changes,
                    "version": old.version + 1,
                    "recorded_at": now,
                    "expired_at": None,
                    "status": "active",
                }
            )
            new = MemoryRecord.model_validate(new.model_dump())
            if new.valid_from and new.valid_to and new.valid_to < new.valid_from:
                raise InvalidInput("valid_to is before valid_from")
            if vector is None:
                vector = self.embedder.embed([old.text])[0]
            self.store.end_version(old.id, old.version, "superseded", now, old.scope.tenant)
            self.store.insert_memories([(new, vector)])
            self.store.append_events([Event.of("update", new, reason, now)])
            self._after_fact_change(new)  # in the same transaction: both or neither
        return new

    def delete(
        self,
        memory_id: str,
        *,
        reason: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> MemoryRecord:
        """Soft delete: hidden from search and list, still in history and ``as_of`` views."""
        scope = _scope(self.tenant, user_id, agent_id, None)
        now = self.clock()
        with self.store.transaction():
            old = self._current(memory_id, scope)
            self.store.end_version(old.id, old.version, "deleted", now, old.scope.tenant)
            gone = old.model_copy(update={"status": "deleted", "expired_at": now})
            self.store.append_events([Event.of("delete", gone, reason, now)])
            self._after_fact_change(gone)
        return gone

    def delete_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        reason: str | None = None,
    ) -> int:
        """Soft-delete every current memory of one explicit scope in this tenant; returns how many.

        Refuses without a user, agent or session: a bulk delete must never reach past the
        scope its caller named (nor ever past the tenant).
        """
        if user_id is None and agent_id is None and session_id is None:
            raise ScopeError("delete_all needs an explicit scope: user_id, agent_id or session_id")
        scope = _scope(self.tenant, user_id, agent_id, session_id)
        flt = MemoryFilter(scope=scope, statuses=("active", "archived"))
        now = self.clock()
        with self.store.transaction():
            current = self.store.list_memories(flt, limit=self.store.count_memories(flt), offset=0)
            events = []
            for old in current:
                self.store.end_version(old.id, old.version, "deleted", now, old.scope.tenant)
                gone = old.model_copy(update={"status": "deleted", "expired_at": now})
                events.append(Event.of("delete", gone, reason, now))
            self.store.append_events(events)
            # One profile refresh per user/agent whose facts went, in the same transaction.
            changed = {(m.scope.user_id, m.scope.agent_id): m for m in current if m.kind == "fact"}
            for fact in changed.values():
                self._after_fact_change(fact)
        return len(current)

    def forget(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None
    ) -> int:
        """Hard delete: every version, its index entries, events and uncited source turns are erased.

        One content-free ``forget`` event remains, so the log still shows that something was erased.
        """
        scope = _scope(self.tenant, user_id, agent_id, None)
        with self.store.transaction():
            versions = self.store.versions(memory_id, scope.tenant)
            if not versions or not scope.contains(versions[-1].scope):
                raise NotFound(f"no memory {memory_id} to forget")
            erased = self.store.forget(memory_id, scope.tenant)
            self.store.append_events(
                [
                    Event(
                        id=new_id("ev"),
                        at=self.clock(),
                        op="forget",
                        memory_id=memory_id,
                        version=None,
                        scope=versions[-1].scope,
                        reason="forgotten on request",
                    )
                ]
            )
        return erased

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
        after: datetime | str | None = None,
        before: datetime | str | None = None,
        as_of: datetime | str | None = None,
        context_window: int = 0,
        recipe: str | SearchRecipe = "hybrid",
        asked_at: datetime | str | None = None,
        layers: str | Iterable[str] | None = None,
        archived: bool = False,
        valid_at: datetime | str | None = None,
    ) -> SearchResults:
        """Ranked memories for ``query``; each hit says which signals found it and cites its turn.

        ``after``/``before`` bound event time; ``as_of`` shows what was believed at that system time;
        ``valid_at`` keeps what was true at that event time (``valid_from <= t < valid_to``).
        Time phrases in the query ("last March") are resolved against ``asked_at`` (default: now).
        ``archived=True`` also searches archived memories; a recalled one is restored.
        """
        check_text(query, "query")
        chosen = _recipe(recipe)
        if (
            isinstance(context_window, bool)
            or not isinstance(context_window, int)
            or not 0 <= context_window <= 20
        ):
            raise InvalidInput("context_window must be an integer from 0 to 20")
        flt = MemoryFilter(
            scope=_scope(self.tenant, user_id, agent_id, session_id),
            kinds=_kinds(kinds),
            metadata=_metadata_filter(metadata),
            event_after=to_utc(after, field="after"),
            event_before=to_utc(before, field="before"),
            as_of=to_utc(as_of, field="as_of"),
            layers=_layers(layers),
            statuses=("active", "archived") if archived else ("active",),
            valid_at=to_utc(valid_at, field="valid_at"),
        )
        self._bind()
        results = hybrid_search(
            self.store,
            self.embedder,
            query,
            flt,
            limit=_limit(limit),
            recipe=chosen,
            context_window=context_window,
            asked_at=to_utc(asked_at, field="asked_at") or self.clock(),
            policy=self.policy,
        )
        if flt.as_of is None:
            recalled = self._recall([h.memory for h in results.hits])
            hits = tuple(
                h.model_copy(update={"memory": recalled.get(h.memory.id, h.memory)})
                for h in results.hits
            )
        else:
            hits = tuple(
                h.model_copy(update={"memory": as_seen(h.memory, flt.as_of)}) for h in results.hits
            )
        return results.model_copy(update={"hits": hits})

    def _recall(self, memories: list[MemoryRecord]) -> dict[str, MemoryRecord]:
        """Count a recall of each (one batched write); the records as they are after it, by id."""
        if not self.track_recalls or not memories:
            return {}
        updated = lifecycle.recall(self.store, memories, self.clock(), self.policy)
        return {m.id: m for m in updated}

    def get(
        self,
        memory_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        version: int | None = None,
        as_of: datetime | str | None = None,
    ) -> MemoryRecord:
        """The current version, or a given ``version``, or the one believed at ``as_of``."""
        scope = _scope(self.tenant, user_id, agent_id, None)
        if not isinstance(memory_id, str) or not memory_id:
            raise InvalidInput("memory id must be a non-empty string")
        when = to_utc(as_of, field="as_of")
        found = self.store.get_memory(memory_id, scope.tenant, version=version, as_of=when)
        if found is None or not scope.contains(found.scope):
            raise NotFound(f"no memory {memory_id}" + (f" version {version}" if version else ""))
        if version is None and when is None:
            return self._recall([found]).get(found.id, found)
        return as_seen(found, when)

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
        """Newest first, one page at a time; ``Page.next_offset`` is None on the last page."""
        statuses = (status,) if isinstance(status, str) else tuple(status)
        for s in statuses:
            if s not in STATUSES:
                raise InvalidInput(f"unknown status {s!r}; expected one of {', '.join(STATUSES)}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidInput("offset must be a non-negative integer")
        current = tuple(s for s in statuses if s in ("active", "archived"))
        ended = tuple(s for s in statuses if s not in current)
        flt = MemoryFilter(
            scope=_scope(self.tenant, user_id, agent_id, session_id),
            kinds=_kinds(kinds),
            statuses=current or ("active",),
            metadata=_metadata_filter(metadata),
            layers=_layers(layers),
        )
        if ended:
            raise InvalidInput(
                "list shows current memories; use history(id) for superseded or deleted ones"
            )
        items = self.store.list_memories(flt, limit=_limit(limit), offset=offset)
        return Page(
            items=tuple(items), total=self.store.count_memories(flt), offset=offset, limit=limit
        )

    def facts(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        valid_at: datetime | str | None = None,
        as_of: datetime | str | None = None,
        current: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[MemoryRecord]:
        """Extracted facts, newest first: all of them, or those true at ``valid_at`` (event time).

        ``current=True`` is ``valid_at=now``: what is true today. ``as_of`` shows the facts
        as they were believed at that system time (before later corrections).
        """
        if current and valid_at is not None:
            raise InvalidInput("give either current=True or valid_at, not both")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidInput("offset must be a non-negative integer")
        when = to_utc(as_of, field="as_of")
        flt = MemoryFilter(
            scope=_scope(self.tenant, user_id, agent_id, None),
            kinds=("fact",),
            as_of=when,
            valid_at=self.clock() if current else to_utc(valid_at, field="valid_at"),
        )
        found = self.store.list_memories(flt, limit=_limit(limit), offset=offset)
        return [as_seen(m, when) for m in found]

    def entities(self, *, user_id: str | None = None, name: str | None = None) -> list[Entity]:
        """The user's knowledge-graph entities, oldest first; ``name`` finds one by any alias."""
        scope = _scope(self.tenant, user_id, None, None)
        if name is None:
            return [e for e, _ in self.store.get_entities(scope.tenant, scope.user_id)]
        key = normalise(check_text(name, "name"))
        ids = self.store.entities_by_alias(scope.tenant, scope.user_id, [key]).get(key, [])
        return [e for e, _ in self.store.get_entities(scope.tenant, scope.user_id, ids)]

    def related(
        self, entity_id: str, *, user_id: str | None = None, limit: int = 50
    ) -> list[MemoryRecord]:
        """Current memories that mention an entity (its edges in the graph), newest first."""
        scope = _scope(self.tenant, user_id, None, None)
        links = self.store.entity_links(scope.tenant, entity_ids=[entity_id], limit=5000)
        ids = tuple(dict.fromkeys(m for m, _ in links))
        if not ids:
            return []
        flt = MemoryFilter(scope=scope, ids=ids)
        return self.store.list_memories(flt, limit=_limit(limit), offset=0)

    def history(self, memory_id: str, *, user_id: str | None = None) -> list[Event]:
        """Every operation on the memory, oldest first, each with the record as it was after the op."""
        scope = _scope(self.tenant, user_id, None, None)
        events = self.store.events(scope.tenant, memory_id)
        if not events or not scope.contains(events[-1].scope):
            raise NotFound(f"no history for memory {memory_id}")
        return events

    def versions(self, memory_id: str) -> list[MemoryRecord]:
        found = self.store.versions(memory_id, self.tenant)
        if not found:
            raise NotFound(f"no memory {memory_id}")
        return found

    def surrounding(self, memory_id: str, window: int = 2) -> list[Episode]:
        """The turns around the one a memory came from, for reading a hit in its conversation."""
        memory = self.get(memory_id)
        if not memory.provenance:
            return []
        episodes = self.store.get_episodes([memory.provenance[0]], self.tenant)
        return self.store.neighbours(episodes[0], window) if episodes else []

    def stats(self, *, user_id: str | None = None) -> dict[str, Any]:
        """Counts per kind and status, entities, the extraction queue, and this process's LLM use."""
        found = self.store.stats(_scope(self.tenant, user_id, None, None))
        used = self.llm_usage
        found["llm"] = {
            "model": self.llm.model_id if self.llm else None,
            "calls": used.calls,
            "prompt_tokens": used.prompt_tokens,
            "completion_tokens": used.completion_tokens,
            "retries": used.retries,
        }
        return found

    # -- lifecycle: strength, layers, summaries, profile, context ----------------
    def maintain(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        archive_below: float | None = None,
    ) -> MaintenanceReport:
        """Move memories between layers and archive those whose retention faded under the threshold.

        Archived memories stay stored: ``get``, ``list(status="archived")`` and
        ``search(archived=True)`` find them, and a recall restores them.
        """
        if archive_below is not None and not 0.0 <= archive_below <= 1.0:
            raise InvalidInput("archive_below must be between 0 and 1")
        scope = _scope(self.tenant, user_id, agent_id, None)
        return lifecycle.maintain(
            self.store, scope, self.clock(), self.policy, archive_below=archive_below
        )

    def pin(
        self, memory_id: str, pinned: bool = True, *, user_id: str | None = None
    ) -> MemoryRecord:
        """A pinned memory never fades and is never archived; ``pinned=False`` lets it age again."""
        scope = _scope(self.tenant, user_id, None, None)
        with self.store.transaction():
            return lifecycle.pin(self.store, self._current(memory_id, scope), pinned, self.clock())

    def maintain_in_background(
        self,
        every_s: float = 3600.0,
        *,
        user_id: str | None = None,
        archive_below: float | None = None,
    ) -> BackgroundMaintenance:
        """Start a daemon thread that runs ``maintain`` now and every ``every_s`` seconds.

        Returns the runner; call its ``stop()`` before closing this Memory.
        """
        return BackgroundMaintenance(
            lambda: self.maintain(user_id=user_id, archive_below=archive_below), every_s
        ).start()

    def retention(self, memory: MemoryRecord, at: datetime | str | None = None) -> float:
        """How strongly ``memory`` is held at ``at`` (default now), from 0 to 1."""
        return retention(memory, to_utc(at, field="at") or self.clock(), self.policy)

    def summarize(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> list[MemoryRecord]:
        """Summarize the sessions that changed, then the user's running summary and profile.

        With an LLM, also derives insights across sessions (each citing its sources).
        Returns the summaries and insights written (unchanged ones are not rewritten).
        """
        scope = _scope(self.tenant, user_id, agent_id, session_id)
        self._bind()
        now = self.clock()
        llm = self.llm
        written = digests.summarize_sessions(self.store, self.embedder, scope, now, llm)
        if user_id is not None or agent_id is not None:
            running = digests.update_running_summary(self.store, self.embedder, scope, now, llm)
            if running is not None:
                written.append(running)
                if llm is not None:
                    written += digests.derive_insights(self.store, self.embedder, scope, now, llm)
            self.profile(user_id=user_id, agent_id=agent_id, refresh=True)
        return written

    def profile(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        refresh: bool = False,
    ) -> MemoryRecord:
        """The user's profile (kind ``profile``): stable facts and recent changes, each cited.

        Built on first use; ``refresh=True`` rebuilds it now. Updating or deleting a fact
        refreshes an existing profile by itself.
        """
        if user_id is None and agent_id is None:
            raise InvalidInput("a profile belongs to a user or an agent: give user_id or agent_id")
        scope = _scope(self.tenant, user_id, agent_id, None)
        if not refresh:
            found = derived.find(self.store, scope, "profile")
            if found is not None:
                return found
        self._bind()
        return digests.refresh_profile(self.store, self.embedder, scope, self.clock(), self.llm)

    def _after_fact_change(self, memory: MemoryRecord) -> None:
        """Keep an existing profile true to the facts it lists."""
        if memory.kind != "fact" or (
            memory.scope.user_id is None and memory.scope.agent_id is None
        ):
            return
        scope = memory.scope.model_copy(update={"session_id": None})
        if derived.find(self.store, scope, "profile") is not None:
            self._bind()
            digests.refresh_profile(self.store, self.embedder, scope, self.clock(), self.llm)

    def add_insight(
        self,
        text: str,
        sources: Iterable[str],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        importance: float = 0.6,
        metadata: Mapping[str, Any] | None = None,
    ) -> MemoryRecord:
        """Store an insight derived from other memories (Think-in-Memory); it cites them."""
        scope = _scope(self.tenant, user_id, agent_id, None)
        text = check_text(text, "insight")
        ids = list(dict.fromkeys(sources))
        if not ids:
            raise InvalidInput("an insight must cite at least one source memory")
        cited = [self._current(i, scope) for i in ids]
        self._bind()
        vector = self.embedder.embed([text])[0]
        now = self.clock()
        record = MemoryRecord(
            id=new_id("mem"),
            scope=scope,
            kind="insight",
            text=text,
            provenance=tuple(dict.fromkeys(e for m in cited for e in m.provenance)),
            valid_from=now,
            recorded_at=now,
            importance=check_importance(importance),
            metadata={**check_metadata(metadata), "sources": ids},
            layer="long",
        )
        with self.store.transaction():
            for m in cited:
                self._current(m.id, scope)  # still current inside the write
            self.store.insert_memories([(record, vector)])
            self.store.append_events([Event.of("add", record, "insight", now)])
        return record

    def context(
        self,
        query: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        budget_tokens: int = 1000,
        limit: int = 30,
        recipe: str | SearchRecipe = "hybrid",
        asked_at: datetime | str | None = None,
        after: datetime | str | None = None,
        before: datetime | str | None = None,
        profile: bool = True,
    ) -> Context:
        """A prompt-ready block for ``query``: profile, overview, facts, sessions and turns.

        Never longer than ``budget_tokens`` (``remem.text.tokens.count_tokens``);
        each line cites its memory id and date. Memories cited count as recalled. The
        profile and overview are the stored ones (``summarize``/``profile`` build them):
        assembling a context writes nothing but recall counts.
        """
        if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int):
            raise InvalidInput("budget_tokens must be an integer")
        if budget_tokens < 16:
            raise InvalidInput("budget_tokens must be at least 16")
        check_text(query, "query")
        chosen = _recipe(recipe)
        owner = user_id is not None or agent_id is not None
        person = _scope(self.tenant, user_id, agent_id, None)
        stored = derived.find(self.store, person, "profile") if profile and owner else None
        items = digests.profile_items(stored)
        overview = (
            derived.find(self.store, person, "summary", digests.RUNNING_KEY) if owner else None
        )
        flt = MemoryFilter(
            scope=_scope(self.tenant, user_id, agent_id, session_id),
            kinds=("episode", "fact", "insight", "summary"),
            event_after=to_utc(after, field="after"),
            event_before=to_utc(before, field="before"),
        )
        self._bind()
        results = hybrid_search(
            self.store,
            self.embedder,
            query,
            flt,
            limit=_limit(limit),
            recipe=chosen,
            asked_at=to_utc(asked_at, field="asked_at") or self.clock(),
            policy=self.policy,
        )
        if flt.event_before is not None:  # only what was known before: no later digest
            items = [i for i in items if i.since < flt.event_before]
            if overview is not None and overview.recorded_at >= flt.event_before:
                overview = None
        found = [h.memory for h in results.hits if h.memory.metadata.get("summary") != "running"]
        block = build_context(
            query, budget_tokens, profile=items, overview=overview, memories=found
        )
        by_id = {m.id: m for m in found}
        self._recall([by_id[i] for i in block.cited if i in by_id])
        return block

    # -- portability ----------------------------------------------------------
    def export(self, destination: str | Path | IO[str]) -> dict[str, int]:
        """Write every record of this tenant as JSONL (vectors included); returns counts per type."""
        return portability.export_jsonl(
            self.store.dump(self.tenant), destination, embedder=self.embedder.model_id
        )

    def migrate_to(self, target: str | Path) -> dict[str, int]:
        """Copy every tenant of this store into another store (e.g. SQLite -> PostgreSQL)."""
        destination = open_store(target)
        try:
            destination.bind_embedder(self.embedder.model_id, self.embedder.dimension)
            items = list(self.store.dump(None))
            destination.load(items)
        finally:
            destination.close()
        return portability.count(items)

    def import_(self, source: str | Path | IO[str]) -> dict[str, int]:
        """Load a JSONL export verbatim in one transaction; ids that already exist abort it whole.

        Records land in this Memory's tenant. Vectors made by another embedder are recomputed.
        """
        exported_by, items = portability.read_jsonl(source, tenant=self.tenant)
        self._bind()
        items = portability.fill_vectors(
            items, self.embedder, reuse=exported_by == self.embedder.model_id
        )
        self.store.load(items)
        return portability.count(items)


def _to_thread(method: Callable[P, R]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def run(self: AsyncMemory, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.sync, method.__name__), *args, **kwargs)

    return run


class AsyncMemory:
    """The same facade for asyncio code: each call runs the sync engine in a worker thread."""

    def __init__(self, location: str | Path | None = None, **kwargs: Any) -> None:
        self.sync = Memory(location, **kwargs)

    add = _to_thread(Memory.add)
    update = _to_thread(Memory.update)
    delete = _to_thread(Memory.delete)
    delete_all = _to_thread(Memory.delete_all)
    forget = _to_thread(Memory.forget)
    search = _to_thread(Memory.search)
    get = _to_thread(Memory.get)
    list = _to_thread(Memory.list)
    maintain = _to_thread(Memory.maintain)
    pin = _to_thread(Memory.pin)
    summarize = _to_thread(Memory.summarize)
    profile = _to_thread(Memory.profile)
    add_insight = _to_thread(Memory.add_insight)
    context = _to_thread(Memory.context)
    history = _to_thread(Memory.history)
    facts = _to_thread(Memory.facts)
    entities = _to_thread(Memory.entities)
    related = _to_thread(Memory.related)
    retry_extraction = _to_thread(Memory.retry_extraction)
    drain_extraction_queue = _to_thread(Memory.drain_extraction_queue)
    versions = _to_thread(Memory.versions)
    surrounding = _to_thread(Memory.surrounding)
    stats = _to_thread(Memory.stats)
    export = _to_thread(Memory.export)
    import_ = _to_thread(Memory.import_)

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


__all__ = ["AsyncMemory", "Memory"]
