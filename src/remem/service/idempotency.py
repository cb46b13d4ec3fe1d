"""``Idempotency-Key`` on ``POST /v1/memories``: an add sent again is stored once.

A client that lost its answer (a timeout, a dropped connection, a server killed mid-add)
sends the same add again under the same key, and is answered with what the first one
stored instead of it being stored twice (``remem.Client`` sets a key on every add).

- The answer is kept in the add's own transaction (``IdempotencyStore.keep_answer``), so
  the add and its key commit together or not at all: a server killed before the commit
  kept neither (the retry stores the add), killed after it kept both (the retry is
  answered from them).
- ``KeyedStore`` makes that possible without the engine knowing: it wraps the store every
  tenant's ``Memory`` writes through and, while a keyed add runs in this context, notes
  the ids the add inserts and keeps them under the key as the add's outermost transaction
  ends. An add with the same key that committed first makes this one roll back whole; the
  first one's answer is given instead.
- What is kept is ids (episodes, memories, the extraction's status and job), never text:
  a replay reads the records back, so ``forget`` leaves nothing of them behind. A replay
  therefore lacks the extraction's decisions and entities (``facts()`` and ``entities()``
  have them), and is a 409 if part of what the add stored was erased since.
- The same key with another body is a 422; keys are per tenant; answers are kept
  ``RETENTION`` (24 hours), then dropped: the same key after that is a new add.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel

from remem._time import utcnow
from remem.errors import Conflict, InvalidInput
from remem.model import AddResult, Episode, Extraction, ExtractionJob, MemoryRecord
from remem.stores import KeptAnswer, Store

HEADER = "Idempotency-Key"
#: What a key may be: 1 to 255 visible ASCII characters (a UUID, a hash, a request id).
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
#: How long an answer is kept: retries come within seconds or minutes, not days.
RETENTION = timedelta(hours=24)
#: How often one server drops answers past their retention.
DROP_EVERY = timedelta(minutes=10)


def fingerprint(body: BaseModel) -> str:
    """The request a key was first used for: its body, whatever its key order or spacing."""
    text = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _KeyedAdd:
    """The keyed add running in this context, and what it has inserted so far."""

    tenant: str
    key: str
    fingerprint: str
    at: datetime
    episodes: list[str] = field(default_factory=list)
    memories: list[str] = field(default_factory=list)
    job: str | None = None
    depth: int = 0
    kept: dict[str, Any] | None = None  # the answer kept in the add's transaction

    def answer(self, extraction: Extraction | None) -> dict[str, Any]:
        return {"episodes": self.episodes, "memories": self.memories, **_summary(extraction)}


def _summary(extraction: Extraction | None) -> dict[str, Any]:
    if extraction is None:
        return {"extraction": None}
    return {"extraction": {"status": extraction.status, "job_id": extraction.job_id}}


_RUNNING: ContextVar[_KeyedAdd | None] = ContextVar("remem_keyed_add", default=None)


class _AlreadyKept(Exception):
    """Another add under this key committed first: this one's transaction rolls back."""


class KeyedStore:
    """The store, passed through, noting a keyed add's inserts and keeping its answer."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def insert_episodes(self, episodes: Sequence[Episode]) -> None:
        keyed = _RUNNING.get()
        if keyed is not None and keyed.kept is None:
            keyed.episodes += [e.id for e in episodes]
        self._store.insert_episodes(episodes)

    def insert_memories(self, rows: Sequence[tuple[MemoryRecord, np.ndarray | None]]) -> None:
        keyed = _RUNNING.get()
        if keyed is not None and keyed.kept is None:
            keyed.memories += [m.id for m, _ in rows]
        self._store.insert_memories(rows)

    def save_job(self, job: ExtractionJob) -> None:
        keyed = _RUNNING.get()
        if keyed is not None and keyed.kept is None:
            keyed.job = job.id
        self._store.save_job(job)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        keyed = _RUNNING.get()
        if keyed is None or keyed.kept is not None:
            with self._store.transaction():
                yield
            return
        with self._store.transaction():
            keyed.depth += 1
            try:
                yield
            finally:
                keyed.depth -= 1
            if keyed.depth == 0 and keyed.episodes:
                # Until the add returns, its job (if any) is all there is to say: queued.
                queued = Extraction(status="queued", job_id=keyed.job) if keyed.job else None
                answer = keyed.answer(queued)
                if not self._store.keep_answer(
                    keyed.tenant, keyed.key, keyed.fingerprint, answer, keyed.at
                ):
                    raise _AlreadyKept(keyed.key)
                keyed.kept = answer


class Idempotency:
    """Keyed adds over one store: run once, answered again from what was kept."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._dropped_at = datetime.min.replace(tzinfo=utcnow().tzinfo)

    def add(
        self, tenant: str, key: str, request: str, run: Callable[[], AddResult]
    ) -> tuple[AddResult, bool]:
        """``run()`` (an add through a ``KeyedStore``) once for ``(tenant, key)``; its answer,
        and whether it is a replay. ``request`` is the body's ``fingerprint``."""
        kept = self.store.kept_answer(tenant, key)
        if kept is not None:
            return self._replay(tenant, key, request, kept), True
        keyed = _KeyedAdd(tenant, key, request, utcnow())
        running = _RUNNING.set(keyed)
        try:
            result = run()
        except _AlreadyKept:
            kept = self.store.kept_answer(tenant, key)
            assert kept is not None, "an answer kept by a committed add is readable"
            return self._replay(tenant, key, request, kept), True
        finally:
            _RUNNING.reset(running)
        settled = keyed.answer(result.extraction)
        if keyed.kept is not None and settled != keyed.kept:  # e.g. extracted inline since
            with self.store.transaction():
                self.store.replace_answer(tenant, key, settled)
        self._drop_old()
        return result, False

    def _replay(self, tenant: str, key: str, request: str, kept: KeptAnswer) -> AddResult:
        if kept.fingerprint != request:
            raise InvalidInput(
                f"{HEADER} {key!r} was used for another request: use a new key for a new add"
            )
        answer = kept.answer
        episodes = self.store.get_episodes(answer["episodes"], tenant)
        # Version 1: the record as the add wrote it, whatever updates came later.
        memories = [self.store.get_memory(m, tenant, version=1) for m in answer["memories"]]
        if len(episodes) < len(answer["episodes"]) or None in memories:
            raise Conflict(
                f"the add under {HEADER} {key!r} was stored, and part of it was erased since"
            )
        extraction = answer["extraction"]
        return AddResult(
            episodes=tuple(episodes),
            memories=tuple(m for m in memories if m is not None),
            extraction=None if extraction is None else Extraction(**extraction),
        )

    def _drop_old(self) -> None:
        now = utcnow()
        if now - self._dropped_at >= DROP_EVERY:
            self._dropped_at = now
            self.store.drop_answers(now - RETENTION)
