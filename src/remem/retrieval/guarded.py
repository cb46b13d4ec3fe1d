"""What the guard says of a ranking: flags on the hits, and the disputed ranked down.

``hybrid_search`` calls ``guard_ranking`` once, after fusion and before the cut to
``limit``: the consensus check (``remem.guard.consensus``) judges the hits about to be
returned against every candidate retrieved, a disputed hit's score is multiplied by
``GuardPolicy.consensus_penalty`` (shown as a ``disputed`` boost), and quarantined hits
(only there when asked for) are flagged so.
"""

from __future__ import annotations

from remem.config import GuardPolicy
from remem.guard import consensus
from remem.retrieval.fusion import Fused


def guard_ranking(fused: list[Fused], limit: int, guard: GuardPolicy) -> dict[str, tuple[str, ...]]:
    """Flags by memory id; ``fused`` is re-ordered in place when a hit is ranked down."""
    flags: dict[str, tuple[str, ...]] = {}
    if not guard.enabled:
        return flags
    for f in fused[:limit]:
        if f.memory.status == "quarantined":
            flags[f.memory.id] = ("quarantined",)
    if not guard.consensus:
        return flags
    verdicts = consensus.check([f.memory for f in fused], limit)
    if not verdicts:
        return flags
    for f in fused:
        verdict = verdicts.get(f.memory.id)
        if verdict is not None:
            penalty = f.score * (1.0 - guard.consensus_penalty)
            f.score -= penalty
            f.boosts["disputed"] = -penalty
            flags[f.memory.id] = (*flags.get(f.memory.id, ()), verdict.flag)
    fused.sort(key=lambda f: -f.score)
    return flags
