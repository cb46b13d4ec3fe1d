"""The ANN graph of large partitions, and the SQLite index saved beside its file.

Below the threshold the dense signal is the exact one, bit for bit; above it the graph
proposes and the rows are rescored exactly: recall@10 against exact stays >= 0.98, filters
hold, adds reach the graph at once, removals never come back, and a new process reads
the saved index (graph included) instead of rebuilding it.
"""

from __future__ import annotations

import mmap
import shutil
import sys
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from conformance import ids, record

from remem.model import Scope
from remem.stores import MemoryFilter, ann, index_file, page_in, row_index
from remem.stores.row_index import Approximate, RowIndex, Window
from remem.stores.sqlite import SQLiteStore

DIM = 16
N = 3_000
PART = ("t", "u")
SCOPE = Scope(tenant="t", user_id="u")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, DIM))
    rows = centres[rng.integers(0, 40, n)] + 0.4 * rng.normal(size=(n, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _pair(vectors: np.ndarray, when: np.ndarray, ann_rows: int) -> tuple[RowIndex, RowIndex]:
    """The same rows in an exact index and in one that goes through the graph."""
    pair = RowIndex(DIM, ann_rows=10**9), RowIndex(DIM, ann_rows=ann_rows)
    for index in pair:
        keys = range(1, len(vectors) + 1)
        index.add(PART, keys, list(vectors), list(when), [k % 50 == 0 for k in keys])
    return pair


def _recall(exact: RowIndex, ann: RowIndex, queries: np.ndarray, window: Window) -> float:
    hits = []
    for query in queries:
        _, wanted, _ = exact.top(exact.dense_scores(query, [PART]), 10, window)
        got, scores, _ = ann.top(ann.dense_scores(query, [PART]), 10, window)
        assert set(got.tolist()) <= set(
            exact.top(exact.dense_scores(query, [PART]), N, window)[0].tolist()
        )  # never a row the window (or removal) excludes
        if len(wanted):
            hits.append(np.mean(scores >= wanted[-1] - 1e-6) if len(scores) == 10 else 0.0)
    return float(np.mean(hits))


@pytest.fixture
def small_exact_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Filters admitting fewer than 200 rows are scored exactly (20,000 in production)."""
    monkeypatch.setattr(row_index, "EXACT_UNDER", 200)


def test_below_the_threshold_scores_are_the_exact_ones() -> None:
    vectors = _vectors(500)
    exact, ann = _pair(vectors, np.zeros(500), ann_rows=501)
    query = _vectors(1, seed=9)[0]
    plain = exact.dense_scores(query, [PART])[PART]
    below = ann.dense_scores(query, [PART])[PART]
    assert isinstance(below, np.ndarray) and np.array_equal(plain, below)
    ann.add(PART, [501], [vectors[0]], [0.0], [False])
    assert isinstance(ann.dense_scores(query, [PART])[PART], Approximate)


@pytest.mark.usefixtures("small_exact_cut")
def test_recall_against_exact_with_and_without_filters() -> None:
    vectors = _vectors(N)
    when = np.arange(N, dtype=np.float64)
    exact, ann = _pair(vectors, when, ann_rows=1_000)
    queries = _vectors(60, seed=1)
    assert isinstance(ann.dense_scores(queries[0], [PART])[PART], Approximate)
    assert _recall(exact, ann, queries, Window()) >= 0.98
    assert _recall(exact, ann, queries, Window(after=200.0, before=2_800.0)) >= 0.98
    # Selective filters: the graph's unfiltered candidates miss them; the filter goes inside
    # the graph walk (400 rows) or, below the exact cut, every admitted row is scored.
    assert _recall(exact, ann, queries, Window(after=1_000.0, before=1_400.0)) >= 0.98
    assert _recall(exact, ann, queries, Window(after=10.0, before=60.0)) == 1.0
    assert _recall(exact, ann, queries, Window(directive=True)) == 1.0
    keys = np.arange(1, N + 1, 5, dtype=np.int64)  # a filter naming rows (the SQL re-check's)
    for query in queries[:10]:
        got, _, admitted = ann.top(ann.dense_scores(query, [PART]), 10, keys=keys)
        want, _, _ = exact.top(exact.dense_scores(query, [PART]), 10, keys=keys)
        assert admitted == len(keys) and set(got.tolist()) <= set(keys.tolist())
        assert len(set(got.tolist()) & set(want.tolist())) >= 9


def test_adds_reach_the_graph_and_removed_rows_never_return() -> None:
    vectors = _vectors(N)
    exact, ann = _pair(vectors, np.zeros(N), ann_rows=1_000)
    query = _vectors(1, seed=5)[0]
    ann.top(ann.dense_scores(query, [PART]), 10)  # the graph is built here
    for index in (exact, ann):
        index.add(PART, [N + 1], [query], [0.0], [False])  # the query itself: the best row
    best, _, _ = ann.top(ann.dense_scores(query, [PART]), 10)
    assert best[0] == N + 1
    doomed = best[:5].tolist()
    for index in (exact, ann):
        index.remove(doomed)
    after, _, admitted = ann.top(ann.dense_scores(query, [PART]), 10)
    assert not set(after.tolist()) & set(doomed) and admitted == N + 1 - 5
    want, _, _ = exact.top(exact.dense_scores(query, [PART]), 10)
    assert len(set(after.tolist()) & set(want.tolist())) >= 9
    ann.remove(range(1, N // 2 + 10))  # more removed than kept: the part compacts
    part = ann.parts[PART]
    assert part.ann is None and part.size < N // 2
    again, _, _ = ann.top(ann.dense_scores(query, [PART]), 10)
    assert part.ann is not None and part.ann.size == part.size  # rebuilt over the live rows
    assert again.min() >= N // 2 + 10


def test_new_rows_wait_in_an_exact_tail_then_join_the_graph_in_one_add(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(row_index, "GRAPH_TAIL", 20)
    vectors = _vectors(N + 30)
    exact, ann = _pair(vectors[:N], np.zeros(N), ann_rows=1_000)
    ann.top(ann.dense_scores(vectors[0], [PART]), 10)  # the graph is built here
    part = ann.parts[PART]
    assert part.ann is not None and part.ann.size == N
    for i in range(N, N + 20):  # one row per add, as a store adds a turn at a time
        for index in (exact, ann):
            index.add(PART, [i + 1], [vectors[i]], [0.0], [False])
        assert part.ann.size == N  # not in the graph yet...
        got, _, _ = ann.top(ann.dense_scores(vectors[i], [PART]), 10)
        assert got[0] == i + 1  # ...yet found, scored exactly
    for index in (exact, ann):
        index.remove([N + 5])
    got, _, _ = ann.top(ann.dense_scores(vectors[N + 4], [PART]), 10)
    assert N + 5 not in got.tolist()  # the tail obeys removals (and any filter) too
    ann.add(PART, [N + 21], [vectors[N + 20]], [0.0], [False])
    assert part.ann.size == N + 21  # the tail passed 20 rows: all of it joined at once
    got, _, _ = ann.top(ann.dense_scores(vectors[N + 10], [PART]), 10)
    want, _, _ = exact.top(exact.dense_scores(vectors[N + 10], [PART]), 10)
    assert got[0] == N + 11 and len(set(got.tolist()) & set(want.tolist())) >= 9


def test_rows_with_one_vector_are_found_together(tmp_path: Path) -> None:
    """Copies of one text crowd each other out of the graph's links; finding one finds all."""
    vectors = _vectors(N)
    vectors[500:530] = vectors[9]  # the same turn stored 31 times
    exact, ann = _pair(vectors, np.zeros(N), ann_rows=1_000)
    query = vectors[9] + 0.01 * _vectors(1, seed=8)[0]
    got, scores, _ = ann.top(ann.dense_scores(query, [PART]), 10)
    _, wanted, _ = exact.top(exact.dense_scores(query, [PART]), 10)
    assert set(got.tolist()) <= {10, *range(501, 531)} and np.allclose(scores, wanted)
    ann.add(PART, [N + 1], [vectors[9]], [0.0], [False])  # one more copy, added later
    got, _, _ = ann.top(ann.dense_scores(query, [PART]), 40)
    assert {10, N + 1, *range(501, 531)} <= set(got.tolist())
    graph = ann.parts[PART].ensure_ann()
    allowed = np.zeros(N + 1, dtype=np.bool_)
    allowed[500:530] = True  # copies only, not the row that made the graph's node
    allowed[2_000:] = True
    walked = graph.search(query, 10, allowed=allowed)
    assert set(range(500, 530)) <= set(walked.tolist())
    stamp = index_file.Stamp("e", DIM, N + 1, "m")
    index_file.save(ann, stamp, tmp_path / "i")
    loaded = index_file.load(tmp_path / "i", lambda s: s == stamp)
    assert loaded is not None
    loaded.add(PART, [N + 2], [vectors[9]], [0.0], [False])  # the groups came back with it
    got, _, _ = loaded.top(loaded.dense_scores(query, [PART]), 40)
    assert {10, N + 1, N + 2, *range(501, 531)} <= set(got.tolist())


def test_candidates_are_rescored_from_the_graphs_copy_to_the_same_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built, loaded (mapped) and grown: the graph's vectors of any row (a repeated one
    too) are the partition's, bit for bit, so the rescored candidates score as before."""
    vectors = _vectors(N)
    vectors[500:530] = vectors[9]
    _, index = _pair(vectors, np.zeros(N), ann_rows=1_000)
    part = index.parts[PART]
    rows = np.array([9, 500, 529, 0, N - 1, 1_234], dtype=np.int64)
    graph = part.ensure_ann()
    assert graph.vectors(rows, part.matrix.view).tobytes() == part.matrix.view[rows].tobytes()
    stamp = index_file.Stamp("e", DIM, N, "m")
    index_file.save(index, stamp, tmp_path / "i")
    loaded = index_file.load(tmp_path / "i", lambda s: s == stamp)
    assert loaded is not None
    mapped = loaded.parts[PART]
    assert mapped.ann is not None and mapped.ann._mapped
    assert mapped.ann.vectors(rows, mapped.matrix.view).tobytes() == vectors[rows].tobytes()
    new = _vectors(3, seed=5)
    loaded.add(PART, [N + 1, N + 2, N + 3], [new[0], vectors[9], new[2]], [0.0] * 3, [False] * 3)
    grown = np.array([N, N + 1, N + 2, 9, 510], dtype=np.int64)  # the tail, past the graph
    assert mapped.ann.size == N
    both = mapped.ann.vectors(grown, mapped.matrix.view)
    assert both.tobytes() == mapped.matrix.view[grown].tobytes()
    mapped.ensure_ann()  # the tail joins the graph: its own copy now
    assert mapped.ann.size == N + 3 and not mapped.ann._mapped
    assert mapped.ann.vectors(grown, mapped.matrix.view).tobytes() == both.tobytes()
    query = (vectors[9] + 0.01 * _vectors(1, seed=8)[0]).astype(np.float32)
    monkeypatch.setattr(row_index, "EXACT_UNDER", 0)  # every admitted row: through the graph
    for k in (40, 400):  # BLAS below SPAN_FROM rows, numpy's loop from it
        found, walked = mapped.nearest(Approximate(query), mapped.alive.view.copy(), k)
        assert walked
        from_graph = mapped.scores_at(
            found, query, partial(mapped.ann.vectors, matrix=mapped.matrix.view)
        )
        assert from_graph.tobytes() == mapped.scores_at(found, query).tobytes()


def test_the_search_beam_grows_with_the_graph_and_the_results_asked() -> None:
    assert ann.ef_search(1_000, 10) == ann.EF_SEARCH  # small graphs: the measured beam
    assert ann.ef_search(ann.EF_NODES * 10, 10) == ann.EF_SEARCH * 10  # 160 -> 1,600
    assert ann.ef_search(1_000, 500) == 750  # never narrower than 1.5x the results
    assert ann.ef_search(10**6, 10) > ann.ef_search(10**5, 10)


def test_a_loaded_graph_reads_its_file_in_place_until_it_grows(tmp_path: Path) -> None:
    """Mapped, a new process pays nothing for vectors it never visits; faiss cannot grow
    a mapped graph, so the first add copies it, and the file stays as it was saved."""
    vectors = _vectors(N)
    graph = ann.Ann.build(vectors[:-1])
    graph.save(tmp_path / "g.faiss")
    saved = (tmp_path / "g.faiss").read_bytes()
    loaded = ann.Ann.load(tmp_path / "g.faiss", graph.rows, graph.twins)
    assert loaded._mapped and loaded.size == N - 1
    assert np.array_equal(loaded.search(vectors[5], 10), graph.search(vectors[5], 10))
    loaded.add(vectors[-1:])
    assert not loaded._mapped and loaded.size == N
    assert loaded.search(vectors[-1], 1).tolist() == [N - 1]
    assert (tmp_path / "g.faiss").read_bytes() == saved


def _resident_kib(path: Path) -> int:
    """Resident KiB of this process's mappings of ``path`` (/proc/self/smaps)."""
    resident, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and not head.endswith(":"):  # a mapping's first line
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            resident += int(line.split()[1])
    return resident


def _page_in_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == page_in.THREAD_NAME and t.is_alive()]


