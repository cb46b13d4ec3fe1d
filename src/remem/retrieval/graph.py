"""The graph signal: memories about the entities a query names, and one hop beyond.

Entities are found by their aliases in the query's words (``known_mentions``).
Hop 1 is every memory linked to them; hop 2 follows the facts among the best
hop-1 memories to the other entities they relate ("Ana lives in Lisbon" leads from
Ana to Lisbon) and takes the memories about those. Each hop is ranked by dense
similarity to the query inside its own set, hop 1 before hop 2, so a memory the
retrievers missed but the graph reaches joins the fused ranking.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from remem.model import MemoryRecord
from remem.stores.base import MemoryFilter, Store
from remem.text.names import known_mentions

#: Links read per hop: the most recent ones, so a hub entity costs a bounded amount.
LINKS_PER_HOP = 500
#: Hop-1 facts whose other entities are followed.
HOP2_FROM = 10

Ranking = list[tuple[MemoryRecord, float]]


def _ranked(
    store: Store, ids: list[str], vector: np.ndarray | None, flt: MemoryFilter, k: int
) -> Ranking:
    if not ids:
        return []
    within = replace(flt, ids=tuple(ids))
    if vector is not None:
        return store.vector_search(vector, within, k)
    return [(m, 0.0) for m in store.list_memories(within, limit=k, offset=0)]


def graph_ranking(
    store: Store,
    query: str,
    vector: np.ndarray | None,
    flt: MemoryFilter,
    k: int,
    *,
    turns: bool = False,
) -> Ranking:
    """Hop 1 (facts only, unless ``turns``) then hop 2 (any kind), each ranked by dense.

    Turns that name the query's entity are what BM25 already finds by that name; on the
    dev benchmarks ranking them again cost a little precision at k=1 (docs/graph.md), so
    the default recipe follows only facts at hop 1 and the ``graph`` recipe takes turns.
    """
    tenant = flt.scope.tenant
    named = known_mentions(store, flt.scope, query)
    if not named:
        return []
    hop1_ids = list(
        dict.fromkeys(
            m
            for m, _ in store.entity_links(
                tenant, entity_ids=named, kinds=None if turns else ("fact",), limit=LINKS_PER_HOP
            )
        )
    )
    first = _ranked(store, hop1_ids, vector, flt if turns else replace(flt, kinds=("fact",)), k)
    if len(first) >= k:
        return first
    facts = [m.id for m, _ in first if m.kind == "fact"][:HOP2_FROM]
    related = {
        e for _, e in store.entity_links(tenant, memory_ids=facts, limit=LINKS_PER_HOP)
    } - set(named)
    if not related:
        return first
    seen = {m.id for m, _ in first}
    hop2_ids = [
        m
        for m, _ in store.entity_links(tenant, entity_ids=sorted(related), limit=LINKS_PER_HOP)
        if m not in seen
    ]
    second = _ranked(store, list(dict.fromkeys(hop2_ids)), vector, flt, k - len(first))
    return first + second
