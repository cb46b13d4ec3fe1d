"""The plain values stores take and give besides the model's records.

Filters (``MemoryFilter``), claims (``JobClaim``), lifecycle changes, answers kept per
request key (``KeptAnswer``), a re-embedding's rows and state (``Unembedded``,
``Reembedding``), and ``Dumped``, the check every backend's ``load`` runs before
writing anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import TYPE_CHECKING, Any, Literal

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

if TYPE_CHECKING:
    from remem.stores.base import Store

#: Records written per call when a load inserts many.
LOAD_CHUNK = 1000


@dataclass(frozen=True)
class KeptAnswer:
    """An answer kept under a request key, with what identifies the request it answered."""

    fingerprint: str
    answer: dict[str, Any]
    created_at: datetime


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


@dataclass(frozen=True)
class Unembedded:
    """A row a re-embedding has no new vector for yet, and the text to embed for it.

    ``key`` is the row's key in its table, as the backend knows it (opaque to callers,
    who hand it back as a cursor): a memory's text, an entity's name.
    """

    table: Literal["memories", "entities"]
    key: Any
    text: str


@dataclass(frozen=True)
class Reembedding:
    """Where a store's vectors stand: the embedder they are of, the one a re-embedding in
    progress is for (None: none is), and how many rows have their new vector of ``total``."""

    current: tuple[str, int] | None
    target: tuple[str, int] | None
    staged: int
    total: int


#: With a ``kinds`` filter, how many of an entity's newest links ``entity_links`` inspects.
LINK_SCAN = 1000


@dataclass(frozen=True)
class MemoryFilter:
    """Which memory rows a read may see.

    Without ``as_of`` only current rows (``expired_at`` unset) with a status in
    ``statuses`` are visible. With ``as_of`` the view is what remem believed at
    that system time: rows recorded by then and not yet expired, whatever
    their status is today, except the quarantined and poisoned (never believed) unless
    ``statuses`` names them. ``valid_at`` keeps rows true at that event time:
    ``valid_from <= valid_at < valid_to`` (an open end is still true). ``trust`` keeps
    rows of those trust levels.
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
    trust: tuple[str, ...] | None = None


#: Statuses of rows that were never believed: an ``as_of`` view leaves them out too.
HELD_STATUSES = ("quarantined", "poisoned")


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

    def insert_into(self, store: Store) -> None:
        """Write every record through ``store``'s own writes, parents first (call it inside
        the store's transaction, once nothing collides)."""
        for start in range(0, len(self.episodes), LOAD_CHUNK):
            store.insert_episodes(self.episodes[start : start + LOAD_CHUNK])
        for start in range(0, len(self.memories), LOAD_CHUNK):
            store.insert_memories(self.memories[start : start + LOAD_CHUNK])
        store.append_events(self.events)
        store.save_entities(self.entities)
        for tenant, pairs in self.link_runs():
            store.link_entities(tenant, pairs)
        for job in self.jobs:
            store.save_job(job)
