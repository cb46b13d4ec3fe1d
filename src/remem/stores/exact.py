"""Exact scores of chosen rows of a partition's vector matrix (``row_index.Part.scores_at``).

A time window's rows are scored exactly when it admits few enough of them, and the graph's
candidates are rescored exactly: both ask for the scores of given row positions. Copying
those rows out of the matrix before the product (numpy's fancy indexing) cost three times
the product itself for a 50,000-row window at 1M rows (docs/benchmarks.md), so rows lying
close together are scored where they lie.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Rows from which scoring runs on one core (numpy's loop, not BLAS) and reads in place.
SPAN_FROM = 512
#: A run of increasing positions breaks at a gap wider than ``RUN_GAP`` rows; it is read in
#: place when it holds ``RUN_FROM`` rows or more and at least half the rows of its span.
RUN_GAP, RUN_FROM = 64, 256


def scores_at(
    matrix: np.ndarray,
    rows: np.ndarray,
    query: np.ndarray,
    gather: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """``matrix[rows] @ query``; ``gather`` copies rows out when not from ``matrix``.

    Many rows are scored by numpy's own loop on one core, not BLAS: OpenBLAS splits a
    product over every core, and on a busy machine waiting for the second one cost more
    than the product (2,000 rows: 26 ms against 1.5 ms). Its per-row sums do not depend on
    which other rows share the call, so scoring in place and copied out agree bit for bit.
    Increasing positions are scored in place over each run of them lying close together
    (rows arrive in about time order: a window is one run, or several when older turns
    were imported later or a store holds copies), and only the scattered rest is copied.
    """
    take = gather or matrix.__getitem__
    if len(rows) < SPAN_FROM:
        return take(rows) @ query
    if not bool(np.all(rows[1:] > rows[:-1])):
        return np.einsum("ij,j->i", take(rows), query)
    scores = np.empty(len(rows), dtype=np.float32)
    scattered = np.ones(len(rows), dtype=np.bool_)
    for begin, end in _runs(rows):
        first, last = int(rows[begin]), int(rows[end - 1])
        span = np.einsum("ij,j->i", matrix[first : last + 1], query)
        scores[begin:end] = span[rows[begin:end] - first]
        scattered[begin:end] = False
    if scattered.any():
        scores[scattered] = np.einsum("ij,j->i", take(rows[scattered]), query)
    return scores


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """(begin, end) indices into increasing ``rows`` of the runs worth scoring in place."""
    breaks = np.flatnonzero(np.diff(rows) > RUN_GAP) + 1
    begins = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(rows)]])
    counts = ends - begins
    spans = rows[ends - 1] - rows[begins] + 1
    keep = (counts >= RUN_FROM) & (spans <= 2 * counts)
    return list(zip(begins[keep].tolist(), ends[keep].tolist(), strict=True))
