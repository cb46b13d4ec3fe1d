"""Writes: add, update, delete, delete_all, forget and add_insight.

Every write runs in one store transaction and appends its Event in that same
transaction, so the history is exactly what happened, no more, no less.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple, Required, TypedDict

import numpy as np

from remem._checks import (
    check_id,
    check_importance,
    check_metadata,
    check_note,
    check_text,
)
from remem._ids import new_id
from remem._time import to_utc
from remem.engine.trust import Review, quarantine_events
from remem.errors import InvalidInput, NotFound, RememError, ScopeError
from remem.guard import quarantine_reasons, scan, written_by
from remem.model import (
    AddResult,
    Event,
    Extraction,
    MemoryRecord,
    Scope,
    lowest_trust,
)
from remem.pipeline import knowledge
from remem.pipeline.ingest import Messages, Turn, build_turns
from remem.stores import MemoryFilter

#: How many turns ``add_many`` embeds in one call: far past where longer batches stop paying.
EMBED_GROUP = 4096


class AddArguments(TypedDict, total=False):
    """One item of ``Memory.add_many``: the arguments of one ``add`` call."""

    messages: Required[Messages]
    user_id: str | None
    agent_id: str | None
    session_id: str | None
    timestamp: datetime | str | None
    metadata: Mapping[str, Any] | None
    kind: str
    importance: float
    source: str


class _Prepared(NamedTuple):
    """An add checked and built, waiting for its vectors."""

    scope: Scope
    now: datetime
    kind: str
    turns: list[Turn]


def _add_arguments(item: object) -> dict[str, Any]:
    """``item`` as keyword arguments of ``add``, or an error saying what is wrong with it."""
    if not isinstance(item, Mapping):
        raise InvalidInput(f"expected a mapping of add's arguments, got {type(item).__name__}")
    unknown = set(item) - set(AddArguments.__annotations__)
    if unknown:
        raise InvalidInput(
            f"unknown argument(s) {', '.join(sorted(map(str, unknown)))}; "
            f"add takes {', '.join(AddArguments.__annotations__)}"
        )
    if "messages" not in item:
        raise InvalidInput("messages is required")
    return dict(item)


def _groups(prepared: list[_Prepared]) -> list[list[_Prepared]]:
    """Adds in order, cut where a group's turns reach ``EMBED_GROUP``: the embedder gets long
    batches, and a huge ``add_many`` holds one group's tokens and vectors at a time."""
    groups: list[list[_Prepared]] = []
    size = EMBED_GROUP
    for one in prepared:
        if size >= EMBED_GROUP:
            groups.append([])
            size = 0
        groups[-1].append(one)
        size += len(one.turns)
    return groups


