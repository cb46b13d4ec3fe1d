"""Structure-aware re-scoring of fused candidates, using where each one sits in its conversation.

- role: what the user said is what memory is for; assistant turns mostly echo or elaborate.
- neighbours: a turn next to a strong hit shares its topic (a question and its answer).
- session: a session with several hits is about the query, so all its hits gain a little.

Each adjustment is recorded on the candidate, so ``SearchHit.explain`` can show it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from remem.model import Episode
from remem.retrieval.fusion import Fused


@dataclass(frozen=True)
class Priors:
    user_boost: float = 0.0
    neighbour: float = 0.0
    session: float = 0.0
    session_top: int = 3


def _stream(e: Episode) -> tuple[str, str | None, str | None, str | None]:
    s = e.scope
    return (s.tenant, s.user_id, s.agent_id, s.session_id)


def apply(candidates: Sequence[Fused], episodes: Mapping[str, Episode], priors: Priors) -> None:
    """Adjust ``score`` in place (from the fused scores as they stood on entry)."""
    base = {id(c): c.score for c in candidates}
    where: dict[int, Episode] = {}
    for c in candidates:
        if c.memory.provenance and c.memory.provenance[0] in episodes:
            where[id(c)] = episodes[c.memory.provenance[0]]

    if priors.user_boost:
        for c in candidates:
            if c.memory.metadata.get("role") == "user":
                _boost(c, "user", base[id(c)] * priors.user_boost)

    if priors.neighbour:
        at = {(_stream(e), e.seq): base[key] for key, e in where.items()}
        for c in candidates:
            e = where.get(id(c))
            if e is not None:
                near = at.get((_stream(e), e.seq - 1), 0.0) + at.get((_stream(e), e.seq + 1), 0.0)
                if near:
                    _boost(c, "neighbour", priors.neighbour * near)

    if priors.session:
        members: dict[tuple, list[float]] = defaultdict(list)
        for key, e in where.items():
            members[_stream(e)].append(base[key])
        strength = {
            s: sum(sorted(v, reverse=True)[: priors.session_top]) for s, v in members.items()
        }
        top = max(strength.values(), default=0.0)
        if top > 0:
            for c in candidates:
                e = where.get(id(c))
                if e is not None:
                    _boost(
                        c,
                        "session",
                        priors.session * strength[_stream(e)] / top * max(base.values()),
                    )


def _boost(c: Fused, name: str, amount: float) -> None:
    c.score += amount
    c.boosts[name] = c.boosts.get(name, 0.0) + amount