@pytest.mark.skipif(sys.platform != "linux", reason="MADV_POPULATE_READ and smaps are Linux's")
def test_a_loaded_graph_is_read_ahead_and_answers_as_before(tmp_path: Path) -> None:
    """A background thread maps in the loaded graph's vectors and links; the answers are
    the built graph's, during the read-ahead and after it."""
    vectors = _vectors(N)
    graph = ann.Ann.build(vectors)
    graph.save(tmp_path / "g.faiss")
    loaded = ann.Ann.load(tmp_path / "g.faiss", graph.rows, graph.twins)
    assert loaded.page_in is not None
    during = [loaded.search(vectors[i], 10) for i in range(0, N, 300)]
    assert loaded.page_in.wait(timeout=30)
    regions = ann._mapped_regions(loaded._index)
    assert len(regions) == 2 and loaded.page_in.populated >= sum(size for _, size in regions)
    assert loaded.page_in.read == [tmp_path / "g.faiss"]  # read first, in big reads
    assert _resident_kib(tmp_path / "g.faiss") * 1024 >= sum(size for _, size in regions)
    for i, found in zip(range(0, N, 300), during, strict=True):
        assert np.array_equal(found, graph.search(vectors[i], 10))
        assert np.array_equal(loaded.search(vectors[i], 10), found)
    loaded.close()
    assert loaded.page_in is None and not _page_in_threads()


