"""Answers kept per request key, on every backend: kept once, with the caller's transaction,
per tenant, and dropped by age. Two writers keeping one key: exactly one wins."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from remem.errors import StoreError

if TYPE_CHECKING:
    from conftest import Backend

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ANSWER = {"episodes": ["ep_1"], "memories": ["mem_1"], "extraction": None}


def test_an_answer_is_kept_once_per_tenant_and_key(backend: Backend) -> None:
    store = backend.store()
    assert store.kept_answer("t1", "k") is None
    with store.transaction():
        assert store.keep_answer("t1", "k", "f1", ANSWER, T0)
        assert not store.keep_answer("t1", "k", "f2", {"other": True}, T0)
    kept = store.kept_answer("t1", "k")
    assert kept is not None and (kept.fingerprint, kept.answer) == ("f1", ANSWER)
    assert kept.created_at == T0
    assert store.kept_answer("t2", "k") is None  # keys are per tenant
    with store.transaction():
        assert store.keep_answer("t2", "k", "f3", {}, T0)
        store.replace_answer("t1", "k", {**ANSWER, "extraction": {"status": "done"}})
    assert store.kept_answer("t1", "k").answer["extraction"] == {"status": "done"}  # type: ignore[union-attr]
    assert store.kept_answer("t2", "k").fingerprint == "f3"  # type: ignore[union-attr]


def test_an_answer_is_kept_only_if_its_transaction_commits(backend: Backend) -> None:
    store = backend.store()
    with pytest.raises(RuntimeError), store.transaction():
        store.keep_answer("t1", "k", "f1", ANSWER, T0)
        raise RuntimeError("the add failed after the answer was written")
    assert store.kept_answer("t1", "k") is None
    with pytest.raises(StoreError, match="transaction"):
        store.keep_answer("t1", "k", "f1", ANSWER, T0)


def test_old_answers_are_dropped_for_every_tenant(backend: Backend) -> None:
    store = backend.store()
    with store.transaction():
        for n, tenant in enumerate(("t1", "t2", "t1")):
            store.keep_answer(tenant, f"k{n}", "f", ANSWER, T0 + timedelta(hours=n))
    assert store.drop_answers(T0 + timedelta(hours=1, minutes=30)) == 2
    assert [store.kept_answer(t, k) is None for t, k in (("t1", "k0"), ("t2", "k1"))] == [
        True,
        True,
    ]
    assert store.kept_answer("t1", "k2") is not None


def test_two_writers_keeping_one_key_at_once_one_wins(backend: Backend) -> None:
    stores = [backend.store(), backend.store()]  # two connections, as two servers have
    inside, results = threading.Barrier(2), []

    def keep(n: int) -> None:
        store = stores[n]
        with store.transaction():
            inside.wait(timeout=30)
            results.append(store.keep_answer("t1", "k", f"f{n}", {"writer": n}, T0))

    # SQLite lets one writer in at a time: the barrier would wait forever for the second.
    if backend.name == "sqlite":
        inside = threading.Barrier(1)
    threads = [threading.Thread(target=keep, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False, True]
    kept = stores[0].kept_answer("t1", "k")
    assert kept is not None and kept.answer == {"writer": int(kept.fingerprint[1])}
