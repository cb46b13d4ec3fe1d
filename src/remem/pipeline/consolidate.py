"""Consolidation: each new fact against its nearest stored facts -> ADD / UPDATE / INVALIDATE / NOOP.

Neighbours come from three places (dense, BM25, facts about the same entities).
Duplicates are settled without the LLM: the same text, the same normalised text,
or a cosine so high that only wording differs (unless negation or numbers differ,
which is how contradictions hide in near-identical sentences). A fact with no
neighbour is an ADD. Everything else goes into ONE consolidation call for the
whole add, so an add never costs more than one extraction plus one consolidation.
The model's answer is checked: a target that is not one of the fact's neighbours,
or a missing decision, falls back to ADD with the reason saying so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from remem.model import MemoryRecord, Scope
from remem.pipeline.extract import Fact, parse_date
from remem.pipeline.prompts import ConsolidationAnswer, consolidation_messages
from remem.stores.base import MemoryFilter, Store
from remem.text.names import normalise
from remem.text.terms import query_terms

if TYPE_CHECKING:
    from remem.providers.llm import LLM, Usage

#: Cosine above which two facts say the same thing in other words.
SEMANTIC_DUPLICATE = 0.95
#: Stored facts shown to the model per new fact.
NEIGHBOURS = 6

_NEGATION = re.compile(r"\b(not|no|never|none|nobody|nothing|neither|nor|without)\b|n't\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def normalised(text: str) -> str:
    return normalise(text).removesuffix(".")


def same_meaning_guard(a: str, b: str) -> bool:
    """False when negation or numbers differ: near-identical wording, opposite content."""
    neg_a, neg_b = bool(_NEGATION.search(a.lower())), bool(_NEGATION.search(b.lower()))
    return neg_a == neg_b and set(_NUMBER.findall(a)) == set(_NUMBER.findall(b))


@dataclass
class Plan:
    """What to do with one new fact; ``target`` is the stored fact it acts on."""

    fact: Fact
    vector: np.ndarray
    action: str = "ADD"
    reason: str = ""
    target: MemoryRecord | None = None
    text: str | None = None  # UPDATE: the merged statement
    ended_at: datetime | None = None  # INVALIDATE: when the old fact stopped being true
    neighbours: list[tuple[MemoryRecord, float | None]] = field(default_factory=list)


def fact_scope(scope: Scope) -> Scope:
    """Facts are about the user across sessions: the session is dropped."""
    return Scope(tenant=scope.tenant, user_id=scope.user_id, agent_id=scope.agent_id)


def neighbours(
    store: Store, fact: Fact, vector: np.ndarray, scope: Scope, entity_ids: Sequence[str]
) -> list[tuple[MemoryRecord, float | None]]:
    """Stored current facts nearest to ``fact``: dense (with cosine), BM25, same entities."""
    flt = MemoryFilter(scope=fact_scope(scope), kinds=("fact",))
    found: dict[str, tuple[MemoryRecord, float | None]] = {}
    for record, score in store.vector_search(vector, flt, NEIGHBOURS):
        found.setdefault(record.id, (record, score))
    for record, _ in store.text_search(query_terms(fact.text), flt, NEIGHBOURS):
        found.setdefault(record.id, (record, None))
    if entity_ids and len(found) < 2 * NEIGHBOURS:
        links = store.entity_links(scope.tenant, entity_ids=entity_ids, kinds=("fact",), limit=200)
        linked = [m for m, _ in links]
        ids = tuple(dict.fromkeys(linked))[:200]
        if ids:
            for record in store.list_memories(replace(flt, ids=ids), limit=NEIGHBOURS, offset=0):
                found.setdefault(record.id, (record, None))
    return list(found.values())[: 2 * NEIGHBOURS]


def settle_without_llm(plan: Plan) -> bool:
    """Decide duplicates and lone facts locally; True when ``plan`` is decided."""
    text = plan.fact.text
    if not plan.neighbours:
        plan.action, plan.reason = "ADD", "new: no similar fact is stored"
        return True
    for record, _ in plan.neighbours:
        if record.text == text:
            plan.action, plan.target = "NOOP", record
            plan.reason = "exact duplicate of a stored fact"
            return True
        if normalised(record.text) == normalised(text):
            plan.action, plan.target = "NOOP", record
            plan.reason = "duplicate of a stored fact (same words once normalised)"
            return True
    for record, cosine in plan.neighbours:
        if (
            cosine is not None
            and cosine >= SEMANTIC_DUPLICATE
            and same_meaning_guard(record.text, text)
        ):
            plan.action, plan.target = "NOOP", record
            plan.reason = f"semantic duplicate of a stored fact (cosine {cosine:.2f})"
            return True
    return False


def _day(when: datetime | None) -> str | None:
    return when.date().isoformat() if when else None


def llm_consolidate(llm: LLM, plans: Sequence[Plan]) -> Usage:
    """One call decides every plan still open; invalid answers fall back to ADD, visibly."""
    if not plans:
        from remem.providers.llm import Usage

        return Usage()
    items = []
    labels: list[dict[str, MemoryRecord]] = []
    counter = 0
    for number, plan in enumerate(plans, start=1):
        shown: dict[str, MemoryRecord] = {}
        existing = []
        for record, _ in plan.neighbours[:NEIGHBOURS]:
            counter += 1
            label = f"E{counter}"
            shown[label] = record
            existing.append(
                {
                    "label": label,
                    "text": record.text,
                    "valid_from": _day(record.valid_from),
                    "valid_to": _day(record.valid_to),
                }
            )
        labels.append(shown)
        new = {
            "label": f"N{number}",
            "text": plan.fact.text,
            "valid_from": _day(plan.fact.valid_from),
        }
        items.append((new, existing))
    done = llm.complete(
        consolidation_messages(items),
        schema=ConsolidationAnswer,
        max_tokens=min(2048, 256 + 128 * len(items)),  # one short decision per new fact
    )
    answer: ConsolidationAnswer = done.data
    decided: set[int] = set()
    for decision in answer.decisions:
        index = decision.fact - 1
        if not 0 <= index < len(plans) or index in decided:
            continue
        decided.add(index)
        plan, shown = plans[index], labels[index]
        reason = decision.reason.strip() or "no reason given"
        if decision.action == "ADD":
            plan.action, plan.reason = "ADD", reason
            continue
        target = shown.get((decision.target or "").strip().upper())
        if target is None:
            plan.action = "ADD"
            plan.reason = (
                f"model chose {decision.action} on {decision.target!r}, which is not one of "
                f"this fact's neighbours; added instead ({reason})"
            )
            continue
        plan.action, plan.target, plan.reason = decision.action, target, reason
        if decision.action == "UPDATE":
            plan.text = (decision.text or "").strip() or plan.fact.text
        elif decision.action == "INVALIDATE":
            plan.ended_at = parse_date(decision.ended_at) or plan.fact.valid_from
    for index, plan in enumerate(plans):
        if index not in decided:
            plan.action, plan.reason = "ADD", "the model gave no decision for this fact; added"
    return done.usage