def test_stopping_a_read_ahead_ends_its_thread_between_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``stop`` returns with the thread gone, before the whole range was read."""
    monkeypatch.setattr(page_in, "CHUNK", mmap.PAGESIZE)
    size = 65_536 * mmap.PAGESIZE  # a sparse file: one call per page takes 0.1 s or more
    with open(tmp_path / "f", "wb") as f:
        f.truncate(size)
    with open(tmp_path / "f", "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        view = np.frombuffer(m, dtype=np.uint8)
        reader = page_in.PageIn(tmp_path / "f", then=[tmp_path / "f"])
        reader.populate([(int(view.ctypes.data), size)], keep=None)
        reader.stop()
        assert not reader.running and not _page_in_threads()
        if sys.platform == "linux":
            assert reader.populated < size
        del view


@pytest.mark.skipif(sys.platform != "linux", reason="posix_fadvise is Linux's")
def test_a_kernel_without_the_advice_reads_the_file_ahead_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before Linux 5.14 ``MADV_POPULATE_READ`` is EINVAL: the file's cache is filled instead."""
    monkeypatch.setattr(page_in, "MADV_POPULATE_READ", 4_242)  # no such advice: EINVAL
    vectors = _vectors(500)
    graph = ann.Ann.build(vectors)
    graph.save(tmp_path / "g.faiss")
    loaded = ann.Ann.load(tmp_path / "g.faiss", graph.rows, graph.twins)
    assert loaded.page_in is not None and loaded.page_in.wait(timeout=30)
    assert loaded.page_in.read == [tmp_path / "g.faiss"] and loaded.page_in.populated == 0
    assert np.array_equal(loaded.search(vectors[3], 10), graph.search(vectors[3], 10))


