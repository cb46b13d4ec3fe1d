"""Review: the quarantine (list, release), memories confirmed as poisoned (forget_poisoned)
and the lessons they leave, which hold back new writes close to them.

Nothing here deletes: a quarantined memory is kept out of search and context until
released; a poisoned one is kept as a lesson and never served again. Every decision is an
Event with its reason (docs/trust.md).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from remem._checks import check_limit, check_offset
from remem.config import GuardPolicy
from remem.engine.queue import ExtractionQueue
from remem.errors import InvalidInput, NotFound
from remem.guard import imported_trust, quarantine_reasons, scan
from remem.model import Event, Flagged, MemoryRecord, Scope, Writer
from remem.pipeline.ingest import Turn
from remem.stores import MemoryFilter

#: How long a Memory trusts its copy of the tenant's lessons before reading them again
#: (lessons confirmed through this Memory are seen at once; others' within this many seconds).
LESSONS_TTL_S = 10.0
#: The most lessons compared with each write.
MAX_LESSONS = 1000


class Review(ExtractionQueue):
    _lessons: tuple[float, list[tuple[MemoryRecord, np.ndarray]]] | None = None

    def quarantined(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Flagged]:
        """Memories held in quarantine, newest first, each with why and since when.

        They are kept whole but left out of search (unless ``include_quarantined=True``)
        and context; ``release`` lets one in, ``forget_poisoned`` confirms it as an attack.
        """
        return self._flagged("quarantined", "quarantine", user_id, agent_id, limit, offset)

    def lessons(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Flagged]:
        """Memories confirmed as poisoned, newest first, with the reason given: the lessons a
        write close to one of them is quarantined by."""
        return self._flagged("poisoned", "poisoned", user_id, agent_id, limit, offset)

    def release(
        self,
        memory_id: str,
        *,
        reason: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> MemoryRecord:
        """Let a quarantined memory into search and context (it was no attack).

        A released turn is queued for fact extraction when this Memory extracts facts.
        """
        scope = self._scope(user_id, agent_id)
        now = self.clock()
        job = owner = None
        with self.store.transaction():
            held = self._held(memory_id, scope, ("quarantined",), "released")
            self.store.set_status(held.id, held.version, "active", held.scope.tenant)
            released = held.model_copy(update={"status": "active"})
            self.store.append_events([Event.of("release", released, reason or "released", now)])
            if self.llm is not None and self.extract_facts and held.kind == "episode":
                job, owner = self._queue(held.scope, held.provenance[:1], now)
        if job is not None and owner is not None:
            episodes = tuple(self.store.get_episodes(job.episode_ids, job.scope.tenant))
            self._extract(job, owner, episodes, None)
        return released

    def forget_poisoned(
        self,
        memory_id: str,
        *,
        reason: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> MemoryRecord:
        """Confirm a memory (quarantined or not) as poisoned: it is never served again and is
        kept as a lesson, so that later writes close to it go to quarantine.

        To erase a memory for good instead, use ``forget``.
        """
        scope = self._scope(user_id, agent_id)
        now = self.clock()
        with self.store.transaction():
            statuses = ("active", "archived", "quarantined")
            held = self._held(memory_id, scope, statuses, "confirmed as poisoned")
            self.store.set_status(held.id, held.version, "poisoned", held.scope.tenant)
            lesson = held.model_copy(update={"status": "poisoned"})
            why = reason or "confirmed as poisoned"
            self.store.append_events([Event.of("poisoned", lesson, why, now)])
        self._lessons = None  # read them again at the next write
        return lesson

    # -- what writes use ------------------------------------------------------
    def _held_near_lessons(self, turns: Sequence[Turn], vectors: np.ndarray) -> list[Turn]:
        """``turns`` with those below the owner's trust that come close to a lesson held back."""
        if not (self.guard.enabled and self.guard.lessons and self.guard.quarantine):
            return list(turns)
        lessons = self._current_lessons()
        if not lessons:
            return list(turns)
        matrix = np.stack([v for _, v in lessons])
        out = []
        for turn, vector in zip(turns, vectors, strict=True):
            if turn.quarantine or turn.memory.trust == "trusted":
                out.append(turn)
                continue
            scores = matrix @ np.asarray(vector, dtype=np.float32)
            best = int(np.argmax(scores))
            if scores[best] < self.guard.lesson_similarity:
                out.append(turn)
                continue
            lesson = lessons[best][0]
            why = f"close to lesson {lesson.id} ({scores[best]:.2f})"
            memory = turn.memory.model_copy(update={"status": "quarantined"})
            out.append(Turn(turn.episode, memory, (why,)))
        return out

    def _current_lessons(self) -> list[tuple[MemoryRecord, np.ndarray]]:
        if self._lessons is not None and time.monotonic() - self._lessons[0] < LESSONS_TTL_S:
            return self._lessons[1]
        flt = MemoryFilter(scope=Scope(tenant=self.tenant), statuses=("poisoned",))
        found = self.store.list_memories(flt, limit=MAX_LESSONS, offset=0)
        known = {m.id: v for m, v in (self._lessons[1] if self._lessons else [])}
        fresh = [m for m in found if m.id not in known]
        if fresh:
            self._bind()
            for m, v in zip(fresh, self.embedder.embed([m.text for m in fresh]), strict=True):
                known[m.id] = np.asarray(v, dtype=np.float32)
        lessons = [(m, known[m.id]) for m in found]
        self._lessons = (time.monotonic(), lessons)
        return lessons

    # -- helpers --------------------------------------------------------------
    def _held(
        self, memory_id: str, scope: Scope, statuses: tuple[str, ...], what: str
    ) -> MemoryRecord:
        found = self._current(memory_id, scope)
        if found.status not in statuses:
            raise InvalidInput(
                f"memory {memory_id} is {found.status}; only a memory that is "
                f"{' or '.join(statuses)} can be {what}"
            )
        return found

    def _flagged(
        self,
        status: str,
        op: str,
        user_id: str | None,
        agent_id: str | None,
        limit: int,
        offset: int,
    ) -> list[Flagged]:
        check_offset(offset)
        flt = MemoryFilter(scope=self._scope(user_id, agent_id), statuses=(status,))
        found = self.store.list_memories(flt, limit=check_limit(limit), offset=offset)
        return [self._why(m, op) for m in found]

    def _why(self, memory: MemoryRecord, op: str) -> Flagged:
        """The memory with the reason and time of its latest ``op`` event."""
        events = [e for e in self.store.events(memory.scope.tenant, memory.id) if e.op == op]
        if not events:
            raise NotFound(f"no {op} decision recorded for memory {memory.id}")
        last = events[-1]
        return Flagged(memory=memory, reason=last.reason or op, at=last.at)


