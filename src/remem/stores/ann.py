"""An approximate nearest-neighbour index (HNSW, faiss) over one partition's vectors.

Exact scoring costs a pass over every row of a partition: fine at 100k rows, too slow at
1M (docs/benchmarks.md). Above a threshold (``row_index.ANN_THRESHOLD``) a partition's
dense signal asks this index for candidates instead, and ``row_index`` rescores them
exactly from its own float32 rows, so the scores a search sees are the exact cosines of
the rows the graph found. Labels are row positions in the partition: rows are only
appended, a forgotten row stays in the graph until its partition compacts (and the
graph is rebuilt), and searches skip it through a filter inside the graph.

faiss was measured against usearch on the same 100k real vectors here (M=32): faiss
built the graph 2-4x faster and answered 10-20x faster at the same recall
(docs/benchmarks.md, "ANN: the library"), and it can filter inside the graph
(``IDSelectorBitmap``), which usearch's Python API cannot.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

#: Links per node: with efSearch 256, recall@10 >= 0.98 on sentence vectors (bench/ann.py).
M = 32
#: Candidates weighed while building; 40 is faiss's default, recall was measured with it.
EF_CONSTRUCTION = 40
#: Candidates weighed while searching, at least (more when more results are asked for).
EF_SEARCH = 256


class Ann:
    """HNSW graph over rows ``[0, size)`` of one partition (labels are row positions)."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def build(cls, matrix: np.ndarray) -> Ann:
        index = faiss.IndexHNSWFlat(matrix.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = EF_CONSTRUCTION
        ann = cls(index)
        ann.add(matrix)
        return ann

    @classmethod
    def load(cls, path: Path) -> Ann:
        return cls(faiss.read_index(str(path)))

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append rows; they take the next positions.

        On one thread: faiss's OpenMP threads spin against each other and the rest of the
        process on a busy machine (a 50-row add ran 7x slower on two threads than on one
        here, and a 25k-row build 1.8x slower).
        """
        if len(vectors):
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            finally:
                faiss.omp_set_num_threads(threads)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """Positions of up to ``k`` rows nearest ``query``, nearest first.

        ``allowed`` (a boolean mask over positions) is applied inside the graph walk, so
        the ``k`` come from the allowed rows only.
        """
        k = min(k, self.size)
        if k <= 0:
            return np.empty(0, dtype=np.int64)
        params = faiss.SearchParametersHNSW(efSearch=max(EF_SEARCH, k))  # type: ignore[attr-defined]
        bits = selector = None  # both must live until the search returns (read in place)
        if allowed is not None:
            bits = np.packbits(allowed[: self.size], bitorder="little")
            selector = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bits))
            params.sel = selector
        _, labels = self._index.search(
            np.ascontiguousarray(query, dtype=np.float32)[None, :], k, params=params
        )
        del bits, selector
        found = labels[0]
        return found[found >= 0]
