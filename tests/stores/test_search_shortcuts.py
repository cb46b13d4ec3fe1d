"""Shortcuts of the SQLite search path that must not change what a search returns.

Exact scores read in place over a span (or on one core) equal the BLAS ones but for the
last bit; records a search built are reused only while nothing was written, by this
connection or by another.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from conformance import record

from remem.model import Scope
from remem.stores import MemoryFilter, exact
from remem.stores.exact import SPAN_FROM
from remem.stores.records import LifecycleChange
from remem.stores.row_index import Part
from remem.stores.sqlite import SQLiteStore

DIM = 32
SCOPE = Scope(tenant="t", user_id="u")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _part(n: int) -> Part:
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(n, DIM)).astype(np.float32)
    part = Part(DIM)
    part.append(
        np.arange(n, dtype=np.int64),
        rows / np.linalg.norm(rows, axis=1, keepdims=True),
        np.ones(n, dtype=np.bool_),
        np.arange(n, dtype=np.float64),
        np.zeros(n, dtype=np.bool_),
    )
    return part


def test_scores_over_a_span_are_the_exact_ones() -> None:
    part = _part(6_000)
    query = part.matrix.view[17].copy()
    whole = part.matrix.view @ query
    close = np.flatnonzero(np.arange(6_000) % 3 != 0)[100:4_000]  # increasing, 2 in 3 rows
    sparse = np.arange(0, 6_000, 5)  # increasing but spread: gathered
    shuffled = np.random.default_rng(0).permutation(close)  # not increasing: gathered
    assert len(close) >= SPAN_FROM
    # runs far apart (a window over stores of copies, turns imported later) and scattered rows
    runs = np.concatenate([np.arange(200, 700), np.arange(2_000, 2_900), sparse[:40]])
    runs = np.unique(runs)
    assert len(exact._runs(runs)) == 2
    for rows in (close, sparse, shuffled, close[:10], runs):
        # BLAS blocks a product by its row count: the last bit may differ, never more
        np.testing.assert_allclose(part.scores_at(rows, query), whole[rows], rtol=0, atol=1e-6)
    # numpy's loop sums each row alone: read in place or copied out, the same bits
    copied = np.einsum("ij,j->i", part.matrix.view[runs], query)
    assert part.scores_at(runs, query).tobytes() == copied.tobytes()


def _store(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    store.bind_embedder("test-32d", DIM)
    return store


def test_records_are_reused_between_searches_only_until_a_write(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = _store(path)
    vectors = _part(20).matrix.view
    with store.transaction():
        store.insert_memories(
            [
                (record(f"m{i}", f"memory number {i}", SCOPE, valid_from=T0 + timedelta(i)), v)
                for i, v in enumerate(vectors)
            ]
        )
    flt = MemoryFilter(scope=SCOPE)
    first = store.vector_search(vectors[4], flt, 5)
    again = store.text_search(["memory", "4"], flt, 5)
    shared = {m.id: m for m, _ in first}
    assert any(shared.get(m.id) is m for m, _ in again)  # built once, read twice
    top = first[0][0]
    assert top.id == "m4" and top.access_count == 0

    with store.transaction():  # a write through this connection
        change = LifecycleChange("m4", 1, "long", 2.0, False, "active", recalled_at=T0)
        store.set_lifecycle("t", [change])
    after = store.vector_search(vectors[4], flt, 5)[0][0]
    assert after.id == "m4" and after.access_count == 1 and after.layer == "long"

    other = _store(path)  # another connection (another process) writes
    with other.transaction():
        other.set_status("m4", 1, "archived", "t")
    other.close()
    assert "m4" not in [m.id for m, _ in store.vector_search(vectors[4], flt, 5)]
    archived = MemoryFilter(scope=SCOPE, statuses=("active", "archived"))
    found = store.vector_search(vectors[4], archived, 5)[0][0]
    assert found.id == "m4" and found.status == "archived"
    store.close()
