"""Hybrid search: BM25 and dense candidates, ranked, each hit explained and grounded in its turn.

The signals, each a search of its own that returns candidates:

- BM25 and dense over the whole scope;
- time: when the query names a time ("last March"), both again inside that event-time
  window, so on-time memories rise without off-time ones being cut;
- directives: the standing instructions and preferences ("always include version
  numbers") closest to the query, since they apply to every later request on their topic;
  only the owner's own trusted turns are lifted (``_owners_orders``);
- graph: memories about the entities the query names and their 1-2 hop relations
  (retrieval/graph.py);
- ``recent`` (a named recipe): recency, for "what is the current state" use;
- the guard (retrieval/guarded.py): a hit contradicting better-believed memories is
  flagged and ranked down; every hit carries its flags.

The default recipe orders the candidates with a learned ranker (retrieval/ranker.py): a
linear model over each candidate's signals and its place in the conversation (the turns
around it, its session), fitted on the dev benchmarks (docs/recall.md). Graph and
recency, when a recipe asks for them, are then fused with the ranker's order by
reciprocal rank. A recipe without a ranker fuses every signal by weighted reciprocal
rank and boosts user turns, which hold what is worth remembering.

Abstention: when even the closest memory is far from the query (cosine under
the recipe's floor), the result is empty with a reason instead of noise. The
floor is set low (0.2): on the dev benchmarks, unanswerable questions are on
topic and need an LLM to be refused; this catches the off-topic ones only.
A question about what was said before ("what profession did I mention?") never
abstains: it is addressed to the conversation, whose answer may share neither words
nor much meaning with it (two of the dev questions scored 0.16 and 0.20).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from remem.config import DEFAULT_GUARD_POLICY, GuardPolicy
from remem.guard import STRICT, may_give_orders, scan
from remem.model import Episode, MemoryRecord, Scope, SearchHit, SearchResults
from remem.providers.embedder import Embedder
from remem.recipes import SearchRecipe
from remem.retention import DEFAULT_POLICY, LifecyclePolicy
from remem.retrieval.fusion import Fused, reciprocal_rank_fusion
from remem.retrieval.graph import graph_ranking
from remem.retrieval.guarded import POOL, guard_ranking
from remem.retrieval.priors import apply_priors
from remem.retrieval.ranker import asks_what_was_said, rerank, to_place
from remem.retrieval.ranker import load as load_ranker
from remem.stores.base import MemoryFilter, Store
from remem.text import timeq
from remem.text.terms import query_terms

Ranking = list[tuple[MemoryRecord, float]]

#: Standing instructions are few; the closest handful is enough.
DIRECTIVES_POOL = 5
#: What a derived hit's cited sources may be, to be read for the guard (held back included).
CITED_STATUSES = ("active", "archived", "quarantined", "poisoned")


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


def _rrf(
    rankings: dict[str, Ranking],
    weights: dict[str, float],
    recipe: SearchRecipe,
    asked_at: datetime | None,
) -> list[Fused]:
    """Weighted reciprocal rank fusion of every signal, user turns boosted (recipes without a ranker)."""
    if recipe.recency > 0:
        rankings["recency"] = _by_recency(rankings.values(), asked_at)
        weights["recency"] = recipe.recency
    fused = reciprocal_rank_fusion(rankings, weights, k=recipe.rrf_k)
    if recipe.user_boost:
        for f in fused:
            if f.memory.metadata.get("role") == "user":
                bonus = f.score * recipe.user_boost
                f.score += bonus
                f.boosts["user"] = bonus
        fused.sort(key=lambda f: -f.score)
    return fused


def _with_extras(
    ranked: list[Fused], extras: dict[str, Ranking], weights: dict[str, float], k: int
) -> list[Fused]:
    """The ranker's order fused (by reciprocal rank) with the graph and recency signals.

    A hit keeps the signals and boosts the ranker saw; only the order and score change.
    """
    if not any(extras.values()):
        return ranked
    rankings = {"ranker": [(f.memory, f.score) for f in ranked], **extras}
    fused = reciprocal_rank_fusion(rankings, {**weights, "ranker": 1.0}, k=k)
    before = {(f.memory.id, f.memory.version): f for f in ranked}
    for f in fused:
        f.signals.pop("ranker", None)
        seen = before.get((f.memory.id, f.memory.version))
        if seen is not None:
            f.signals = {**seen.signals, **f.signals}
            f.boosts = dict(seen.boosts)
    return fused


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
    # A query that names a time with memories in it is answered by them, however vague it is;
    # one that asks what was said ("what did I mention …") is about the conversation itself.
    if (
        floor is not None
        and dense
        and dense[0][1] < floor
        and not any(on_time.values())
        and not asks_what_was_said(query)
    ):
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
    extras: dict[str, Ranking] = {}
    # Knowledge graph (issue 4): entities named in the query and their 1-2 hop relations.
    if recipe.graph > 0:
        extras["graph"] = graph_ranking(store, query, vector, flt, pool, turns=recipe.graph_turns)
        weights["graph"] = recipe.graph
    episodes: dict[str, Episode] = {}
    if recipe.ranker is None:
        fused = _rrf({**rankings, **extras}, weights, recipe, asked_at)
    else:
        fused = reciprocal_rank_fusion(rankings, weights, k=recipe.rrf_k)
        episodes = {e.id: e for e in store.get_episodes(to_place(fused), flt.scope.tenant)}
        scores = [score for _, score in dense or ()]
        fused = rerank(fused, scores, episodes, terms, window, load_ranker(recipe.ranker), query)
        if recipe.recency > 0:
            extras["recency"] = _by_recency([[(f.memory, f.score) for f in fused]], asked_at)
            weights["recency"] = recipe.recency
        fused = _with_extras(fused, extras, weights, recipe.rrf_k)
    if not fused:
        return SearchResults(
            query=query, hits=(), abstained=True, reason="no stored memory matches"
        )
    # Lifecycle priors (issue 7): a post-fusion re-weighting, kept in retrieval/priors.py.
    if recipe.priors is not None and asked_at is not None:
        fused = apply_priors(fused, recipe.priors, asked_at, policy)
    flags = guard_ranking(
        fused,
        limit,
        guard,
        llm,
        related=lambda t: store.text_search(t, flt, POOL),
        fetch=lambda ids: _cited(store, flt.scope.tenant, ids),
    )
    fused = fused[:limit]
    sources = [p for f in fused for p in f.memory.provenance[:1] if p not in episodes]
    episodes.update((e.id, e) for e in store.get_episodes(sources, flt.scope.tenant))
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


def _cited(store: Store, tenant: str, ids: Sequence[str]) -> list[MemoryRecord]:
    """The current rows of the memories ``ids`` names, in one read (not one per id)."""
    wanted = MemoryFilter(scope=Scope(tenant=tenant), ids=tuple(ids), statuses=CITED_STATUSES)
    return store.list_memories(wanted, limit=len(ids), offset=0)
