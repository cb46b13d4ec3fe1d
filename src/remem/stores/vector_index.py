"""Exact in-memory cosine search, partitioned by (tenant, user).

Partitioning means a user's query only scores that user's vectors, so one
user's latency does not grow with the whole table. Exact search keeps recall
at 1.0; docs/benchmarks.md shows it meets the latency target at 100k rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

PartKey = tuple[str, str | None]


class _Part:
    __slots__ = ("keys", "matrix", "size")

    def __init__(self, dimension: int) -> None:
        self.keys = np.empty(64, dtype=np.int64)
        self.matrix = np.empty((64, dimension), dtype=np.float32)
        self.size = 0

    def append(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        need = self.size + len(keys)
        if need > len(self.keys):
            capacity = max(need, 2 * len(self.keys))
            self.keys = np.resize(self.keys, capacity)
            grown = np.empty((capacity, self.matrix.shape[1]), dtype=np.float32)
            grown[: self.size] = self.matrix[: self.size]
            self.matrix = grown
        self.keys[self.size : need] = keys
        self.matrix[self.size : need] = vectors
        self.size = need

    def drop(self, keys: set[int]) -> None:
        keep = ~np.isin(self.keys[: self.size], list(keys))
        kept = int(keep.sum())
        self.keys[:kept] = self.keys[: self.size][keep]
        self.matrix[:kept] = self.matrix[: self.size][keep]
        self.size = kept


class VectorIndex:
    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._parts: dict[PartKey, _Part] = {}
        self.max_key = 0

    def __len__(self) -> int:
        return sum(p.size for p in self._parts.values())

    def add(self, part: PartKey, keys: Iterable[int], vectors: np.ndarray) -> None:
        keys = np.fromiter(keys, dtype=np.int64)
        if len(keys) == 0:
            return
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(keys), self.dimension)
        self._parts.setdefault(part, _Part(self.dimension)).append(keys, vectors)
        self.max_key = max(self.max_key, int(keys.max()))

    def remove(self, keys: Iterable[int]) -> None:
        doomed = set(keys)
        if doomed:
            for part in self._parts.values():
                part.drop(doomed)

    def parts_for(self, tenant: str, user_id: str | None) -> list[PartKey]:
        if user_id is not None:
            return [(tenant, user_id)] if (tenant, user_id) in self._parts else []
        return [key for key in self._parts if key[0] == tenant]

    def search(
        self, vector: np.ndarray, parts: list[PartKey], k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keys and scores of the ``k`` nearest rows, best first."""
        chunks_keys, chunks_scores = [], []
        query = np.asarray(vector, dtype=np.float32)
        for key in parts:
            part = self._parts[key]
            if part.size:
                chunks_scores.append(part.matrix[: part.size] @ query)
                chunks_keys.append(part.keys[: part.size])
        return _top(chunks_keys, chunks_scores, k)

    def score(
        self, vector: np.ndarray, parts: list[PartKey], keys: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best of exactly ``keys`` (the rows a filter admitted), best first."""
        chunks_keys, chunks_scores = [], []
        query = np.asarray(vector, dtype=np.float32)
        for key in parts:
            part = self._parts[key]
            present = np.isin(part.keys[: part.size], keys)
            if present.any():
                chunks_scores.append(part.matrix[: part.size][present] @ query)
                chunks_keys.append(part.keys[: part.size][present])
        return _top(chunks_keys, chunks_scores, k)


def _top(
    chunks_keys: list[np.ndarray], chunks_scores: list[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    if not chunks_scores:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    scores = np.concatenate(chunks_scores) if len(chunks_scores) > 1 else chunks_scores[0]
    keys = np.concatenate(chunks_keys) if len(chunks_keys) > 1 else chunks_keys[0]
    top = np.argpartition(-scores, k)[:k] if k < len(scores) else np.arange(len(scores))
    order = top[np.argsort(-scores[top], kind="stable")]
    return keys[order], scores[order]
