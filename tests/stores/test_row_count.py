"""SQLite's memories row count in ``meta`` (m012): kept by triggers through every write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conformance import record

from remem.model import Scope
from remem.stores import MemoryFilter, index_file
from remem.stores.sqlite import SQLiteStore
from remem.stores.sqlite.schema import migrate

SCOPE = Scope(tenant="t", user_id="u")
VECTORS = np.eye(16, dtype=np.float32)


def _counts(path: Path) -> tuple[int, int]:
    """(the row kept in ``meta``, ``count(*)``)."""
    db = sqlite3.connect(path)
    try:
        (kept,) = db.execute("SELECT value FROM meta WHERE key = 'memory_rows'").fetchone()
        (counted,) = db.execute("SELECT count(*) FROM memories").fetchone()
    finally:
        db.close()
    return int(kept), counted


def _store(path: Path, rows: int = 0) -> SQLiteStore:
    store = SQLiteStore(path)
    store.bind_embedder("test-16d", 16)
    if rows:
        with store.transaction():
            store.insert_memories(
                [(record(f"m{i}", f"memory {i}", SCOPE), VECTORS[i]) for i in range(rows)]
            )
    return store


def test_the_kept_count_follows_adds_forgets_and_rollbacks(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = _store(path, 5)
    assert _counts(path) == (5, 5)
    with store.transaction():
        assert store.forget("m0", "t") == 1
    assert _counts(path) == (4, 4)
    with pytest.raises(RuntimeError), store.transaction():
        store.forget("m1", "t")
        store.insert_memories([(record("m9", "rolled back", SCOPE), VECTORS[9])])
        raise RuntimeError("rolled back")
    assert _counts(path) == (4, 4)
    with store.transaction():
        store.insert_memories([(record("m9", "kept", SCOPE), VECTORS[9])])
    assert _counts(path) == (5, 5)
    store.close()


def test_a_file_from_before_the_count_starts_from_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    _store(path, 3).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TRIGGER memories_counted_in")
    db.execute("DROP TRIGGER memories_counted_out")
    db.execute("DELETE FROM meta WHERE key = 'memory_rows'")
    db.execute("DELETE FROM schema_migrations WHERE version = 12")
    db.execute("DELETE FROM memories WHERE rk = (SELECT max(rk) FROM memories)")
    migrate(db, str(path))  # step 12 on a file of step 11
    db.close()
    assert _counts(path) == (2, 2)


def test_a_saved_index_drops_rows_another_process_forgot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check at load reads the kept count: a row forgotten elsewhere leaves the index."""
    monkeypatch.setattr(index_file, "SAVE_FROM", 10)
    path = tmp_path / "m.db"
    store = _store(path, 16)
    flt = MemoryFilter(scope=SCOPE)
    assert store.vector_search(VECTORS[3], flt, 1)[0][0].id == "m3"
    store.close()  # saves the index beside the file
    other = _store(path)
    with other.transaction():
        other.forget("m3", "t")
    other.close()  # it never searched: the saved index still holds m3
    reopened = _store(path)
    reopened.vector_search(VECTORS[3], flt, 1)
    index = reopened._index
    assert index is not None and index.graphs_built == 0
    assert len(index) == 15  # loaded, then the forgotten row removed
    reopened.close()