def guard_import(
    items: Sequence[tuple[str, Any]], writer: Writer, guard: GuardPolicy, now: datetime
) -> list[tuple[str, Any]]:
    """Records to import, with the trust ``writer`` may vouch for, and the current memories
    whose text the guard flags sent to quarantine (one event each): an export is data."""
    checked: list[tuple[str, Any]] = []
    held: list[tuple[str, Any]] = []
    for kind, item in items:
        if kind == "episode":
            trust = imported_trust(item.trust, item.role, writer)
            item = item.model_copy(update={"trust": trust})
        elif kind == "memory":
            record, vector = item
            record = record.model_copy(
                update={"trust": imported_trust(record.trust, record.origin, writer)}
            )
            current = record.status == "active" and record.expired_at is None
            reasons: tuple[str, ...] = ()
            if guard.enabled and guard.quarantine and current:
                reasons = quarantine_reasons(record.origin, record.trust, scan(record.text))
            if reasons:
                record = record.model_copy(update={"status": "quarantined"})
                why = "imported; " + "; ".join(reasons)
                held.append(("event", Event.of("quarantine", record, why, now)))
            item = (record, vector)
        checked.append((kind, item))
    return checked + held


def quarantine_events(turns: Sequence[Turn], now: datetime) -> list[Event]:
    """One ``quarantine`` event per held turn, its reasons joined."""
    return [
        Event.of("quarantine", t.memory, "; ".join(t.quarantine), now)
        for t in turns
        if t.quarantine
    ]
