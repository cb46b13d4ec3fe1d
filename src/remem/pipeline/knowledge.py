"""From stored turns to knowledge: entities linked offline, facts extracted and consolidated.

``link_offline`` runs inside the add's own transaction (cheap, no LLM). After the
turn is committed, ``extract`` makes the one extraction call and keeps its answer on
the job; ``build`` makes the local duplicate checks, at most one consolidation call,
then one write transaction that applies every decision with an Event carrying its
reason and clears the extraction job. An LLM failure raises before the facts are
written, so the job stays queued (with the answer, if extraction had succeeded: a
retry resumes at consolidation) and the turn stays stored. Every write checks that
the caller still holds its claim on the job, so no job is ever applied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from remem._ids import new_id
from remem.errors import Conflict
from remem.model import (
    Entity,
    Episode,
    Event,
    Extraction,
    ExtractionJob,
    FactDecision,
    LLMUsage,
    MemoryRecord,
    less_trusted,
    lowest_trust,
)
from remem.pipeline.consolidate import (
    Plan,
    fact_scope,
    llm_consolidate,
    neighbours,
    normalised,
    settle_without_llm,
)
from remem.pipeline.entities import EntityResolver, Mention
from remem.pipeline.extract import Fact, OfflineExtractor, llm_extract, read_answer
from remem.pipeline.prompts import ExtractionAnswer
from remem.providers.embedder import Embedder
from remem.stores.base import Store
from remem.text.names import alias_grams, mentioned, normalise

if TYPE_CHECKING:
    from remem.providers.llm import LLM, Usage

EventFactory = Callable[[str, MemoryRecord, str | None, datetime], Event]


def link_offline(
    store: Store,
    extractor: OfflineExtractor,
    turns: Sequence[tuple[Episode, MemoryRecord]],
    now: datetime,
) -> list[Entity]:
    """Entities named in each turn (new names and known aliases), linked to its memory."""
    if not turns:
        return []
    scope = turns[0][1].scope
    resolver = EntityResolver(store, scope, now)
    # Known names: one alias lookup for every turn (nothing is saved before the end).
    grams = [alias_grams(episode.content) for episode, _ in turns]
    wanted = list(dict.fromkeys(g for turn in grams for g in turn))
    known = store.entities_by_alias(scope.tenant, scope.user_id, wanted) if wanted else {}
    links: list[tuple[str, str]] = []
    for (episode, memory), turn in zip(turns, grams, strict=True):
        named = resolver.resolve(extractor.mentions(episode.content))
        links += [(memory.id, entity.id) for entity in named.values()]
        links += [(memory.id, eid) for eid in mentioned(known, turn)]
        links += [(memory.id, eid) for eid in resolver.named_in(turn)]
    store.save_entities(resolver.rows())
    store.link_entities(scope.tenant, list(dict.fromkeys(links)))
    return [entity for entity, _ in resolver.changed.values()]


def usage_of(spent: Usage, extracted: bool = True, consolidated: bool = False) -> LLMUsage:
    """An add's LLM cost: one extraction completion (none when resumed from a kept answer),
    and one consolidation when needed."""
    return LLMUsage(
        calls=spent.calls,
        extraction_calls=int(extracted),
        consolidation_calls=int(consolidated),
        prompt_tokens=spent.prompt_tokens,
        completion_tokens=spent.completion_tokens,
        retries=spent.retries,
    )


def add_usage(total: LLMUsage, spent: Usage) -> LLMUsage:
    """A running total of LLM use (calls, tokens, retries)."""
    return total.model_copy(
        update={
            "calls": total.calls + spent.calls,
            "prompt_tokens": total.prompt_tokens + spent.prompt_tokens,
            "completion_tokens": total.completion_tokens + spent.completion_tokens,
            "retries": total.retries + spent.retries,
        }
    )


def _dedupe(facts: Sequence[Fact]) -> list[Fact]:
    """The same statement twice in one add is one fact."""
    seen: dict[str, Fact] = {}
    for fact in facts:
        seen.setdefault(normalised(fact.text), fact)
    return list(seen.values())


def _lost(job: ExtractionJob) -> Conflict:
    return Conflict(
        f"extraction job {job.id} was taken over by another worker (its claim went stale); "
        "this run's result was dropped"
    )


def extract(
    *,
    store: Store,
    llm: LLM,
    job: ExtractionJob,
    episodes: Sequence[Episode],
    now: datetime,
    owner: str,
) -> tuple[ExtractionJob, Usage | None]:
    """The job with its extraction answer: the one kept from an earlier attempt (usage None),
    or a new one, stored on the job before anything else can fail."""
    if job.extracted is not None:
        return job, None
    answer, spent = llm_extract(llm, episodes, now)
    done = job.model_copy(update={"extracted": answer.model_dump(mode="json"), "updated_at": now})
    with store.transaction():
        if not store.update_job(done, owner):
            raise _lost(job)
    return done, spent


def build(
    *,
    store: Store,
    embedder: Embedder,
    llm: LLM,
    job: ExtractionJob,
    episodes: Sequence[Episode],
    now: datetime,
    event: EventFactory,
    owner: str,
    spent: Usage | None,
) -> Extraction:
    """Consolidate the job's kept answer and write; raises ``ProviderError`` before writing.

    ``spent`` is what the extraction call of this run cost (None: resumed, no call).
    """
    assert job.extracted is not None
    facts, mentions = read_answer(ExtractionAnswer.model_validate(job.extracted), episodes)
    facts = _dedupe(facts)
    scope = job.scope
    vectors = embedder.embed([f.text for f in facts]) if facts else np.zeros((0, 1))
    plans = []
    for fact, vector in zip(facts, vectors, strict=True):
        names = [normalise(n) for n in fact.entities]
        known = store.entities_by_alias(scope.tenant, scope.user_id, names) if names else {}
        entity_ids = [i for ids in known.values() for i in ids]
        plan = Plan(fact=fact, vector=vector)
        plan.neighbours = neighbours(store, fact, vector, scope, entity_ids)
        plans.append(plan)
    open_plans = [p for p in plans if not settle_without_llm(p)]
    consolidation = llm_consolidate(llm, open_plans)
    total = consolidation if spent is None else spent + consolidation
    usage = usage_of(total, spent is not None, bool(open_plans))
    # Vectors the write needs, in one batch: merged texts and the closing versions' texts.
    extra_texts = [
        p.text for p in plans if p.action == "UPDATE" and p.text and p.text != p.fact.text
    ]
    extra_texts += [p.target.text for p in plans if p.action == "INVALIDATE" and p.target]
    extra = dict(zip(extra_texts, embedder.embed(extra_texts), strict=True)) if extra_texts else {}
    decisions, entities = _write(
        store, embedder, llm, job, owner, plans, mentions, extra, now, event
    )
    return Extraction(
        status="done", decisions=decisions, entities=entities, usage=usage, job_id=job.id
    )


def _write(
    store: Store,
    embedder: Embedder,
    llm: LLM,
    job: ExtractionJob,
    owner: str,
    plans: Sequence[Plan],
    mentions: Sequence[Mention],
    extra: dict[str, np.ndarray],
    now: datetime,
    event: EventFactory,
) -> tuple[tuple[FactDecision, ...], tuple[Entity, ...]]:
    tenant = job.scope.tenant
    scope = fact_scope(job.scope)
    decisions: list[FactDecision] = []
    events: list[Event] = []
    links: list[tuple[str, str]] = []
    with store.transaction():
        resolver = EntityResolver(store, job.scope, now, embedder)
        # Facts name entities as they like ("Ana", "ana"): match on the normalised name.
        by_name = {normalise(n): e for n, e in resolver.resolve(mentions).items()}
        store.save_entities(resolver.rows())

        def entity_ids(fact: Fact) -> list[str]:
            found = (by_name.get(normalise(n)) for n in fact.entities)
            return list(dict.fromkeys(e.id for e in found if e is not None))

        def add(
            plan: Plan, reason: str, metadata: dict[str, Any] | None = None, record_id: str = ""
        ) -> MemoryRecord:
            fact = plan.fact
            record = MemoryRecord(
                id=record_id or new_id("mem"),
                scope=scope,
                kind="fact",
                # Facts outlive the session they were said in: they start short-term and
                # earn the long-term layer by recall and importance (pipeline/lifecycle.py).
                layer="short",
                text=fact.text,
                provenance=(fact.episode.id,),
                valid_from=fact.valid_from,
                valid_to=fact.valid_to,
                recorded_at=now,
                origin="derived",
                trust=fact.episode.trust,
                metadata={
                    **({"relation": fact.relation} if fact.relation else {}),
                    **({"entities": list(fact.entities)} if fact.entities else {}),
                    **({"time_phrase": fact.time_phrase} if fact.time_phrase else {}),
                    "extracted_by": llm.model_id,
                    **(metadata or {}),
                },
            )
            store.insert_memories([(record, plan.vector)])
            events.append(event("add", record, reason, now))
            links.extend((record.id, e) for e in entity_ids(fact))
            return record

        for plan in plans:
            target = plan.target and store.get_memory(plan.target.id, tenant)
            changes = target is not None and plan.action in ("UPDATE", "INVALIDATE")
            if target and changes and less_trusted(plan.fact.episode.trust, target.trust):
                # A less trusted turn may not rewrite or close a fact: it stands beside it.
                why = f"{plan.action} of {target.id} refused: its turn is less trusted than it"
                record = add(plan, f"ADD: {why}; {plan.reason}")
                decisions.append(
                    FactDecision(action="ADD", text=record.text, memory_id=record.id, reason=why)
                )
                continue
            if plan.action != "ADD" and (target is None or target.expired_at is not None):
                record = add(plan, f"ADD: {plan.action} target changed meanwhile; {plan.reason}")
                decisions.append(
                    FactDecision(
                        action="ADD", text=record.text, memory_id=record.id, reason=plan.reason
                    )
                )
                continue
            if plan.action == "ADD":
                record = add(plan, f"ADD: {plan.reason}")
                decisions.append(
                    FactDecision(
                        action="ADD", text=record.text, memory_id=record.id, reason=plan.reason
                    )
                )
            elif plan.action == "NOOP":
                assert target is not None
                events.append(
                    event(
                        "reinforce",
                        target,
                        f"NOOP: {plan.reason} (said again in turn {plan.fact.episode.id})",
                        now,
                    )
                )
                links.extend((target.id, e) for e in entity_ids(plan.fact))
                decisions.append(
                    FactDecision(
                        action="NOOP",
                        text=plan.fact.text,
                        memory_id=target.id,
                        reason=plan.reason,
                        target_id=target.id,
                    )
                )
            elif plan.action == "UPDATE":
                assert target is not None
                text = plan.text or plan.fact.text
                new = target.model_copy(
                    update={
                        "text": text,
                        "version": target.version + 1,
                        "provenance": tuple(
                            dict.fromkeys([*target.provenance, plan.fact.episode.id])
                        ),
                        "valid_to": plan.fact.valid_to or target.valid_to,
                        "recorded_at": now,
                        "expired_at": None,
                        "status": "active",
                        "trust": lowest_trust([target.trust, plan.fact.episode.trust]),
                    }
                )
                store.end_version(target.id, target.version, "superseded", now, tenant)
                store.insert_memories([(new, extra.get(text, plan.vector))])
                events.append(event("update", new, f"UPDATE: {plan.reason}", now))
                links.extend((target.id, e) for e in entity_ids(plan.fact))
                decisions.append(
                    FactDecision(
                        action="UPDATE",
                        text=text,
                        memory_id=target.id,
                        reason=plan.reason,
                        target_id=target.id,
                    )
                )
            else:  # INVALIDATE: the old fact is closed in event time, never deleted
                assert target is not None
                record_id = new_id("mem")
                start = target.valid_from
                ended = plan.ended_at or plan.fact.valid_from
                if start is not None and ended < start:
                    ended = start
                closed = target.model_copy(
                    update={
                        "version": target.version + 1,
                        "valid_to": ended,
                        "recorded_at": now,
                        "expired_at": None,
                        "status": "active",
                        "metadata": {**target.metadata, "invalidated_by": record_id},
                    }
                )
                store.end_version(target.id, target.version, "superseded", now, tenant)
                vector = extra.get(target.text)
                store.insert_memories([(closed, vector)])
                events.append(
                    event(
                        "invalidate",
                        closed,
                        f"INVALIDATE: no longer true from {ended.date().isoformat()}, "
                        f"superseded by {record_id} ({plan.fact.text!r}): {plan.reason}",
                        now,
                    )
                )
                record = add(
                    plan,
                    f"ADD, invalidating {target.id} ({target.text!r}): {plan.reason}",
                    {"invalidates": target.id},
                    record_id,
                )
                decisions.append(
                    FactDecision(
                        action="INVALIDATE",
                        text=record.text,
                        memory_id=record.id,
                        reason=plan.reason,
                        target_id=target.id,
                    )
                )
        store.link_entities(tenant, list(dict.fromkeys(links)))
        if not store.delete_job(tenant, job.id, owner):
            raise _lost(job)  # rolls the whole write back: the new owner applies the job
        store.append_events(events)
    return tuple(decisions), tuple(e for e, _ in resolver.changed.values())
