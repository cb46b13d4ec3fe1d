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
    """HNSW graph over rows ``[0, size)`` of one partition, one node per distinct vector.

    Rows with identical vectors (a repeated "ok, thanks", a re-sent message) share a node:
    copies crowd each other out of the graph's links (its neighbour pruning keeps one of
    them), and recall@10 fell to 0.2-0.4 on queries whose best rows were copies of one
    text. A node stands for its group; finding it returns every member.
    """

    def __init__(
        self, index: faiss.Index, rows: np.ndarray | None = None, twins: np.ndarray | None = None
    ) -> None:
        self._index = index
        self._rows: list[int] = [] if rows is None else rows.tolist()  # node -> its first row
        self._node_of: dict[int, int] = {row: node for node, row in enumerate(self._rows)}
        self._first_of: dict[int, int] = {}  # a repeated row's position -> its group's first
        self._groups: dict[int, list[int]] = {}  # a group's first position -> every member
        self._seen: dict[int, int] | None = None  # vector hash -> first position, built lazily
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.size = 0 if rows is None else int(index.ntotal)  # rows covered
        for position, first in (twins if twins is not None else np.empty((0, 2))).tolist():
            self._join(int(position), int(first))
            self.size = max(self.size, int(position) + 1)
        if self._rows:
            self.size = max(self.size, self._rows[-1] + 1)

    def _join(self, position: int, first: int) -> None:
        self._arrays = None
        self._first_of[position] = first
        self._groups.setdefault(first, [first]).append(position)

    def _hashes(self) -> dict[int, int]:
        """Hash of every node's vector -> its row (after a load, read back from the graph)."""
        if self._seen is None:
            self._seen = {}
            nodes = int(self._index.ntotal)
            for start in range(0, nodes, 65_536):  # a slice at a time: no second full copy
                vectors = self._index.reconstruct_n(start, min(65_536, nodes - start))
                for offset, vector in enumerate(vectors):
                    self._seen[hash(vector.tobytes())] = self._rows[start + offset]
        return self._seen

    @property
    def rows(self) -> np.ndarray:
        """The first row of each node, for ``index_file.py``."""
        return np.array(self._rows, dtype=np.int64)

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
    def load(cls, path: Path, rows: np.ndarray, twins: np.ndarray) -> Ann:
        return cls(faiss.read_index(str(path)), rows, twins)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    def add(self, vectors: np.ndarray) -> None:
        """Append rows; they take the next positions. A copy of a row already held joins
        that row's node instead of becoming one.

        On one thread: faiss's OpenMP threads spin against each other and the rest of the
        process on a busy machine (a 50-row add ran 7x slower on two threads than on one
        here, and a 25k-row build 1.8x slower).
        """
        if not len(vectors):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        seen, start, new = self._hashes(), self.size, []
        for offset, vector in enumerate(vectors):
            position = start + offset
            first = seen.setdefault(hash(vector.tobytes()), position)
            if first != position:
                self._join(position, first)
            else:
                self._node_of[position] = len(self._rows)
                self._rows.append(position)
                self._arrays = None
                new.append(offset)
        self.size = start + len(vectors)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            self._index.add(vectors[new])
        finally:
            faiss.omp_set_num_threads(threads)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """Positions of about ``k`` rows nearest ``query`` (more when they have twins).

        ``allowed`` (a boolean mask over positions) is applied inside the graph walk: a node
        is walked to when any row of its group is allowed. Every member comes back; the
        caller re-checks the filter.
        """
        nodes = int(self._index.ntotal)
        k = min(k, nodes)
        if k <= 0:
            return np.empty(0, dtype=np.int64)
        params = faiss.SearchParametersHNSW(efSearch=max(EF_SEARCH, k))  # type: ignore[attr-defined]
        bits = selector = None  # both must live until the search returns (read in place)
        if allowed is not None:
            bits = np.packbits(self._allowed_nodes(allowed), bitorder="little")
            selector = faiss.IDSelectorBitmap(nodes, faiss.swig_ptr(bits))
            params.sel = selector
        _, labels = self._index.search(
            np.ascontiguousarray(query, dtype=np.float32)[None, :], k, params=params
        )
        del bits, selector
        found = [self._rows[node] for node in labels[0].tolist() if node >= 0]
        if not self._groups:
            return np.array(found, dtype=np.int64)
        members: list[int] = []
        for row in found:
            members.extend(self._groups.get(row, [row]))
        return np.fromiter(dict.fromkeys(members), dtype=np.int64)

    def _allowed_nodes(self, allowed: np.ndarray) -> np.ndarray:
        """Per node: is any row of its group allowed."""
        if self._arrays is None:
            twins = self.twins
            nodes_of_twins = np.array(
                [self._node_of[first] for first in twins[:, 1].tolist()], dtype=np.int64
            )
            self._arrays = (self.rows, twins[:, 0], nodes_of_twins)
        rows, twin_rows, twin_nodes = self._arrays
        nodes = allowed[rows]
        nodes[twin_nodes[allowed[twin_rows]]] = True
        return nodes
