"""The ``llm`` recipe: one LLM call per search rewrites the query and reranks the candidates.

1. The recipe's plain ranking runs (hybrid search, no LLM) and its best
   ``recipe.llm_rerank`` candidates are numbered, dated and cut to ``MEMORY_WORDS`` words.
2. One completion sees the question and those candidates, and answers one JSON object:
   ``keywords`` a relevant memory would contain, simpler sub-``questions``, and the
   ``ranking`` of the candidates that help answer, most useful first.
3. The rewrite (keywords and sub-questions) is searched like the question (no LLM), and
   its ranking is fused with the plain one by weighted reciprocal rank.
4. The candidates the LLM ranked come first, in its order; the others follow in the fused
   order. Each reranked hit carries an ``llm`` signal (its rank there) and boost.

The plain ranking is the answer, unchanged, when the LLM fails (an error, a timeout) or
answers something that is not that object: a search never fails for its LLM. Nothing
to rank (an empty or abstaining plain search) costs no call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError

from remem.config import DEFAULT_GUARD_POLICY, GuardPolicy
from remem.errors import ProviderError
from remem.model import SearchHit, SearchResults, Signal
from remem.providers.embedder import Embedder
from remem.recipes import SearchRecipe
from remem.retention import DEFAULT_POLICY, LifecyclePolicy
from remem.retrieval.fusion import reciprocal_rank_fusion
from remem.retrieval.search import hybrid_search
from remem.stores.base import MemoryFilter, Store

if TYPE_CHECKING:
    from remem.providers.llm import LLM, Usage

log = logging.getLogger("remem.retrieval")

#: Words of each candidate the LLM reads (a turn is rarely longer; long ones are cut).
MEMORY_WORDS = 60
#: What the answer may hold: enough for a rewrite, short enough to stay cheap.
MAX_KEYWORDS, MAX_QUESTIONS = 8, 3
ANSWER_TOKENS = 200
#: Fusion of the plain ranking with the rewrite's, behind the LLM's own order.
PLAIN_WEIGHT, REWRITE_WEIGHT = 1.0, 0.5

INSTRUCTIONS = f"""You help a memory search answer a question. You see the question and \
numbered memories a search found for it. Reply with one JSON object and nothing else:
{{"keywords": [...], "questions": [...], "ranking": [...]}}
- keywords: up to {MAX_KEYWORDS} words or names that a memory answering the question would \
contain but the question does not (synonyms, names, places, dates);
- questions: up to {MAX_QUESTIONS} simpler questions whose answers the question needs \
(none if it is simple);
- ranking: the numbers of the memories that help answer the question, most useful first; \
leave out those that do not help."""


class Rerank(BaseModel):
    """The LLM's answer."""

    keywords: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    ranking: list[int]


@dataclass(frozen=True)
class Reranked:
    """A search's results and what its LLM call cost (None: no call was made)."""

    results: SearchResults
    usage: Usage | None = None


def prompt(
    query: str, hits: Sequence[SearchHit], asked_at: datetime | None
) -> list[dict[str, str]]:
    """The chat messages of the one call: instructions, then the question and candidates."""
    lines = [f"Question: {query}"]
    if asked_at is not None:
        lines.append(f"Asked on: {asked_at.date().isoformat()}")
    lines += ["", "Memories:"]
    for number, hit in enumerate(hits, start=1):
        words = hit.memory.text.split()
        text = " ".join(words[:MEMORY_WORDS]) + (" …" if len(words) > MEMORY_WORDS else "")
        when = hit.memory.valid_from
        lines.append(f"[{number}]" + (f" ({when.date().isoformat()})" if when else "") + f" {text}")
    return [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": "\n".join(lines)},
    ]


def read_answer(text: str, shown: int) -> Rerank:
    """The answer as a ``Rerank`` with valid, distinct candidate numbers; ValueError if unusable."""
    from remem.providers.llm import parse_json_object

    try:
        answer = Rerank.model_validate(parse_json_object(text))
    except ValidationError as exc:
        raise ValueError(
            f"the answer does not match Rerank: {exc.error_count()} problem(s)"
        ) from exc
    ranking = [n for n in dict.fromkeys(answer.ranking) if 1 <= n <= shown]
    return answer.model_copy(
        update={
            "keywords": [k for k in answer.keywords if k.strip()][:MAX_KEYWORDS],
            "questions": [q for q in answer.questions if q.strip()][:MAX_QUESTIONS],
            "ranking": ranking,
        }
    )


