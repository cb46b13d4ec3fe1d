"""Hybrid search: BM25 and dense candidates, fused, each hit explained and grounded in its turn."""

from __future__ import annotations

from dataclasses import dataclass

from remem.model import SearchHit, SearchResults
from remem.providers.embedder import Embedder
from remem.retrieval.fusion import reciprocal_rank_fusion
from remem.retrieval.terms import query_terms
from remem.stores.base import MemoryFilter, Store


@dataclass(frozen=True)
class SearchRecipe:
    """A named retrieval configuration; ``hybrid`` is the default."""

    name: str
    bm25: float = 1.0
    dense: float = 1.0
    candidates: int = 50


RECIPES: dict[str, SearchRecipe] = {
    "hybrid": SearchRecipe("hybrid"),
    "bm25": SearchRecipe("bm25", bm25=1.0, dense=0.0),
    "dense": SearchRecipe("dense", bm25=0.0, dense=1.0),
}


def hybrid_search(
    store: Store,
    embedder: Embedder,
    query: str,
    flt: MemoryFilter,
    *,
    limit: int,
    recipe: SearchRecipe,
    context_window: int = 0,
) -> SearchResults:
    pool = max(recipe.candidates, limit * 3)
    rankings = {}
    if recipe.bm25 > 0:
        rankings["bm25"] = store.text_search(query_terms(query), flt, pool)
    if recipe.dense > 0:
        rankings["dense"] = store.vector_search(embedder.embed_query(query), flt, pool)
    fused = reciprocal_rank_fusion(rankings, {"bm25": recipe.bm25, "dense": recipe.dense})[:limit]
    if not fused:
        return SearchResults(
            query=query, hits=(), abstained=True, reason="no stored memory matches"
        )
    first_sources = [f.memory.provenance[0] for f in fused if f.memory.provenance]
    episodes = {e.id: e for e in store.get_episodes(first_sources, flt.scope.tenant)}
    hits = []
    for f in fused:
        episode = episodes.get(f.memory.provenance[0]) if f.memory.provenance else None
        context = (
            tuple(store.neighbours(episode, context_window)) if episode and context_window else ()
        )
        hits.append(
            SearchHit(
                memory=f.memory, score=f.score, signals=f.signals, episode=episode, context=context
            )
        )
    return SearchResults(query=query, hits=tuple(hits))
