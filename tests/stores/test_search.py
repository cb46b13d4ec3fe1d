"""Conformance, search: BM25 and cosine on each backend, and both backends ranking alike."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pytest
from conformance import (
    CONVERSATION,
    DIM,
    U,
    bound,
    flt,
    ids,
    record,
    vec,
    write,
)

from remem.model import Scope
from remem.stores import MemoryFilter

if TYPE_CHECKING:
    from conftest import Backend


def test_text_search_ranks_matches_and_survives_any_term(backend: Backend) -> None:
    store = bound(backend)
    texts = {
        "cat": "The cat sat on the mat.",
        "dogs": "Dogs and cats are good friends.",
        "capital": "Lisbon is the capital of Portugal.",
        "moved": "I moved to Lisbon in March and I love Lisbon in spring.",
        "quote": "Mr O'Brien said: a|b & (c) !d :* \\e",
    }
    write(store, *[(record(k, t), None) for k, t in texts.items()])
    hits = store.text_search(["lisbon"], flt(), 10)
    assert set(ids(hits)) == {"capital", "moved"}
    assert ids(hits)[0] == "moved"  # two mentions beat one
    assert all(score > 0 for _, score in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert ids(store.text_search(["cats"], flt(), 10))[:2] in (["cat", "dogs"], ["dogs", "cat"])
    assert ids(store.text_search(["portugal", "spring"], flt(), 1)) in (["capital"], ["moved"])
    assert len(store.text_search(["lisbon", "cat", "dogs"], flt(), 2)) == 2
    assert store.text_search([], flt(), 10) == []
    assert store.text_search(["zebra"], flt(), 10) == []
    for nasty in ["o'brien", "a|b", "(c)", "!d", ":*", "\\e", '"quoted"', "&", "'", "NEAR", "AND"]:
        store.text_search([nasty], flt(), 5)  # never a syntax error
    assert "quote" in ids(store.text_search(["o'brien"], flt(), 5))


def test_vector_search_is_cosine_and_ordered(backend: Backend) -> None:
    store = bound(backend)
    directions = {"x": vec(1), "xy": vec(1, 1), "y": vec(0, 1), "z": vec(0, 0, 1), "none": None}
    write(store, *[(record(k, f"vector {k}"), v) for k, v in directions.items()])
    hits = store.vector_search(vec(1, 0.2), flt(), 10)
    assert ids(hits) == ["x", "xy", "y", "z"]  # rows without a vector never come back
    for memory, score in hits:
        expected = float(np.dot(directions[memory.id], vec(1, 0.2)))  # type: ignore[arg-type]
        assert score == pytest.approx(expected, abs=1e-5)
    assert ids(store.vector_search(vec(0, 0, 1), flt(), 1)) == ["z"]
    assert ids(store.vector_search(vec(1), flt(kinds=("episode",)), 3)) == []


def test_vector_search_under_a_selective_filter_is_complete(backend: Backend) -> None:
    store = bound(backend)
    rng = np.random.default_rng(1)
    crowd = [
        (record(f"c{i}", f"crowd {i}"), rng.normal(size=DIM).astype(np.float32)) for i in range(400)
    ]
    few_scope = Scope(tenant="t1", user_id="few")
    few = [
        (record(f"f{i}", f"few {i}", scope=few_scope), rng.normal(size=DIM).astype(np.float32))
        for i in range(6)
    ]
    for start in range(0, len(crowd), 100):
        write(store, *crowd[start : start + 100])
    write(store, *few)
    query = rng.normal(size=DIM).astype(np.float32)
    truth = sorted(few, key=lambda r: -float(np.dot(r[1], query) / np.linalg.norm(r[1])))
    hits = store.vector_search(query, flt(few_scope), 10)
    assert ids(hits) == [m.id for m, _ in truth]
    tagged = store.vector_search(query, flt(Scope(tenant="t1"), ids=("c7", "c300", "f2")), 10)
    assert set(ids(tagged)) == {"c7", "c300", "f2"}  # fmt: skip


@pytest.mark.postgres
def test_both_backends_rank_simple_queries_alike(new_backend: Callable[[str], Backend]) -> None:
    sqlite, pg = new_backend("sqlite").memory(), new_backend("postgres").memory()
    sqlite.add(CONVERSATION, user_id="ana", session_id="s1")
    sqlite.add(
        [
            {"role": "user", "content": "I run along the river every morning before work."},
            {"role": "user", "content": "My favourite food is grilled sardines."},
            {"role": "user", "content": "The dentist appointment is on Friday at nine."},
            {"role": "user", "content": "Rita visits from Porto every other weekend."},
        ],
        user_id="ana",
        session_id="s2",
    )
    out = io.StringIO()
    sqlite.export(out)
    pg.import_(io.StringIO(out.getvalue()))
    queries = [
        "Lisbon",
        "which pet does the user have?",
        "when is the dentist",
        "what does she like to eat",
        "Porto sister",
        "morning exercise",
    ]
    for query in queries:
        a, b = (
            sqlite.search(query, user_id="ana", limit=3),
            pg.search(query, user_id="ana", limit=3),
        )
        assert a[0].id == b[0].id, query
        f = MemoryFilter(scope=Scope(user_id="ana"))
        vector = sqlite.embedder.embed_query(query)
        dense_a = sqlite.store.vector_search(vector, f, 5)
        dense_b = pg.store.vector_search(vector, f, 5)
        assert ids(dense_a) == ids(dense_b), query
        for (_, sa), (_, sb) in zip(dense_a, dense_b, strict=True):
            assert sa == pytest.approx(sb, abs=1e-4)
    for terms in (["lisbon"], ["dentist"], ["porto"], ["sardines", "food"]):
        f = MemoryFilter(scope=Scope(user_id="ana"))
        sa, sb = sqlite.store.text_search(terms, f, 5), pg.store.text_search(terms, f, 5)
        assert set(ids(sa)) == set(ids(sb)) and ids(sa)[0] == ids(sb)[0], terms


@pytest.mark.postgres
def test_postgres_hnsw_path_stays_complete_and_ordered(
    new_backend: Callable[[str], Backend],
) -> None:
    """Force the HNSW plan and starve its graph walk: the exact fallback must still answer fully."""
    from conftest import with_options

    backend = new_backend("postgres")
    bound(backend)
    rng = np.random.default_rng(7)
    writer = backend.store()
    rows = [
        (record(f"c{i}", f"crowd {i}", scope=U if i % 100 else Scope(tenant="t1", user_id="few")),
         rng.normal(size=DIM).astype(np.float32))
        for i in range(600)
    ]  # fmt: skip
    for start in range(0, len(rows), 200):
        write(writer, *rows[start : start + 200])
    backend.raw("ANALYZE memories")
    backend.target = with_options(
        backend.target,
        "enable_seqscan=off",
        "enable_sort=off",
        "hnsw.max_scan_tuples=20",
        "hnsw.iterative_scan=relaxed_order",
        "hnsw.ef_search=100",
    )
    store = backend.store()
    query = rng.normal(size=DIM).astype(np.float32)

    def truth(user: str | None, k: int) -> list[str]:
        chosen = [(m, v) for m, v in rows if user is None or m.scope.user_id == user]
        chosen.sort(key=lambda r: -float(np.dot(r[1], query) / np.linalg.norm(r[1])))
        return [m.id for m, _ in chosen[:k]]

    plan = "\n".join(
        r[0]
        for r in backend.raw(
            "EXPLAIN SELECT id FROM memories m WHERE m.tenant = 't1' AND m.user_id = 'few' "
            "AND m.expired_at IS NULL ORDER BY m.embedding <=> %s::vector LIMIT 10",
            (str(query.tolist()),),
        )
    )
    assert "memories_embedding" in plan  # the graph is really what the first query walks
    walked = backend.raw(
        "SELECT id FROM memories m WHERE m.tenant = 't1' AND m.user_id = 'few' "
        "AND m.expired_at IS NULL ORDER BY m.embedding <=> %s::vector LIMIT 10",
        (str(query.tolist()),),
    )
    assert len(walked) < 6  # ...and alone it would miss some of the user's rows
    few = store.vector_search(query, flt(Scope(tenant="t1", user_id="few")), 10)
    assert ids(few) == truth("few", 10)  # 6 rows, found although the walk stops after 20 tuples
    scores = [s for _, s in store.vector_search(query, flt(Scope(tenant="t1")), 15)]
    assert scores == sorted(scores, reverse=True)
