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

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from remem.stores.page_in import PageIn, Region

#: Links per node. 32 gave recall@10 0.99 at 100k but not at 1M; 48 with efConstruction
#: 100 holds >= 0.98 at 1M (docs/benchmarks.md, "ANN: recall and latency").
M = 48
#: Candidates weighed while building (faiss's default is 40: too few links found at 1M).
EF_CONSTRUCTION = 100
#: Candidates weighed while searching a graph of ``EF_NODES`` nodes, at least.
EF_SEARCH = 160
#: Graph size at which ``EF_SEARCH`` was measured; bigger graphs search wider (``ef_search``).
EF_NODES = 100_000


def ef_search(nodes: int, k: int) -> int:
    """Candidates to weigh for ``k`` results in a graph of ``nodes`` nodes.

    A walk's miss rate grows with the graph (more nodes between a query and its neighbours),
    so the beam grows in proportion past ``EF_NODES``: 160 at 100k, 480 at 300k, 1,600 at
    1M. Swept at the candidates a search asks for (100, for its 50 dense ones;
    docs/benchmarks.md): at 100k real vectors 160 held recall@10 0.998 (0.9995 at 400, the
    beam before); at 300k mixtures 0.996 at 160 and 0.998 at 400; at 1M a beam of 1,603
    held 0.999 on mixtures and 0.988 on near-copies. And it is at least one and a half times
    ``k``: a beam no wider than the results it returns leaves the last of them to chance.
    """
    scale = max(1.0, nodes / EF_NODES)
    return max(int(EF_SEARCH * scale), 3 * k // 2)


class Ann:
    """HNSW graph over rows ``[0, size)`` of one partition, one node per distinct vector.

    Rows with identical vectors (a repeated "ok, thanks", a re-sent message) share a node:
    copies crowd each other out of the graph's links (its neighbour pruning keeps one of
    them), and recall@10 fell to 0.2-0.4 on queries whose best rows were copies of one
    text. A node stands for its group; finding it returns every member.

    A graph read from a file keeps its vectors mapped from it (``IO_FLAG_MMAP_IFC``): a
    new process pages in what its searches touch instead of reading 1.5 GB at 1M rows.
    faiss cannot append to mapped storage, so the first add copies the graph into memory.
    A background thread reads the mapped vectors and links ahead (``page_in.py``), so the
    first searches of that process need not fault their pages in one by one.
    """

    def __init__(
        self,
        index: faiss.Index,
        rows: np.ndarray | None = None,
        twins: np.ndarray | None = None,
        *,
        mapped: bool = False,
    ) -> None:
        self._index = index
        self._mapped = mapped
        self.page_in: PageIn | None = None  # reading the mapped graph ahead, after a load
        self._rows = np.empty(0, np.int64) if rows is None else rows  # node -> its first row
        # Repeated rows: those read from a file as arrays sorted by their group's first row
        # (a load builds nothing per row), those added since in a dict.
        saved = np.empty((0, 2), np.int64) if twins is None else np.asarray(twins, np.int64)
        saved = saved[np.argsort(saved[:, 1], kind="stable")]
        self._saved_twins: tuple[np.ndarray, np.ndarray] = (saved[:, 0], saved[:, 1])
        self._groups: dict[int, list[int]] = {}  # first position -> the members added since
        self._seen: dict[int, int] | None = None  # vector hash -> first position, built lazily
        self._twin_nodes: tuple[np.ndarray, np.ndarray] | None = None
        self._firsts: dict[int, int] | None = None  # repeated row -> its group's first row
        self.size = 0 if rows is None else int(index.ntotal)  # rows covered
        if len(saved):
            self.size = max(self.size, int(saved[:, 0].max()) + 1)
        if len(self._rows):
            self.size = max(self.size, int(self._rows[-1]) + 1)

    def _join(self, position: int, first: int) -> None:
        self._twin_nodes, self._firsts = None, None
        self._groups.setdefault(first, []).append(position)

    def _hashes(self) -> dict[int, int]:
        """Hash of every node's vector -> its row (after a load, read back from the graph)."""
        if self._seen is None:
            self._seen = {}
            nodes = int(self._index.ntotal)
            for start in range(0, nodes, 65_536):  # a slice at a time: no second full copy
                vectors = self._index.reconstruct_n(start, min(65_536, nodes - start))
                for offset, vector in enumerate(vectors):
                    self._seen[hash(vector.tobytes())] = int(self._rows[start + offset])
        return self._seen

    @property
    def rows(self) -> np.ndarray:
        """The first row of each node (increasing), for ``index_file.py``."""
        return self._rows

    @property
    def twins(self) -> np.ndarray:
        """(position, first position) of every repeated row, for ``index_file.py``."""
        added = [(position, first) for first, group in self._groups.items() for position in group]
        saved = np.stack(self._saved_twins, axis=1)
        return np.concatenate([saved, np.array(added, dtype=np.int64).reshape(-1, 2)])

    @classmethod
    def build(cls, matrix: np.ndarray) -> Ann:
        index = faiss.IndexHNSWFlat(matrix.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = EF_CONSTRUCTION
        ann = cls(index)
        ann.add(matrix)
        return ann

    @classmethod
    def load(
        cls, path: Path, rows: np.ndarray, twins: np.ndarray, then: Sequence[Path] = ()
    ) -> Ann:
        """The graph saved at ``path``, its vectors mapped (the file must not change).

        Its file is read ahead in the background, then ``then``: the files its searches
        read next (the rows they rescore), which a cold disk would otherwise serve a page
        at a time.
        """
        page_in = PageIn(path, then)  # the disk reads start now, under read_index's parsing
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        except BaseException:
            page_in.stop()
            raise
        page_in.populate(_mapped_regions(index), keep=index)
        ann = cls(index, rows, twins, mapped=True)
        ann.page_in = page_in
        return ann

    def close(self) -> None:
        """Stop reading the graph ahead (the graph still answers; it faults what it needs)."""
        if self.page_in is not None:
            self.page_in.stop()
            self.page_in = None

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
                new.append(offset)
        self.size = start + len(vectors)
        if not new:
            return
        self._rows = np.concatenate([self._rows, start + np.asarray(new, dtype=np.int64)])
        if self._mapped:  # mapped storage cannot grow: copy the graph into memory once
            if self.page_in is not None:  # reading ahead a mapping about to be dropped
                self.page_in.stop()
                self.page_in = None
            self._index = faiss.deserialize_index(faiss.serialize_index(self._index))
            self._mapped = False
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            self._index.add(vectors[new])
        finally:
            faiss.omp_set_num_threads(threads)

    def vectors(self, positions: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """The vectors of rows ``positions`` of ``matrix`` (the partition's), copied out.

        The graph keeps its own copy of every vector it holds (its nodes'; a repeated row
        has its node's), and a search's candidates are nodes its walk just read: taking
        their vectors there, not from the matrix, reads no page the walk did not (from a
        cold disk, the matrix's faulted in one by one cost a fresh process 108 ms at 100k
        rows). The newest rows, past the graph, come from ``matrix``. The same values
        either way, so the same scores.
        """
        inside = positions < self.size
        out = np.empty((len(positions), matrix.shape[1]), dtype=np.float32)
        out[inside] = self._stored()[self._nodes(positions[inside])]
        out[~inside] = matrix[positions[~inside]]
        return out

    def _nodes(self, positions: np.ndarray) -> np.ndarray:
        """The node of each row at ``positions`` (a repeated row's is its group's)."""
        rows = self._rows
        at = np.minimum(np.searchsorted(rows, positions), len(rows) - 1)
        repeated = rows[at] != positions
        if repeated.any():
            if self._firsts is None:
                self._firsts = dict(self.twins.tolist())
            firsts = [self._firsts[p] for p in positions[repeated].tolist()]
            at[repeated] = np.searchsorted(rows, np.array(firsts, dtype=np.int64))
        return at

    def _stored(self) -> np.ndarray:
        """The graph's vectors, a view of its storage (mapped from its file after a load)."""
        hnsw: Any = faiss.downcast_index(self._index)
        storage: Any = faiss.downcast_index(hnsw.storage)
        codes = storage.codes
        flat = faiss.rev_swig_ptr(codes.data(), codes.size())
        return flat.view(np.float32).reshape(int(self._index.ntotal), self._index.d)

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
        params = faiss.SearchParametersHNSW(efSearch=ef_search(nodes, k))  # type: ignore[attr-defined]
        bits = selector = None  # both must live until the search returns (read in place)
        if allowed is not None:
            bits = np.packbits(self._allowed_nodes(allowed), bitorder="little")
            selector = faiss.IDSelectorBitmap(nodes, faiss.swig_ptr(bits))
            params.sel = selector
        _, labels = self._index.search(
            np.ascontiguousarray(query, dtype=np.float32)[None, :], k, params=params
        )
        del bits, selector
        found = self._rows[labels[0][labels[0] >= 0]]
        positions, firsts = self._saved_twins
        if not self._groups and not len(firsts):
            return found
        begins = np.searchsorted(firsts, found, "left").tolist()
        ends = np.searchsorted(firsts, found, "right").tolist()
        members: list[int] = []
        for row, begin, end in zip(found.tolist(), begins, ends, strict=True):
            members.append(row)
            members.extend(positions[begin:end].tolist())
            members.extend(self._groups.get(row, ()))
        return np.fromiter(dict.fromkeys(members), dtype=np.int64)

    def _allowed_nodes(self, allowed: np.ndarray) -> np.ndarray:
        """Per node: is any row of its group allowed."""
        if self._twin_nodes is None:
            twins = self.twins
            # a group's node is its first row's: rows are increasing, so a binary search
            self._twin_nodes = (twins[:, 0], np.searchsorted(self._rows, twins[:, 1]))
        twin_rows, twin_nodes = self._twin_nodes
        nodes = allowed[self._rows]
        nodes[twin_nodes[allowed[twin_rows]]] = True
        return nodes


def _mapped_regions(index: faiss.Index) -> list[Region]:
    """(address, bytes) of a read graph's vectors and links, where mapped.

    faiss 1.15 maps both from the file with ``IO_FLAG_MMAP_IFC`` (``MaybeOwnedVector``s
    that do not own their data); a build of faiss that copies one has nothing to read ahead.
    """
    hnsw: Any = faiss.downcast_index(index)  # IndexHNSWFlat: its fields are not in the stubs
    regions: list[Region] = []
    storage: Any = faiss.downcast_index(hnsw.storage)
    for vector in (storage.codes, hnsw.hnsw.neighbors):
        if getattr(vector, "is_owned", True) or not vector.size():
            continue
        view = faiss.rev_swig_ptr(vector.data(), vector.size())
        regions.append((int(view.ctypes.data), int(view.nbytes)))
    return regions
