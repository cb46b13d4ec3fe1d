"""Reciprocal rank fusion: robust to retrievers whose scores live on different scales."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from remem.model import MemoryRecord, Signal

RRF_K = 60


@dataclass
class Fused:
    memory: MemoryRecord
    score: float = 0.0
    signals: dict[str, Signal] = field(default_factory=dict)
    boosts: dict[str, float] = field(default_factory=dict)


def _key(memory: MemoryRecord) -> tuple[str, int]:
    return memory.id, memory.version


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[tuple[MemoryRecord, float]]],
    weights: Mapping[str, float] | None = None,
    k: int = RRF_K,
) -> list[Fused]:
    """Sum of weight / (k + rank) over the retrievers that found each memory, best first."""
    fused: dict[tuple[str, int], Fused] = {}
    for name, ranking in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, (memory, score) in enumerate(ranking, start=1):
            entry = fused.setdefault(_key(memory), Fused(memory))
            entry.score += weight / (k + rank)
            entry.signals[name] = Signal(rank=rank, score=float(score))
    return sorted(fused.values(), key=lambda f: -f.score)
