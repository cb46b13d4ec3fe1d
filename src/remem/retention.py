"""How strongly a memory is held: MemoryBank's forgetting curve under a ``LifecyclePolicy``.

The curve is shared ground: ``pipeline.lifecycle`` moves and archives memories by it and
``retrieval.priors`` ranks by it, so it lives below both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from remem.model import MemoryRecord

DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class LifecyclePolicy:
    """The constants of the curve and of the layer moves; one policy per ``Memory``."""

    base_stability_days: float = 1.0
    #: S0 = base * (1 + importance_gain * importance): 3 days at importance 0.5, 5 at 1.0.
    importance_gain: float = 4.0
    #: Each recall multiplies S by 1 + recall_gain * (1 + importance) * (2 - R) / 2.
    recall_gain: float = 1.0
    max_stability_days: float = 3650.0
    layer_scale: dict[str, float] = field(
        default_factory=lambda: {"working": 0.5, "short": 1.0, "long": 8.0}
    )
    #: Short-term memories move to long-term after this many recalls, or at this importance.
    promote_recalls: int = 3
    promote_importance: float = 0.8
    #: Working memories leave the working layer when their session is idle this long, or
    #: when a newer session of the same user and agent has begun.
    working_idle: timedelta = timedelta(hours=2)
    #: ``maintain`` archives active memories whose retention is under this.
    archive_below: float = 0.01


DEFAULT_POLICY = LifecyclePolicy()


def learned_at(memory: MemoryRecord) -> datetime:
    """When the memory entered the agent's mind: a turn when it was said, the rest when written."""
    if memory.kind == "episode" and memory.valid_from is not None:
        return memory.valid_from
    return memory.recorded_at


def stability(memory: MemoryRecord, policy: LifecyclePolicy = DEFAULT_POLICY) -> float:
    """S in days: the stored value once recalled, else what importance gives a new memory."""
    if memory.stability is not None:
        return memory.stability
    return policy.base_stability_days * (1.0 + policy.importance_gain * memory.importance)


def retention(
    memory: MemoryRecord, now: datetime, policy: LifecyclePolicy = DEFAULT_POLICY
) -> float:
    """exp(-dt / (S * layer scale)) in [0, 1]; 1 for pinned memories and for the future."""
    if memory.pinned:
        return 1.0
    since = memory.last_accessed_at or learned_at(memory)
    days = (now - since).total_seconds() / DAY_SECONDS
    if days <= 0:
        return 1.0
    scale = policy.layer_scale.get(memory.layer, 1.0)
    return math.exp(-days / (stability(memory, policy) * scale))


def reinforced(
    memory: MemoryRecord, now: datetime, policy: LifecyclePolicy = DEFAULT_POLICY
) -> float:
    """The stability after one more recall at ``now``."""
    faded = 2.0 - retention(memory, now, policy)  # 1 when fresh, up to 2 when nearly forgotten
    gain = 1.0 + policy.recall_gain * (1.0 + memory.importance) * faded / 2.0
    return min(stability(memory, policy) * gain, policy.max_stability_days)
