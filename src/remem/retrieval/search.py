"""Hybrid search: BM25 and dense candidates, fused, each hit explained and grounded in its turn.

Beyond the two base signals, fused by weighted reciprocal rank:

- time: when the query names a time ("last March"), both retrievers run again
  inside that event-time window and join as their own signals, so on-time
  memories rise without off-time ones being cut;
- directives: standing instructions and preferences ("always include version
  numbers") closest to the query join as a signal, since they apply to every
  later request on their topic; only the owner's own trusted turns are lifted
  (``_owners_orders``);
- user turns get a proportional boost: they hold what is worth remembering,
  while assistant turns mostly elaborate on them;
- ``recent`` (a named recipe) adds recency, for "what is the current state" use;
- graph: memories about the entities the query names and their 1-2 hop relations
  (retrieval/graph.py) join as their own signal;
- the guard (retrieval/guarded.py): a hit contradicting better-believed memories is
  flagged and ranked down; every hit carries its flags.

Abstention: when even the closest memory is far from the query (cosine under
the recipe's floor), the result is empty with a reason instead of noise. The
floor is set low (0.2): on the dev benchmarks, unanswerable questions are on
topic and need an LLM to be refused; this catches the off-topic ones only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from remem.config import DEFAULT_GUARD_POLICY, GuardPolicy
from remem.guard import STRICT, may_give_orders, scan
from remem.model import MemoryRecord, SearchHit, SearchResults
from remem.providers.embedder import Embedder
from remem.recipes import SearchRecipe
from remem.retention import DEFAULT_POLICY, LifecyclePolicy
from remem.retrieval.fusion import reciprocal_rank_fusion
from remem.retrieval.graph import graph_ranking
from remem.retrieval.guarded import guard_ranking
from remem.retrieval.priors import apply_priors
from remem.stores.base import MemoryFilter, Store
from remem.text import timeq
from remem.text.terms import query_terms

Ranking = list[tuple[MemoryRecord, float]]

#: Standing instructions are few; the closest handful is enough.
DIRECTIVES_POOL = 5


def _retrieve(
    store: Store,
    terms: list[str],
    vector: np.ndarray | None,
    flt: MemoryFilter,
    pool: int,
    recipe: SearchRecipe,
    suffix: str = "",
) -> dict[str, Ranking]:
    rankings: dict[str, Ranking] = {}
    if recipe.bm25 > 0:
        rankings["bm25" + suffix] = store.text_search(terms, flt, pool)
    if vector is not None:
        rankings["dense" + suffix] = store.vector_search(vector, flt, pool)
    return rankings


def _by_recency(rankings: Iterable[Ranking], asked_at: datetime | None) -> Ranking:
    """The retrieved candidates, newest event first (those after ``asked_at`` last)."""
    seen: dict[tuple[str, int], MemoryRecord] = {}
    for ranking in rankings:
        for memory, _ in ranking:
            seen.setdefault((memory.id, memory.version), memory)
    cutoff = asked_at.timestamp() if asked_at else float("inf")

    def age(m: MemoryRecord) -> float:
        when = m.valid_from.timestamp() if m.valid_from else float("-inf")
        return cutoff - when if when <= cutoff else float("inf")

    return [(m, -age(m)) for m in sorted(seen.values(), key=age)]


def _owners_orders(memory: MemoryRecord, guard: GuardPolicy) -> bool:
    """Whether a row tagged as a directive may be lifted as one: the owner's own trusted
    turn, with nothing in it trying to take the assistant over (rows tagged before the
    guard existed are checked again here)."""
    if not guard.enabled:
        return True
    if not may_give_orders(memory.origin, memory.trust):
        return False
    return not any(f.kind in STRICT for f in scan(memory.text))


def _narrow(flt: MemoryFilter, window: timeq.TimeWindow) -> MemoryFilter | None:
    start = max(filter(None, (flt.event_after, window.start)))
    end = min(filter(None, (flt.event_before, window.end)))
    return replace(flt, event_after=start, event_before=end) if start < end else None


def hybrid_search(
    store: Store,
    embedder: Embedder,
    query: str,
    flt: MemoryFilter,
    *,
    limit: int,
    recipe: SearchRecipe,
    context_window: int = 0,
    asked_at: datetime | None = None,
    policy: LifecyclePolicy = DEFAULT_POLICY,
    guard: GuardPolicy = DEFAULT_GUARD_POLICY,
    llm: Any = None,
) -> SearchResults:
    pool = max(recipe.candidates, limit)
    terms = query_terms(query)
    vector = embedder.embed_query(query) if recipe.dense > 0 else None
    rankings = _retrieve(store, terms, vector, flt, pool, recipe)
    weights = {"bm25": recipe.bm25, "dense": recipe.dense}
    window = timeq.resolve(query, asked_at) if recipe.time_aware else None
    span = (window.start, window.end) if window else None
    narrowed = _narrow(flt, window) if window else None
    on_time = _retrieve(store, terms, vector, narrowed, pool, recipe, "@time") if narrowed else {}
    rankings.update(on_time)
    weights.update({"bm25@time": recipe.time_weight * recipe.bm25})
    weights.update({"dense@time": recipe.time_weight * recipe.dense})
    dense = rankings.get("dense")
    floor = recipe.abstain_below
    # A query that names a time with memories in it is answered by them, however vague it is.
    if floor is not None and dense and dense[0][1] < floor and not any(on_time.values()):
        return SearchResults(
            query=query,
            hits=(),
            abstained=True,
            reason=f"nothing relevant is stored: the closest memory has similarity "
            f"{dense[0][1]:.2f}, under the {floor:.2f} floor",
            time_window=span,
        )
    if recipe.directives > 0 and vector is not None:
        standing = replace(flt, metadata={**flt.metadata, "directive": True})
        found = store.vector_search(vector, standing, DIRECTIVES_POOL)
        rankings["directive"] = [(m, score) for m, score in found if _owners_orders(m, guard)]
        weights["directive"] = recipe.directives
    # Knowledge graph (issue 4): entities named in the query and their 1-2 hop relations.
    if recipe.graph > 0:
        rankings["graph"] = graph_ranking(store, query, vector, flt, pool, turns=recipe.graph_turns)
        weights["graph"] = recipe.graph
    if recipe.recency > 0:
        rankings["recency"] = _by_recency(rankings.values(), asked_at)
        weights["recency"] = recipe.recency
    fused = reciprocal_rank_fusion(rankings, weights, k=recipe.rrf_k)
    if not fused:
        return SearchResults(
            query=query, hits=(), abstained=True, reason="no stored memory matches"
        )
    if recipe.user_boost:
        for f in fused:
            if f.memory.metadata.get("role") == "user":
                bonus = f.score * recipe.user_boost
                f.score += bonus
                f.boosts["user"] = bonus
        fused.sort(key=lambda f: -f.score)
    # Lifecycle priors (issue 7): a post-fusion re-weighting, kept in retrieval/priors.py.
    if recipe.priors is not None and asked_at is not None:
        fused = apply_priors(fused, recipe.priors, asked_at, policy)
    flags = guard_ranking(fused, limit, guard, llm)
    fused = fused[:limit]
    sources = [f.memory.provenance[0] for f in fused if f.memory.provenance]
    episodes = {e.id: e for e in store.get_episodes(sources, flt.scope.tenant)}
    hits = []
    for f in fused:
        episode = episodes.get(f.memory.provenance[0]) if f.memory.provenance else None
        context = (
            tuple(store.neighbours(episode, context_window)) if episode and context_window else ()
        )
        hits.append(
            SearchHit(
                memory=f.memory,
                score=f.score,
                signals=f.signals,
                boosts=f.boosts,
                episode=episode,
                context=context,
                flags=flags.get(f.memory.id, ()),
            )
        )
    return SearchResults(query=query, hits=tuple(hits), time_window=span)
