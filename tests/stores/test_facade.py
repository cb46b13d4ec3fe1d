"""Conformance through the ``Memory`` facade: what users see is the same on every backend."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from conformance import (
    CONVERSATION,
    export_lines,
)

from remem import InvalidInput, Memory, NotFound

if TYPE_CHECKING:
    from conftest import Backend


@pytest.fixture
def ana(backend: Backend) -> Memory:
    memory = backend.memory()
    memory.add(CONVERSATION, user_id="ana", session_id="s1")
    return memory


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("which pet does the user have?", "golden retriever"),
        ("what city is her home now", "Lisbon"),
        ("which relative works as a heart doctor", "cardiologist"),
    ],
)
def test_facade_search_finds_paraphrases(ana: Memory, query: str, expected: str) -> None:
    # the dense recipe: this is about the store's vector search, not the hybrid policy's priors
    results = ana.search(query, user_id="ana", limit=2, recipe="dense")
    assert expected in results[0].text
    assert "dense" in results[0].signals


def test_facade_add_list_and_context(ana: Memory) -> None:
    page = ana.list(user_id="ana", limit=10)
    assert page.total == 5
    assert page.items[-1].text == "Ana: I moved to Lisbon last March."
    first = page.items[-1]
    assert first.valid_from == datetime(2026, 5, 2, 10, 0, tzinfo=UTC)
    hit = ana.search("Lisbon", user_id="ana", limit=1, context_window=1)[0]
    assert hit.signals["bm25"].rank == 1 and hit.signals["dense"].rank == 1
    assert hit.episode is not None and hit.episode.content == "I moved to Lisbon last March."
    assert [e.seq for e in hit.context] == [0, 1]
    assert (
        ana.add("And I started learning Portuguese.", user_id="ana", session_id="s1")
        .episodes[0]
        .seq
        == 5
    )
    assert [e.seq for e in ana.surrounding(first.id, window=1)] == [0, 1]


def test_facade_pagination(backend: Backend) -> None:
    memory = backend.memory()
    memory.add([{"role": "user", "content": f"note number {i}"} for i in range(7)], user_id="u")
    first = memory.list(user_id="u", limit=3)
    second = memory.list(user_id="u", limit=3, offset=first.next_offset or 0)
    last = memory.list(user_id="u", limit=3, offset=second.next_offset or 0)
    seen = [m.text for page in (first, second, last) for m in page.items]
    assert seen == [f"note number {i}" for i in reversed(range(7))]
    assert last.next_offset is None and first.total == 7


def test_facade_filters_kind_metadata_and_event_time(ana: Memory) -> None:
    ana.add("Ana prefers window seats.", user_id="ana", kind="fact",
            metadata={"topic": "travel", "priority": 2}, timestamp="2026-06-01T00:00:00Z")  # fmt: skip
    assert [h.memory.kind for h in ana.search("seat preference", user_id="ana", kinds="fact")] == [
        "fact"
    ]
    assert len(ana.search("seat", user_id="ana", metadata={"topic": "travel"})) == 1
    assert len(ana.search("seat", user_id="ana", metadata={"priority": 2.0})) == 1
    assert len(ana.search("Ana", user_id="ana", metadata={"speaker": "Ana"}, limit=10)) == 3
    june = ana.search("Ana", user_id="ana", after="2026-05-15", limit=10)
    assert [h.memory.text for h in june] == ["Ana prefers window seats."]
    may = ana.search("Ana", user_id="ana", before="2026-05-15", limit=10)
    assert "Ana prefers window seats." not in [h.text for h in may]
    assert ana.list(user_id="ana", metadata={"topic": "travel"}).total == 1


def test_facade_versions_history_and_as_of(ana: Memory) -> None:
    original = ana.search("Lisbon", user_id="ana", limit=1)[0].memory
    before_update = datetime.now(UTC)
    new = ana.update(original.id, "Ana: I moved to Porto in June.", reason="moved again")
    assert (new.id, new.version) == (original.id, 2)
    assert ana.get(original.id).text == "Ana: I moved to Porto in June."
    old = ana.get(original.id, version=1)
    assert old.status == "superseded" and old.expired_at is not None
    assert ana.get(original.id, as_of=before_update).version == 1
    assert all(
        h.memory.version == 2 for h in ana.search("Lisbon", user_id="ana") if h.id == original.id
    )
    then = ana.search("Lisbon", user_id="ana", limit=1, as_of=before_update)
    assert then[0].id == original.id and then[0].memory.version == 1
    assert [(e.op, e.version, e.reason) for e in ana.history(original.id)] == [
        ("add", 1, None),
        ("update", 2, "moved again"),
    ]
    assert [v.version for v in ana.versions(original.id)] == [1, 2]
    patched = ana.update(original.id, metadata={"speaker": None, "city": "Porto"})
    assert patched.metadata == {"role": "user", "city": "Porto"}


def test_facade_soft_delete_then_forget(ana: Memory, backend: Backend) -> None:
    target = ana.search("golden retriever", user_id="ana", limit=1)[0].memory
    ana.delete(target.id, reason="user asked")
    assert target.id not in [h.id for h in ana.search("golden retriever puppy", user_id="ana")]
    with pytest.raises(NotFound):
        ana.update(target.id, "again")
    assert [e.op for e in ana.history(target.id)] == ["add", "delete"]
    assert ana.get(target.id, as_of=target.recorded_at).status == "active"
    assert backend.rows_mentioning("golden retriever")  # soft: still stored

    ana.forget(target.id)
    with pytest.raises(NotFound):
        ana.get(target.id)
    assert [e.op for e in ana.store.events("default", target.id)] == ["forget"]
    assert ana.history(target.id)[0].payload == {}
    assert backend.rows_mentioning("golden retriever") == {}
    assert backend.rows_mentioning("puppy") == {}
    assert ana.search("dog puppy", user_id="ana", limit=10).hits  # the rest is intact
    assert ana.stats(user_id="ana")["episodes"] == 4


def test_facade_scope_and_tenant_isolation(ana: Memory, backend: Backend) -> None:
    ana.add("I live in Berlin with my cat.", user_id="bob")
    assert all(
        h.memory.scope.user_id == "ana" for h in ana.search("where do I live", user_id="ana")
    )
    assert [h.memory.scope.user_id for h in ana.search("Berlin cat", user_id="bob")] == ["bob"]
    target = ana.list(user_id="ana", limit=1).items[0]
    before = export_lines(ana)
    for call in (
        lambda: ana.get(target.id, user_id="bob"),
        lambda: ana.update(target.id, "hijacked", user_id="bob"),
        lambda: ana.delete(target.id, user_id="bob"),
        lambda: ana.forget(target.id, user_id="bob"),
        lambda: ana.history(target.id, user_id="bob"),
    ):
        with pytest.raises(NotFound):
            call()
    acme = backend.memory(tenant="acme")
    with pytest.raises(NotFound):
        acme.get(target.id)
    with pytest.raises(NotFound):
        acme.forget(target.id)
    assert acme.list().total == 0 and not acme.search("Lisbon").hits
    acme.add("Acme keeps its own notes about Lisbon.", user_id="ana")
    assert [h.text for h in acme.search("Lisbon", user_id="ana")] == [
        "Acme keeps its own notes about Lisbon."
    ]
    assert export_lines(ana) == before
    # (searching counts recalls, a change of ana's own records: after the comparison)
    assert all(h.memory.scope.tenant == "default" for h in ana.search("Lisbon", user_id="ana"))
    assert acme.stats()["memories"] == {"episode": {"active": 1}}


def test_facade_concurrent_writers_serialise(backend: Backend) -> None:
    """Two servers updating one memory and adding to one session: no lost update, no seq clash."""
    first, second = backend.memory(), backend.memory()
    target = first.add("counter at 0", user_id="u", session_id="s").memories[0]
    errors: list[BaseException] = []

    def work(memory: Memory, name: str) -> None:
        try:
            for i in range(4):
                memory.update(target.id, f"{name} update {i}")
                memory.add(f"{name} says {i}", user_id="u", session_id="s")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(m, n)) for m, n in ((first, "a"), (second, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = first.versions(target.id)
    assert [v.version for v in versions] == list(range(1, 10))
    assert [v.expired_at is None for v in versions] == [False] * 8 + [True]
    seqs = sorted(e.seq for e in first.store.neighbours(first.store.get_episodes(
        [target.provenance[0]], "default")[0], 100))  # fmt: skip
    assert seqs == list(range(9))


def test_facade_export_import_round_trip(
    ana: Memory, new_backend: Callable[[str], Backend], backend: Backend
) -> None:
    target = ana.search("Lisbon", user_id="ana", limit=1)[0].memory
    ana.update(target.id, "Ana: I moved to Porto.", reason="moved")
    ana.delete(ana.search("sister", user_id="ana", limit=1)[0].id)
    out = io.StringIO()
    counts = ana.export(out)
    assert counts == {"episode": 5, "memory": 6, "event": 7, "entity": 5, "entity_link": 6}
    copy = new_backend(backend.name).memory(track_recalls=False)  # its searches change nothing
    assert copy.import_(io.StringIO(out.getvalue())) == counts
    assert export_lines(copy) == export_lines(ana)
    assert copy.search("Porto", user_id="ana", limit=1)[0].id == target.id
    with pytest.raises(InvalidInput, match="collides"):
        copy.import_(io.StringIO(out.getvalue()))
    assert export_lines(copy) == export_lines(ana)
