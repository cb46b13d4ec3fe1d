"""Named retrieval configurations: which signals a search fuses, and with what weights.

Public configuration, so it lives beside the facade: ``Memory.search(recipe="recent")``
picks one by name, and a ``SearchRecipe`` of one's own can be passed instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Priors:
    """Weights of each prior; all zero leaves the ranking untouched."""

    retention: float = 0.0
    frequency: float = 0.0
    long_term: float = 0.0


@dataclass(frozen=True)
class SearchRecipe:
    """A named retrieval configuration; ``hybrid`` is the default."""

    name: str
    bm25: float = 1.0
    dense: float = 1.0
    time_aware: bool = True
    time_weight: float = 1.0
    candidates: int = 50
    rrf_k: int = 60
    recency: float = 0.0
    directives: float = 0.0
    user_boost: float = 0.0
    abstain_below: float | None = None
    graph: float = 0.0  # knowledge-graph signal (issue 4, retrieval/graph.py)
    graph_turns: bool = False  # the graph's first hop also takes turns, not only facts
    priors: Priors | None = None  # lifecycle priors (remem.retrieval.priors)
    # A learned ranker shipped with remem (remem/retrieval/rankers/<name>.json) orders the candidates
    # instead of reciprocal rank fusion; graph and recency are then fused with its order.
    ranker: str | None = None
    llm_rerank: int = 0  # >0: one LLM call rewrites the query, reranks this many (llm_rerank.py)


# The default: the candidates of every signal (50 from each search) ordered by the learned
# ranker, which weighs the signals, user turns, neighbours and sessions (docs/recall.md).
_HYBRID = SearchRecipe(
    "hybrid", bm25=0.5, directives=0.3, abstain_below=0.2, graph=0.3, ranker="default"
)

RECIPES: dict[str, SearchRecipe] = {
    "hybrid": _HYBRID,
    "recent": replace(_HYBRID, name="recent", recency=0.6),
    # Knowledge graph (issue 4): every memory naming the query's entities, turns included.
    "graph": replace(_HYBRID, name="graph", graph=0.6, graph_turns=True),
    # Lifecycle priors (issue 7): hybrid re-weighted by retention, recall count and layer; the
    # retention weight is a tie-breaker (0.02: higher weights lost recall on BEAM, whose
    # questions reach back through the whole conversation; docs/benchmarks.md).
    "lifecycle": replace(
        _HYBRID, name="lifecycle", priors=Priors(retention=0.02, frequency=0.1, long_term=0.05)
    ),
    # With an LLM: one call per search rewrites the query and reranks the top 20 (opt-in).
    "llm": replace(_HYBRID, name="llm", llm_rerank=20),
    "bm25": SearchRecipe("bm25", dense=0.0, time_aware=False),
    "dense": SearchRecipe("dense", bm25=0.0, time_aware=False),
}
