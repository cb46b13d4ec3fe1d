"""The Store protocol: storage, never policy.

A store persists records, keeps its text and vector indexes in step with them
inside one transaction, and answers narrow questions. What to keep and how to
rank lives in ``remem.pipeline`` and ``remem.retrieval``, written once for
every backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any, Protocol

import numpy as np

from remem.errors import InvalidInput
from remem.model import (
    Entity,
    EntityLink,
    Episode,
    Event,
    ExtractionJob,
    MemoryRecord,
    Scope,
)


@dataclass(frozen=True)
class JobClaim:
    """Which extraction jobs a worker takes, and as whom.

    A claim marks the rows with ``owner`` (unique per claim) and ``now``; a claim made
    before ``stale_before`` belongs to a worker that died, and is taken over. Jobs are
    taken oldest first (created_at, id), only those after ``after`` (a cursor, so one
    pass sees each job once), with a status in ``statuses``, among ``ids`` when given,
    and, with ``due_only``, only once their ``retry_at`` has come.
    """

    owner: str
    now: datetime
    stale_before: datetime
    statuses: tuple[str, ...] = ("pending",)
    due_only: bool = True
    after: tuple[datetime, str] | None = None
    ids: tuple[str, ...] | None = None


def list_all(store: Store, flt: MemoryFilter, page: int = 1000) -> list[MemoryRecord]:
    """Every memory ``flt`` admits, read page by page."""
    rows: list[MemoryRecord] = []
    while True:
        got = store.list_memories(flt, limit=page, offset=len(rows))
        rows += got
        if len(got) < page:
            return rows


#: With a ``kinds`` filter, how many of an entity's newest links ``entity_links`` inspects.
LINK_SCAN = 1000


@dataclass(frozen=True)
class MemoryFilter:
    """Which memory rows a read may see.

    Without ``as_of`` only current rows (``expired_at`` unset) with a status in
    ``statuses`` are visible. With ``as_of`` the view is what remem believed at
    that system time: rows recorded by then and not yet expired, whatever
    their status is today. ``valid_at`` keeps rows true at that event time:
    ``valid_from <= valid_at < valid_to`` (an open end is still true).
    """

    scope: Scope
    kinds: tuple[str, ...] | None = None
    statuses: tuple[str, ...] = ("active",)
    metadata: dict[str, Any] = field(default_factory=dict)
    event_after: datetime | None = None
    event_before: datetime | None = None
    as_of: datetime | None = None
    ids: tuple[str, ...] | None = None
    valid_at: datetime | None = None
    layers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LifecycleChange:
    """New lifecycle state for the current row of a memory (no new version, no content change).

    ``recalled_at`` also counts one recall: ``access_count`` + 1 and ``last_accessed_at`` set,
    done in SQL so concurrent recalls all count.
    """

    id: str
    version: int
    layer: str
    stability: float | None
    pinned: bool
    status: str
    recalled_at: datetime | None = None


EntityRow = tuple[Entity, np.ndarray | None, Sequence[str]]


@dataclass
class Dumped:
    """A dump sorted by record type, checked for what a load could not store verbatim."""

    episodes: list[Episode] = field(default_factory=list)
    memories: list[tuple[MemoryRecord, np.ndarray | None]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    entities: list[EntityRow] = field(default_factory=list)
    links: list[EntityLink] = field(default_factory=list)
    jobs: list[ExtractionJob] = field(default_factory=list)

    @classmethod
    def of(cls, items: Sequence[tuple[str, Any]]) -> Dumped:
        found = cls()
        lists: dict[str, list[Any]] = {
            "episode": found.episodes,
            "memory": found.memories,
            "event": found.events,
            "entity": found.entities,
            "entity_link": found.links,
            "extraction_job": found.jobs,
        }
        for kind, item in items:
            if kind not in lists:
                raise InvalidInput(f"unknown record type {kind!r}")
            lists[kind].append(item)
        entities = [(e.scope.tenant, e.id) for e, _, _ in found.entities]
        jobs = [(j.scope.tenant, j.id) for j in found.jobs]
        for what, keys in (("entity", entities), ("extraction job", jobs)):
            twice = [key for key, n in Counter(keys).items() if n > 1]
            if twice:
                raise InvalidInput(f"{what} {twice[0][1]} appears twice in the records to load")
        known = set(entities)
        for link in found.links:
            if (link.scope.tenant, link.entity_id) not in known:
                raise InvalidInput(
                    f"the link from memory {link.memory_id} names entity {link.entity_id}, "
                    "which the records to load do not hold"
                )
        return found

    def link_runs(self) -> Iterator[tuple[str, list[tuple[str, str]]]]:
        """Links as ``Store.link_entities`` takes them: one call per run of one tenant, in order."""
        for tenant, run in groupby(self.links, key=lambda link: link.scope.tenant):
            yield tenant, [(link.memory_id, link.entity_id) for link in run]


class Store(Protocol):
    """What every backend implements; checked by the shared conformance suite."""

    url: str

    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside commit together or not at all; nesting joins the outer one."""
        ...

    def bind_embedder(self, model_id: str, dimension: int) -> None:
        """Record (first use) or check (later) which embedding space the vectors live in."""
        ...

    # writes ---------------------------------------------------------------
    def insert_episodes(self, episodes: Sequence[Episode]) -> None: ...

    def insert_memories(self, rows: Sequence[tuple[MemoryRecord, np.ndarray | None]]) -> None: ...

    def end_version(
        self, memory_id: str, version: int, status: str, at: datetime, tenant: str
    ) -> None:
        """Close the current row of a memory (superseded or deleted) at system time ``at``."""
        ...

    def set_status(self, memory_id: str, version: int, status: str, tenant: str) -> None:
        """Change the lifecycle status of a row without closing it (archive / restore)."""
        ...

    def set_lifecycle(self, tenant: str, changes: Sequence[LifecycleChange]) -> int:
        """Apply ``changes`` to current rows in one batch; returns how many rows changed.

        Rows that are no longer current (updated or deleted meanwhile) are skipped.
        """
        ...

    def append_events(self, events: Sequence[Event]) -> list[Event]: ...

    def next_seq(self, scope: Scope) -> int:
        """The next turn position in the session of ``scope``."""
        ...

    def forget(self, memory_id: str, tenant: str) -> int:
        """Erase every version, index entry, orphaned episode and event payload; returns rows gone."""
        ...

    # reads ----------------------------------------------------------------
    def get_memory(
        self,
        memory_id: str,
        tenant: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> MemoryRecord | None: ...

    def versions(self, memory_id: str, tenant: str) -> list[MemoryRecord]: ...

    def list_memories(
        self, flt: MemoryFilter, *, limit: int, offset: int
    ) -> list[MemoryRecord]: ...

    def count_memories(self, flt: MemoryFilter) -> int: ...

    def text_search(
        self, terms: Sequence[str], flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        """BM25 over any of ``terms``; higher score is better."""
        ...

    def vector_search(
        self, vector: np.ndarray, flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        """Cosine similarity; higher is better."""
        ...

    def get_episodes(self, ids: Sequence[str], tenant: str) -> list[Episode]: ...

    def neighbours(self, episode: Episode, window: int) -> list[Episode]:
        """Turns of the same session within ``window`` positions, in order, the episode included."""
        ...

    def events(
        self, tenant: str, memory_id: str | None = None, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Event]: ...

    def stats(self, scope: Scope) -> dict[str, Any]: ...

    # knowledge graph ------------------------------------------------------
    def save_entities(self, rows: Sequence[EntityRow]) -> None:
        """Insert or replace entities (by id) with their name vectors and lookup keys.

        ``keys`` (normalised aliases and name parts) replace the entity's previous keys;
        ``entities_by_alias`` answers from them.
        """
        ...

    def get_entities(
        self, tenant: str, user_id: str | None, ids: Sequence[str] | None = None
    ) -> list[tuple[Entity, np.ndarray | None]]:
        """The user's entities (all of them, or those in ``ids``), oldest first."""
        ...

    def entities_by_alias(
        self, tenant: str, user_id: str | None, aliases: Sequence[str]
    ) -> dict[str, list[str]]:
        """Normalised alias -> ids of the user's entities known by it."""
        ...

    def link_entities(self, tenant: str, links: Sequence[tuple[str, str]]) -> None:
        """Record that memory ``links[i][0]`` mentions entity ``links[i][1]`` (idempotent)."""
        ...

    def entity_links(
        self,
        tenant: str,
        *,
        entity_ids: Sequence[str] | None = None,
        memory_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 10_000,
    ) -> list[tuple[str, str]]:
        """(memory id, entity id) pairs touching the given entities or memories, newest first.

        ``kinds`` keeps links to memories of those kinds (a hub entity's facts among its
        many turns); per entity only its ``LINK_SCAN`` newest links are looked at then.
        """
        ...

    # extraction queue -----------------------------------------------------
    def save_job(self, job: ExtractionJob) -> None:
        """Insert an extraction job, or overwrite its fields (by id); a claim on it stays."""
        ...

    def get_jobs(self, tenant: str, limit: int = 100) -> list[ExtractionJob]:
        """Jobs waiting or failed, oldest first."""
        ...

    def claim_jobs(self, tenant: str, claim: JobClaim, limit: int = 1) -> list[ExtractionJob]:
        """Take up to ``limit`` jobs for ``claim.owner`` atomically, oldest first.

        Runs in its own transaction (or joins the caller's). Two claims, from any threads
        or processes on one database, never get the same job while its claim is fresh.
        """
        ...

    def update_job(self, job: ExtractionJob, owner: str, release: bool = False) -> bool:
        """Write ``job``'s fields if ``owner`` still holds its claim (``release``: and drop
        the claim). False, with nothing written, when the claim was lost."""
        ...

    def delete_job(self, tenant: str, job_id: str, owner: str | None = None) -> bool:
        """Delete a job (only if ``owner`` holds its claim, when given); True if deleted."""
        ...

    # portability ----------------------------------------------------------
    def dump(self, tenant: str | None = None) -> Iterator[tuple[str, Any]]:
        """Every record, in this order, from one consistent snapshot.

        ("episode", Episode), ("memory", (MemoryRecord, vector)), ("event", Event),
        ("entity", (Entity, vector, keys)) with its alias-index keys sorted,
        ("entity_link", EntityLink) oldest first, ("extraction_job", ExtractionJob).
        """
        ...

    def load(self, items: Sequence[tuple[str, Any]]) -> None:
        """Insert dumped records verbatim (ids, versions and times kept) in one transaction.

        An episode, memory, entity or job id already stored refuses the whole load.
        """
        ...

    def close(self) -> None: ...