class Writes(Review):
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
        """Store a conversation (every turn kept, round-level) or one text; returns what was written.

        A turn the guard holds back (docs/trust.md) is stored in quarantine: its memory comes
        back with ``status="quarantined"`` and stays out of search, context and fact
        extraction until ``release``.
        """
        prepared = self._prepare(
            messages,
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            timestamp=timestamp,
            metadata=metadata,
            kind=kind,
            importance=importance,
            source=source,
        )
        self._bind()
        return self._write(prepared, self.embedder.embed([t.memory.text for t in prepared.turns]))

    def add_many(self, adds: Iterable[AddArguments]) -> list[AddResult]:
        """Several ``add`` calls, their texts embedded together (``EMBED_GROUP`` turns per
        embedder call); one result per add, in order.

        Each item holds ``add``'s arguments (``{"messages": ..., "user_id": ...}``). Every
        item is checked before anything is written, so bad input anywhere writes nothing and
        the error names the item. Then each add is written exactly as ``add`` writes it, in
        its own transaction: a failure while writing item ``i`` keeps items before it and
        writes none after, and says so. One embedder call for all the texts is what makes
        it faster than a loop of ``add``: the model gets longer batches of similar length.
        """
        if isinstance(adds, Mapping | str):
            raise InvalidInput("add_many takes a list of add arguments, one mapping per add")
        prepared = []
        for position, item in enumerate(adds):
            try:
                prepared.append(self._prepare(**_add_arguments(item)))
            except RememError as exc:
                raise type(exc)(f"add {position}: {exc}; nothing was written") from exc
        results: list[AddResult] = []
        for group in _groups(prepared):
            self._bind()
            texts = [t.memory.text for one in group for t in one.turns]
            vectors, start = self.embedder.embed(texts), 0
            for one in group:
                end = start + len(one.turns)
                try:
                    results.append(self._write(one, vectors[start:end]))
                except RememError as exc:
                    done = len(results)
                    kept = f"adds 0-{done - 1} were written" if done else "none was written"
                    raise type(exc)(f"add {done}: {exc}; {kept}, none after it") from exc
                start = end
        return results

    def _prepare(
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
    ) -> _Prepared:
        """An add's turns, checked and built, before anything is embedded or written."""
        scope = self._scope(user_id, agent_id, session_id)
        check_id(source, "source")
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
            writer=self.writer,
            guard=self.guard,
        )
        for position, turn in enumerate(turns):
            if turn.episode.speaker is not None:
                check_id(turn.episode.speaker, f"message {position} speaker")
        return _Prepared(scope, now, kind, turns)

    def _write(self, prepared: _Prepared, vectors: np.ndarray) -> AddResult:
        """One add's turns and their vectors, written in one transaction (then its extraction)."""
        scope, now, kind = prepared.scope, prepared.now, prepared.kind
        turns = self._held_near_lessons(prepared.turns, vectors)
        with self.store.transaction():
            first = self.store.next_seq(scope)
            turns = [
                t._replace(episode=t.episode.model_copy(update={"seq": first + i}))
                for i, t in enumerate(turns)
            ]
            self.store.insert_episodes([t.episode for t in turns])
            self.store.insert_memories([(t.memory, v) for t, v in zip(turns, vectors, strict=True)])
            self.store.append_events([Event.of("add", t.memory, None, now) for t in turns])
            self.store.append_events(quarantine_events(turns, now))
            pairs = [(t.episode, t.memory) for t in turns]
            linked = (
                knowledge.link_offline(self.store, self.extractor, pairs, now)
                if self.extractor
                else []
            )
            job = owner = None
            kept = tuple(t.episode.id for t in turns if not t.quarantine)
            if self.llm is not None and self.extract_facts and kind == "episode" and kept:
                job, owner = self._queue(scope, kept, now)
        episodes = tuple(t.episode for t in turns)
        if job is None:
            extraction = Extraction(status="offline", entities=tuple(linked))
        elif owner is None:
            extraction = Extraction(status="queued", entities=tuple(linked), job_id=job.id)
            if self._worker is not None:
                self._worker.wake()
        else:
            extracted = tuple(e for e in episodes if e.id in kept)
            extraction = self._extract(job, owner, extracted, None)
        return AddResult(
            episodes=episodes, memories=tuple(t.memory for t in turns), extraction=extraction
        )

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

        ``metadata`` is a patch: given keys are set, keys given as None are removed. A
        quarantined or poisoned memory stays so; new text the guard flags goes to quarantine.
        """
        scope = self._scope(user_id, agent_id)
        reason = check_note(reason, "reason")
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
                changes["metadata"] = check_metadata(
                    {k: v for k, v in merged.items() if v is not None}
                )
            held = self._update_held(old, changes.get("text"))
            new = old.model_copy(
                update={
                    **changes,
                    "trust": written_by(old.trust, self.writer),
                    "version": old.version + 1,
                    "recorded_at": now,
                    "expired_at": None,
                    "status": "quarantined" if held else _kept_status(old),
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
            if held:
                self.store.append_events([Event.of("quarantine", new, "; ".join(held), now)])
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
        scope = self._scope(user_id, agent_id)
        reason = check_note(reason, "reason")
        now = self.clock()
        with self.store.transaction():
            old = self._current(memory_id, scope)
            gone = self._end(old, now)
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
        scope = self._scope(user_id, agent_id, session_id)
        reason = check_note(reason, "reason")
        flt = MemoryFilter(scope=scope, statuses=("active", "archived"))
        now = self.clock()
        with self.store.transaction():
            current = self.store.list_memories(flt, limit=self.store.count_memories(flt), offset=0)
            events = [Event.of("delete", self._end(old, now), reason, now) for old in current]
            self.store.append_events(events)
            # One profile refresh per user/agent whose facts went, in the same transaction.
            changed = {(m.scope.user_id, m.scope.agent_id): m for m in current if m.kind == "fact"}
            for fact in changed.values():
                self._after_fact_change(fact)
        return len(current)

    def _update_held(self, old: MemoryRecord, text: str | None) -> tuple[str, ...]:
        """Why new ``text`` for ``old`` goes to quarantine (empty: it does not)."""
        if (
            text is None
            or old.status == "poisoned"
            or not (self.guard.enabled and self.guard.quarantine)
        ):
            return ()
        return quarantine_reasons(old.origin, written_by(old.trust, self.writer), scan(text))

    def _end(self, old: MemoryRecord, now: datetime) -> MemoryRecord:
        """End the current version as deleted; the record as it now reads."""
        self.store.end_version(old.id, old.version, "deleted", now, old.scope.tenant)
        return old.model_copy(update={"status": "deleted", "expired_at": now})

    def forget(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None
    ) -> int:
        """Hard delete: every version, its index entries, events and uncited source turns are erased.

        One content-free ``forget`` event remains, so the log still shows that something was erased.
        """
        scope = self._scope(user_id, agent_id)
        check_id(memory_id, "memory id")
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
        """Store an insight derived from other memories (Think-in-Memory); it cites them.

        Its trust is the lowest of theirs (and the writer's ceiling): an insight about
        untrusted memories is untrusted.
        """
        scope = self._scope(user_id, agent_id)
        text = check_text(text, "insight")
        if isinstance(sources, str):
            raise InvalidInput("sources must be a list of memory ids, not one string")
        ids = list(dict.fromkeys(check_id(s, "source memory id") for s in sources))
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
            origin="derived",
            trust=written_by(lowest_trust(m.trust for m in cited), self.writer),
        )
        with self.store.transaction():
            for m in cited:
                self._current(m.id, scope)  # still current inside the write
            self.store.insert_memories([(record, vector)])
            self.store.append_events([Event.of("add", record, "insight", now)])
        return record


def _kept_status(old: MemoryRecord) -> str:
    """A new version's status: a held memory stays held, anything else is active again."""
    return old.status if old.status in ("quarantined", "poisoned") else "active"
