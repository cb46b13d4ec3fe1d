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
    """HNSW graph over rows ``[0, size)`` of one partition (labels are row positions).

    Rows with identical vectors (a repeated "ok, thanks", a re-sent message) are kept as
    groups: the graph links near-duplicates poorly (its neighbour pruning keeps one of
    them), so finding one member of a group returns them all. Without it, recall@10 fell
    to 0.2 on queries whose best rows were copies of one text.
    """

    def __init__(self, index: faiss.Index, twins: np.ndarray | None = None) -> None:
        self._index = index
        self._first_of: dict[int, int] = {}  # a repeated row's position -> its group's first
        self._groups: dict[int, list[int]] = {}  # a group's first position -> every member
        self._seen: dict[int, int] | None = None  # vector hash -> first position, built lazily
        for position, first in (twins if twins is not None else np.empty((0, 2))).tolist():
            self._join(int(position), int(first))

    def _join(self, position: int, first: int) -> None:
        self._first_of[position] = first
        self._groups.setdefault(first, [first]).append(position)

    def _hashes(self) -> dict[int, int]:
        """Hash of every stored vector -> the first position holding it (after a load, read
        back from the graph's own copy of the vectors)."""
        if self._seen is None:
            self._seen = {}
            for start in range(0, self.size, 65_536):  # a slice at a time: no second full copy
                rows = self._index.reconstruct_n(start, min(65_536, self.size - start))
                for offset, row in enumerate(rows):
                    self._seen.setdefault(hash(row.tobytes()), start + offset)
        return self._seen

    @property
    def twins(self) -> np.ndarray:
        """(position, first position) of every repeated row, for ``index_file.py``."""
        return np.array(list(self._first_of.items()), dtype=np.int64).reshape(-1, 2)

    @classmethod
    def build(cls, matrix: np.ndarray) -> Ann:
        index = faiss.IndexHNSWFlat(matrix.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = EF_CONSTRUCTION
        ann = cls(index)
        ann.add(matrix)
        return ann

    @classmethod
    def load(cls, path: Path, twins: np.ndarray | None = None) -> Ann:
        return cls(faiss.read_index(str(path)), twins)

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
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            seen, start = self._hashes(), self.size
            for offset, row in enumerate(vectors):
                first = seen.setdefault(hash(row.tobytes()), start + offset)
                if first != start + offset:
                    self._join(start + offset, first)
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                self._index.add(vectors)
            finally:
                faiss.omp_set_num_threads(threads)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """Positions of about ``k`` rows nearest ``query`` (more when they have twins).

        ``allowed`` (a boolean mask over positions) is applied inside the graph walk, so
        the ``k`` come from the allowed rows; their twins come too, allowed or not.
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
        found = labels[0][labels[0] >= 0]
        if not self._groups:
            return found
        members: list[int] = []
        for position in found.tolist():
            members.extend(self._groups.get(self._first_of.get(position, position), [position]))
        return np.fromiter(dict.fromkeys(members), dtype=np.int64)
