"""Conformance, re-embedding: new vectors staged beside the current ones, search on the old
ones until the switch, the switch in one transaction, a re-run resuming."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pytest
from conformance import CONVERSATION, DIM, T0, U, bound, flt, ids, record, vec, write

from remem.errors import InvalidInput, StoreError
from remem.model import Entity
from remem.providers import OnnxEmbedder
from remem.providers.local_embedder import model_files
from remem.stores import Store, Unembedded

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Backend

#: The new model: 4-d, one direction per text, so a search shows which vectors it reads.
NEW = {
    "alpha": (1, 0, 0, 0),
    "beta": (0, 1, 0, 0),
    "gamma": (0, 0, 1, 0),
    "delta": (0, 0, 0, 1),
    "Ana Silva": (1, 1, 0, 0),
    "Ana": (1, 0, 1, 0),
}


def new_vectors(texts: Sequence[str]) -> np.ndarray:
    rows = np.array([NEW[t] for t in texts], dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def person(name: str) -> Entity:
    return Entity(id="ent_ana", scope=U.model_copy(update={"session_id": None}), name=name,
                  type="person", created_at=T0, updated_at=T0)  # fmt: skip


def filled(backend: Backend) -> Store:
    """Three memories with vectors, one without; an entity with a name vector, one without."""
    store = bound(backend)
    write(
        store,
        (record("m1", "alpha"), vec(1)),
        (record("m2", "beta"), vec(0, 1)),
        (record("m3", "gamma"), vec(0, 0, 1)),
        (record("m4", "no vector"), None),
    )
    nameless = person("Rita").model_copy(update={"id": "ent_rita"})
    with store.transaction():
        store.save_entities([(person("Ana Silva"), vec(1, 1), ["ana"]), (nameless, None, [])])
    return store


def stage(store: Store, rows: Sequence[Unembedded]) -> None:
    with store.transaction():
        store.stage_vectors(list(zip(rows, new_vectors([r.text for r in rows]), strict=True)))


def test_new_vectors_wait_beside_the_old_until_the_switch(backend: Backend) -> None:
    store = filled(backend)
    state = store.reembedding()
    assert (state.current, state.target, state.staged, state.total) == (
        ("test-8d", DIM),
        None,
        0,
        4,
    )
    store.begin_reembed("test-4d", 4)
    first = store.unstaged(2)
    assert [(r.table, r.text) for r in first] == [("memories", "alpha"), ("memories", "beta")]
    rest = store.unstaged(10, after=first[-1])
    assert [(r.table, r.text) for r in rest] == [("memories", "gamma"), ("entities", "Ana Silva")]
    assert store.unstaged(10, after=rest[-1]) == []
    stage(store, first)
    assert store.reembedding().staged == 2 and store.unstaged(10) == rest
    # Search still reads the current (8-d) vectors, in this process and in another.
    assert ids(store.vector_search(vec(0, 1), flt(), 1)) == ["m2"]
    assert ids(backend.store().vector_search(vec(0, 1), flt(), 1)) == ["m2"]
    with pytest.raises(StoreError, match="holds vectors of embedder 'test-8d'"):
        store.bind_embedder("test-4d", 4)

    # Written during the re-embedding, with the old model: the switch embeds it itself.
    write(store, (record("m5", "delta"), vec(0, 0, 0, 1)))
    embedded: list[str] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        embedded.extend(texts)
        return new_vectors(texts)

    assert store.switch_embedder(embed) == 3
    assert sorted(embedded) == ["Ana Silva", "delta", "gamma"]
    state = store.reembedding()
    assert (state.current, state.target, state.staged, state.total) == (("test-4d", 4), None, 0, 5)
    for reader in (store, backend.store()):
        assert ids(reader.vector_search(new_vectors(["beta"])[0], flt(), 1)) == ["m2"]
        assert ids(reader.vector_search(new_vectors(["delta"])[0], flt(), 1)) == ["m5"]
        assert "m4" not in ids(reader.vector_search(new_vectors(["alpha"])[0], flt(), 10))
        vectors = dict((e.id, v) for e, v in reader.get_entities("t1", "u1"))
        np.testing.assert_allclose(vectors["ent_ana"], new_vectors(["Ana Silva"])[0])
        assert vectors["ent_rita"] is None
    with pytest.raises(StoreError, match="holds vectors of embedder 'test-4d'"):
        backend.store().bind_embedder("test-8d", DIM)
    backend.store().bind_embedder("test-4d", 4)
    with pytest.raises(StoreError, match="no re-embedding in progress"):
        store.switch_embedder(embed)


def test_a_rerun_for_the_same_model_keeps_what_was_staged_another_model_drops_it(
    backend: Backend,
) -> None:
    store = filled(backend)
    store.begin_reembed("test-4d", 4)
    stage(store, store.unstaged(2))
    backend.store().begin_reembed("test-4d", 4)  # resumed, e.g. after a crash
    assert store.reembedding().staged == 2
    assert [r.text for r in store.unstaged(10)] == ["gamma", "Ana Silva"]
    store.begin_reembed("other-4d", 4)
    state = store.reembedding()
    assert (state.target, state.staged) == (("other-4d", 4), 0)
    assert len(store.unstaged(10)) == 4


def test_rows_changed_after_staging_are_staged_again_or_dropped(backend: Backend) -> None:
    store = filled(backend)
    store.begin_reembed("test-4d", 4)
    stage(store, store.unstaged(10))
    assert store.unstaged(10) == []
    with store.transaction():  # renamed: the staged vector is of the old name
        store.save_entities([(person("Ana"), vec(1, 0, 1), ["ana"])])
        store.forget("m1", "t1")
    assert [(r.table, r.text) for r in store.unstaged(10)] == [("entities", "Ana")]
    assert store.reembedding().staged == 2
    assert store.switch_embedder(new_vectors) == 1
    vectors = dict((e.id, v) for e, v in store.get_entities("t1", "u1"))
    np.testing.assert_allclose(vectors["ent_ana"], new_vectors(["Ana"])[0])
    assert ids(store.vector_search(new_vectors(["alpha"])[0], flt(), 1)) != ["m1"]


def test_staging_checks_the_target(backend: Backend) -> None:
    store = filled(backend)
    [row] = store.unstaged(1)
    with pytest.raises(StoreError, match="no re-embedding in progress"), store.transaction():
        store.stage_vectors([(row, new_vectors(["alpha"])[0])])
    store.begin_reembed("test-4d", 4)
    with pytest.raises(InvalidInput, match="4-d re-embedding"), store.transaction():
        store.stage_vectors([(row, vec(1))])
    with pytest.raises(StoreError, match=r"inside store\.transaction"):
        store.stage_vectors([(row, new_vectors(["alpha"])[0])])


def test_an_unbound_store_has_nothing_to_reembed(backend: Backend) -> None:
    store = backend.store()
    state = store.reembedding()
    assert (state.current, state.target, state.staged, state.total) == (None, None, 0, 0)
    assert store.unstaged(10) == []


def test_memory_reembed_moves_a_store_of_either_backend(backend: Backend, tmp_path: Path) -> None:
    folder = tmp_path / "minilm-cls"
    folder.mkdir()
    for name, path in zip(("model.onnx", "tokenizer.json"), model_files(), strict=True):
        (folder / name).symlink_to(path)
    (folder / "remem-embedder.json").write_text('{"pooling": "cls", "max_tokens": 256}')
    memory = backend.memory(llm=None, tenant="t1")
    memory.add(CONVERSATION, user_id="ana", session_id="s1")
    backend.memory(llm=None, tenant="t2").add("I sail on weekends.", user_id="bo")
    before = memory.search("Where does Ana live?", user_id="ana").hits[0].id
    result = memory.reembed(folder, batch_size=2)
    assert (result.switched, result.embedded) == (True, 6)  # every tenant
    assert memory.search("Where does Ana live?", user_id="ana").hits[0].id == before
    other = backend.memory(llm=None, tenant="t2", embedder=OnnxEmbedder(folder))
    assert other.search("sailing", user_id="bo").hits[0].text == "I sail on weekends."
