"""Partitions of the SQLite search index: read from SQL when first searched, kept least
recently used first within a memory budget, read again when searched after being dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conformance import ids, record

from remem.model import Scope
from remem.stores import MemoryFilter, row_index
from remem.stores.row_index import RowIndex
from remem.stores.sqlite import SQLiteStore

DIM = 16
USERS = 30
EACH = 20


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.normal(size=(n, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _scope(user: int) -> Scope:
    return Scope(tenant="t", user_id=f"u{user}")


def _best(store: SQLiteStore, user: int, query: np.ndarray, k: int = 3) -> list[str]:
    return ids(store.vector_search(query, MemoryFilter(scope=_scope(user)), k))


def test_least_recently_used_partitions_go_first() -> None:
    index = RowIndex(DIM, budget=3 * 4_000)
    rng = np.random.default_rng(0)
    for user in range(5):
        key = ("t", f"u{user}")
        index.create(key)
        index.add(key, range(user * 50 + 1, user * 50 + 51), list(_unit(rng, 50)), [0.0] * 50,
                  [False] * 50)  # fmt: skip
        index.use([key])
    part_bytes = index.parts[("t", "u4")].nbytes
    assert 2 * part_bytes < index.budget  # room for two at least, not for five
    assert index.evictions >= 2 and not index.loaded(("t", "u0"))
    assert index.loaded(("t", "u4")) and index.loaded(("t", "u3"))
    index.use([("t", "u3")])
    index.create(("t", "u9"))
    index.add(("t", "u9"), range(900, 950), list(_unit(rng, 50)), [0.0] * 50, [False] * 50)
    index.use([("t", "u9")])  # u4 is now the least recently used: it goes, u3 stays
    assert index.loaded(("t", "u3")) and not index.loaded(("t", "u4"))
    index.add(("t", "u4"), [999], [_unit(rng, 1)[0]], [0.0], [False], create=False)
    assert not index.loaded(("t", "u4")) and index.max_key == 999  # read from SQL later


@pytest.fixture
def many_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[SQLiteStore, np.ndarray]:
    monkeypatch.setattr(row_index, "index_budget", lambda: 5 * EACH * (DIM * 4 + 40))
    store = SQLiteStore(tmp_path / "m.db")
    store.bind_embedder("test-16d", DIM)
    vectors = _unit(np.random.default_rng(1), USERS * EACH).reshape(USERS, EACH, DIM)
    with store.transaction():
        store.insert_memories(
            [
                (record(f"u{u}m{i}", f"user {u} memory {i}", _scope(u)), vectors[u, i])
                for u in range(USERS)
                for i in range(EACH)
            ]
        )
    return store, vectors


def test_many_users_are_searched_right_within_the_budget(
    many_users: tuple[SQLiteStore, np.ndarray],
) -> None:
    store, vectors = many_users
    for rounds in range(2):  # the second round reads every partition again from SQL
        for user in range(USERS):
            query = vectors[user, (user + rounds) % EACH]
            assert _best(store, user, query)[0] == f"u{user}m{(user + rounds) % EACH}"
    index = store._index
    assert index is not None and index.evictions >= USERS
    assert len(index.parts) <= 8  # about five partitions fit the budget
    with store.transaction():  # writes to a dropped partition: read with it next time
        store.insert_memories([(record("late", "late", _scope(0)), vectors[0, 5])])
        store.forget("u0m5", "t")
    assert not index.loaded(("t", "u0"))
    assert _best(store, 0, vectors[0, 5])[0] == "late"
    assert "u0m5" not in _best(store, 0, vectors[0, 5], k=EACH + 1)
    everyone = ids(store.vector_search(vectors[7, 3], MemoryFilter(scope=Scope(tenant="t")), 1))
    assert everyone == ["u7m3"]  # a tenant-wide search reads every partition of the tenant
    store.close()


def test_a_search_inside_a_write_leaves_no_row_twice(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.db")
    store.bind_embedder("test-16d", DIM)
    vectors = _unit(np.random.default_rng(2), 4)
    with store.transaction():
        store.insert_memories([(record("a", "a", _scope(0)), vectors[0])])
        store.insert_memories([(record("b", "b", _scope(0)), vectors[1])])
        assert _best(store, 0, vectors[0], k=5) == []  # not committed: not in the index yet
    with store.transaction():
        store.insert_memories([(record("c", "c", _scope(0)), vectors[2])])
        assert set(_best(store, 0, vectors[0], k=5)) == {"a", "b"}
    assert sorted(_best(store, 0, vectors[0], k=5)) == ["a", "b", "c"]
    store.close()