def llm_search(
    store: Store,
    embedder: Embedder,
    llm: LLM,
    query: str,
    flt: MemoryFilter,
    *,
    limit: int,
    recipe: SearchRecipe,
    context_window: int = 0,
    asked_at: datetime | None = None,
    policy: LifecyclePolicy = DEFAULT_POLICY,
    guard: GuardPolicy = DEFAULT_GUARD_POLICY,
    guard_llm: Any = None,
) -> Reranked:
    """``hybrid_search`` with the recipe's LLM step (module docs): at most one LLM call.

    ``guard`` flags the hits of both searches, as it does any search's; ``guard_llm`` (the
    guard's own optional LLM check, one call more) judges the plain ranking's only.
    """
    base = replace(recipe, llm_rerank=0)
    shown = recipe.llm_rerank

    def search(text: str, many: int, checker: Any = None) -> SearchResults:
        return hybrid_search(
            store,
            embedder,
            text,
            flt,
            limit=many,
            recipe=base,
            context_window=context_window,
            asked_at=asked_at,
            policy=policy,
            guard=guard,
            llm=checker,
        )

    plain = search(query, max(limit, shown), guard_llm)
    if plain.abstained or not plain.hits:
        return Reranked(_cut(plain, limit))
    candidates = plain.hits[:shown]
    try:
        completion = llm.complete(
            prompt(query, candidates, asked_at), max_tokens=ANSWER_TOKENS, temperature=0.0
        )
    except ProviderError as exc:
        log.warning("llm recipe: the LLM failed (%s); the plain ranking stands", exc)
        return Reranked(_cut(plain, limit), getattr(exc, "usage", None))
    try:
        answer = read_answer(completion.text, len(candidates))
    except ValueError as exc:
        log.warning("llm recipe: unusable answer (%s); the plain ranking stands", exc)
        return Reranked(_cut(plain, limit), completion.usage)
    rewrite = " ".join([*answer.keywords, *answer.questions])
    again = search(rewrite, max(limit, shown)) if rewrite else None
    return Reranked(_merged(plain, again, answer, candidates, limit), completion.usage)


def _cut(results: SearchResults, limit: int) -> SearchResults:
    return results.model_copy(update={"hits": results.hits[:limit]})


def _merged(
    plain: SearchResults,
    again: SearchResults | None,
    answer: Rerank,
    candidates: Sequence[SearchHit],
    limit: int,
) -> SearchResults:
    """The LLM's ranked candidates first, then the plain and rewritten rankings fused."""
    rankings = {"plain": [(h.memory, h.score) for h in plain.hits]}
    weights = {"plain": PLAIN_WEIGHT}
    if again is not None and not again.abstained:
        rankings["rewrite"] = [(h.memory, h.score) for h in again.hits]
        weights["rewrite"] = REWRITE_WEIGHT
    fused = reciprocal_rank_fusion(rankings, weights)
    hits = {h.memory.id: h for h in (*(again.hits if again else ()), *plain.hits)}
    chosen = {candidates[n - 1].memory.id: rank for rank, n in enumerate(answer.ranking, 1)}
    merged = []
    for f in fused:
        hit = hits[f.memory.id]
        rank = chosen.get(f.memory.id)
        boost = float(len(candidates) + 1 - rank) if rank else 0.0
        signals = {**hit.signals, **{k: v for k, v in f.signals.items() if k == "rewrite"}}
        boosts = dict(hit.boosts)
        if rank:
            signals["llm"] = Signal(rank=rank, score=boost)
            boosts["llm"] = boost
        merged.append(
            hit.model_copy(update={"score": f.score + boost, "signals": signals, "boosts": boosts})
        )
    merged.sort(key=lambda h: -h.score)
    return plain.model_copy(update={"hits": tuple(merged[:limit])})
