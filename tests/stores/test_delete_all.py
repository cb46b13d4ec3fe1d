"""``Memory.delete_all``: a bulk delete stays inside its tenant and the scope it names."""

from __future__ import annotations

import pytest

from remem import Memory, ScopeError
from tests.stores.conftest import Backend


def _seed(memory: Memory) -> None:
    memory.add("Ana likes green tea", user_id="ana", session_id="s1")
    memory.add("Ana plays the cello", user_id="ana", session_id="s2")
    memory.add("Bo likes black coffee", user_id="bo", session_id="s1")


def test_delete_all_reaches_only_the_named_user_of_its_tenant(backend: Backend) -> None:
    acme, other = backend.memory(tenant="acme"), backend.memory(tenant="other")
    _seed(acme)
    _seed(other)
    assert acme.delete_all(user_id="ana", reason="user asked") == 2
    assert acme.list(user_id="ana").total == 0
    assert acme.list(user_id="bo").total == 1
    assert other.list(user_id="ana").total == 2
    assert not acme.search("tea", user_id="ana").hits
    gone = acme.list(user_id="bo").items[0]
    assert acme.history(gone.id)[-1].op == "add"
    assert acme.delete_all(user_id="ana") == 0


def test_delete_all_narrows_to_a_session(backend: Backend) -> None:
    memory = backend.memory(tenant="acme")
    _seed(memory)
    assert memory.delete_all(user_id="ana", session_id="s1") == 1
    assert [m.text for m in memory.list(user_id="ana").items] == ["Ana plays the cello"]
    assert memory.list(user_id="bo").total == 1


def test_delete_all_keeps_history_of_each_memory(backend: Backend) -> None:
    memory = backend.memory(tenant="acme")
    _seed(memory)
    ids = [m.id for m in memory.list(user_id="ana").items]
    memory.delete_all(user_id="ana", reason="cleanup")
    for memory_id in ids:
        last = memory.history(memory_id)[-1]
        assert (last.op, last.reason) == ("delete", "cleanup")


def test_delete_all_refuses_without_a_scope(backend: Backend) -> None:
    memory = backend.memory(tenant="acme")
    _seed(memory)
    with pytest.raises(ScopeError, match="explicit scope"):
        memory.delete_all()
    assert memory.list().total == 3
