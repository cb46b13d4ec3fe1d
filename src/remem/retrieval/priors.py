"""Lifecycle priors: re-weight the fused candidates by retention, recall frequency and layer.

Applied after fusion, before the cut to ``limit``, so a prior can reorder candidates but
never finds anything by itself: relevance comes from the retrievers, the priors only
break near-ties in favour of what is strong in memory (MemoryBank, TradingGPT).

Each hit's fused score is multiplied by
``(1 - retention_w + retention_w * R) * (1 + frequency_w * f + layer_w * [layer is long])``
where ``R`` is Ebbinghaus retention at the time the query is asked and ``f`` grows with
the recall count (log scale, 1 at ``FREQUENT`` recalls). The change shows in the hit's
boosts as ``lifecycle``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from remem.recipes import Priors
from remem.retention import DEFAULT_POLICY, LifecyclePolicy, retention
from remem.retrieval.fusion import Fused

FREQUENT = 10


def factor(
    fused: Fused, priors: Priors, now: datetime, policy: LifecyclePolicy = DEFAULT_POLICY
) -> float:
    m = fused.memory
    fading = 1.0 - priors.retention + priors.retention * retention(m, now, policy)
    frequency = min(1.0, math.log1p(m.access_count) / math.log1p(FREQUENT))
    bonus = priors.frequency * frequency + priors.long_term * (m.layer == "long")
    return fading * (1.0 + bonus)


def apply_priors(
    fused: Sequence[Fused],
    priors: Priors,
    now: datetime,
    policy: LifecyclePolicy = DEFAULT_POLICY,
) -> list[Fused]:
    """The candidates re-scored and re-sorted, best first."""
    for f in fused:
        change = f.score * (factor(f, priors, now, policy) - 1.0)
        if change:
            f.score += change
            f.boosts["lifecycle"] = change
    return sorted(fused, key=lambda f: -f.score)