def test_the_first_add_stops_the_read_ahead_of_the_mapping_it_drops(tmp_path: Path) -> None:
    vectors = _vectors(N)
    graph = ann.Ann.build(vectors[:-1])
    graph.save(tmp_path / "g.faiss")
    loaded = ann.Ann.load(tmp_path / "g.faiss", graph.rows, graph.twins)
    reader = loaded.page_in
    loaded.add(vectors[-1:])
    assert reader is not None and not reader.running and loaded.page_in is None
    assert loaded.search(vectors[-1], 1).tolist() == [N - 1]
    assert np.array_equal(loaded.search(vectors[5], 10), graph.search(vectors[5], 10))


# -- the SQLite store: the index saved beside the file ---------------------------------
@pytest.fixture
def small_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph from 1,000 rows and an index file from 100 (50,000 and 5,000 in production)."""
    monkeypatch.setenv("REMEM_ANN_THRESHOLD", "1000")
    monkeypatch.setattr(index_file, "SAVE_FROM", 100)


def _filled(path: Path, n: int = 1_500) -> tuple[SQLiteStore, np.ndarray]:
    store = SQLiteStore(path)
    store.bind_embedder("test-16d", DIM)
    vectors = _vectors(n)
    with store.transaction():
        store.insert_memories(
            [
                (record(f"m{i}", f"memory number {i}", SCOPE, valid_from=T0 + timedelta(i)), v)
                for i, v in enumerate(vectors)
            ]
        )
    return store, vectors


def _search(store: SQLiteStore, query: np.ndarray, **kw: object) -> list[str]:
    return ids(store.vector_search(query, MemoryFilter(scope=SCOPE, **kw), 10))  # type: ignore[arg-type]


@pytest.mark.usefixtures("small_store")
def test_a_new_process_reads_the_saved_index_graph_included(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store, vectors = _filled(path)
    query = vectors[7]
    first = _search(store, query)
    assert first[0] == "m7" and store._index is not None and store._index.graphs_built == 1
    assert index_file.path_for(path).exists()  # saved right after the graph was built
    with store.transaction():
        store.forget("m3", "t")
        store.insert_memories([(record("late", "written after the save", SCOPE), query)])
    store.close()  # saves again: one more row, one fewer
    reopened = SQLiteStore(path)
    reopened.bind_embedder("test-16d", DIM)
    found = _search(reopened, query)
    index = reopened._index
    assert index is not None and index.graphs_built == 0  # loaded, not rebuilt
    assert index.parts[PART].ann is not None and set(found[:2]) == {"m7", "late"}
    assert found[2:] == [m for m in first if m not in ("m7", "m3")][:8]
    assert "m3" not in _search(reopened, vectors[3])
    late = np.arange(1_000, 1_500)  # a window of 500 rows: scored exactly
    best = late[np.argsort(-(vectors[late] @ query), kind="stable")][:10]
    windowed = _search(reopened, query, event_after=T0 + timedelta(days=1_000))
    assert windowed == [f"m{i}" for i in best]
    graph = index.parts[PART].ann
    assert graph is not None and graph.page_in is not None and graph.page_in.wait(timeout=30)
    folder = index_file.path_for(path)  # the graph, then the columns searches read at random
    columns = [folder / f"{name}.npy" for name in ("matrix", "positions", "tfs")]
    assert graph.page_in.read == [folder / "graph0.faiss", *columns]
    reopened.close()
    assert graph.page_in is None and not _page_in_threads()


@pytest.mark.usefixtures("small_store")
def test_the_saved_index_follows_writes_of_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store, vectors = _filled(path)
    _search(store, vectors[0])
    store.close()
    other = SQLiteStore(path)  # another process: forgets and adds without searching
    other.bind_embedder("test-16d", DIM)
    with other.transaction():
        other.forget("m0", "t")
        other.insert_memories([(record("new", "added elsewhere", SCOPE), vectors[0])])
    other.close()
    reopened = SQLiteStore(path)
    reopened.bind_embedder("test-16d", DIM)
    found = _search(reopened, vectors[0])
    assert found[0] == "new" and "m0" not in found
    assert reopened._index is not None and reopened._index.graphs_built == 0
    reopened.close()


@pytest.mark.usefixtures("small_store")
def test_an_index_file_of_another_database_is_ignored(tmp_path: Path) -> None:
    first, vectors = _filled(tmp_path / "a.db")
    _search(first, vectors[0])
    first.close()
    second = SQLiteStore(tmp_path / "b.db")
    second.bind_embedder("test-16d", DIM)
    with second.transaction():
        second.insert_memories(
            [(record(f"b{i}", f"other {i}", SCOPE), v) for i, v in enumerate(_vectors(1_500, 3))]
        )
    shutil.copytree(index_file.path_for(tmp_path / "a.db"), index_file.path_for(tmp_path / "b.db"))
    found = _search(second, vectors[0])
    assert found and all(m.startswith("b") for m in found)
    assert second._index is not None and second._index.graphs_built == 1  # built from SQL
    second.close()
    shutil.rmtree(index_file.path_for(tmp_path / "b.db"))
    index_file.path_for(tmp_path / "b.db").write_bytes(b"not an index")
    for built in (1, 0):  # the broken file is ignored, then replaced when the store closes
        third = SQLiteStore(tmp_path / "b.db")
        third.bind_embedder("test-16d", DIM)
        assert _search(third, vectors[0]) == found
        assert third._index is not None and third._index.graphs_built == built
        third.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.db",
        "a.db.index",
        "b.db",
        "b.db.index",
    ]


@pytest.mark.usefixtures("small_store")
def test_a_reembedded_store_searches_a_graph_of_the_new_vectors(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store, vectors = _filled(path)
    _search(store, vectors[0])  # a graph of the old vectors, saved
    rotated = _vectors(1_500, seed=11)  # the "new model": unrelated vectors of another size
    rotated = np.concatenate([rotated, rotated[:, :4]], axis=1)
    rotated /= np.linalg.norm(rotated, axis=1, keepdims=True)
    store.begin_reembed("test-20d", DIM + 4)
    by_text = {f"memory number {i}": v for i, v in enumerate(rotated)}
    assert store.switch_embedder(lambda texts: np.stack([by_text[t] for t in texts])) == 1_500
    assert ids(store.vector_search(rotated[42], MemoryFilter(scope=SCOPE), 1)) == ["m42"]
    assert store._index is not None and store._index.graphs_built == 1
    store.close()
    reopened = SQLiteStore(path)
    reopened.bind_embedder("test-20d", DIM + 4)
    assert ids(reopened.vector_search(rotated[7], MemoryFilter(scope=SCOPE), 1)) == ["m7"]
    assert reopened._index is not None and reopened._index.graphs_built == 0
    reopened.close()


@pytest.mark.usefixtures("small_store", "small_exact_cut")
def test_sql_filters_hold_past_the_threshold(tmp_path: Path) -> None:
    """Kinds, trust and quarantine are checked in SQL: when they reject most of the graph's
    candidates, the rows they admit are ranked instead (exactly, or inside the graph)."""
    store = SQLiteStore(tmp_path / "m.db")
    store.bind_embedder("test-16d", DIM)
    vectors = _vectors(1_500)
    rows = []
    for i, v in enumerate(vectors):
        kind = "fact" if i % 5 == 0 else "episode"
        status = "quarantined" if i % 7 == 0 else "active"
        rows.append((record(f"m{i}", f"memory {i}", SCOPE, kind=kind, status=status), v))
    with store.transaction():
        store.insert_memories(rows)
    for query in _vectors(10, seed=4):
        for kinds, admitted in (
            (("fact",), [i for i in range(1_500) if i % 5 == 0 and i % 7]),
            (None, [i for i in range(1_500) if i % 7]),
        ):
            allowed = np.array(admitted)
            best = allowed[np.argsort(-(vectors[allowed] @ query), kind="stable")][:10]
            found = _search(store, query, kinds=kinds)
            assert len(set(found) & {f"m{i}" for i in best}) >= 9
            assert all(int(m[1:]) in set(admitted) for m in found)  # never a row SQL refuses
    store.close()
