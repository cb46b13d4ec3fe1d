"""RememStore: a real LangGraph graph whose nodes write and read through it, and the store
contract LangGraph documents (langgraph.store.base), on a real SQLite Memory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import pytest

from remem import InvalidInput, Memory
from tests.stores.conftest import with_search_path

langgraph = pytest.importorskip("langgraph")
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.runtime import Runtime  # noqa: E402
from langgraph.store.base import (  # noqa: E402
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)

from remem.integrations.langgraph import RememStore  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def memory(tmp_path: Path, clock: Clock, request: pytest.FixtureRequest) -> Iterator[Memory]:
    """The store's contract on both backends: its filters are remem's metadata queries."""
    location = str(tmp_path / "lg.db")
    if request.param == "postgres":
        pool = request.getfixturevalue("schema_pool")
        schema = pool.take()
        request.addfinalizer(lambda: pool.drop(schema))
        location = with_search_path(pool.url, schema)
    with Memory(location, clock=clock, llm=None) as m:
        yield m


@pytest.fixture
def store(memory: Memory) -> RememStore:
    return RememStore(memory, user_at=1)


@dataclass
class Who:
    user: str


class State(TypedDict, total=False):
    tell: str
    ask: str
    recalled: list[str]


def remember(state: State, runtime: Runtime[Who]) -> State:
    assert runtime.store is not None
    if "tell" in state:
        namespace = ("memories", runtime.context.user)
        runtime.store.put(namespace, f"m{len(state['tell'])}", {"text": state["tell"]})
    return {}


def recall(state: State, runtime: Runtime[Who]) -> State:
    assert runtime.store is not None
    if "ask" not in state:
        return {"recalled": []}
    found = runtime.store.search(("memories", runtime.context.user), query=state["ask"])
    return {"recalled": [item.value["text"] for item in found]}


def graph(store: RememStore):  # type: ignore[no-untyped-def]
    builder = StateGraph(State, context_schema=Who)
    builder.add_node("remember", remember)
    builder.add_node("recall", recall)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    builder.add_edge("recall", END)
    return builder.compile(store=store)


def test_a_graph_writes_and_reads_through_remem(store: RememStore, memory: Memory) -> None:
    app = graph(store)
    app.invoke({"tell": "I love hiking in the Alps"}, context=Who("ana"))
    app.invoke({"tell": "My cat is called Miso"}, context=Who("bob"))
    out = app.invoke({"ask": "Which mountains do I hike in?"}, context=Who("ana"))
    assert out["recalled"][0] == "I love hiking in the Alps"
    assert "My cat is called Miso" not in out["recalled"]  # Bob's, in another remem user
    stored = memory.list(user_id="ana").items
    assert {m.scope.session_id for m in stored} == {"memories.ana"}
    # A remem search outside LangGraph finds the graph's memories too.
    assert memory.search("hiking", user_id="ana").hits[0].memory.id in {m.id for m in stored}


def test_a_graph_runs_async_too(store: RememStore) -> None:
    async def go() -> dict[str, list[str]]:
        app = graph(store)
        await app.ainvoke({"tell": "I play the cello"}, context=Who("ana"))
        return await app.ainvoke({"ask": "What instrument do I play?"}, context=Who("ana"))

    assert asyncio.run(go())["recalled"][0] == "I play the cello"


def test_put_get_upsert_and_delete(store: RememStore, memory: Memory, clock: Clock) -> None:
    ns = ("prefs", "ana")
    assert store.get(ns, "food") is None
    store.put(ns, "food", {"likes": "pizza", "stars": 4})
    first = store.get(ns, "food")
    assert first is not None and first.value == {"likes": "pizza", "stars": 4}
    assert first.namespace == ns and first.key == "food"
    clock.now += timedelta(minutes=5)
    store.put(ns, "food", {"likes": "sushi"})
    second = store.get(ns, "food")
    assert second is not None and second.value == {"likes": "sushi"}
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    (record,) = memory.list(user_id="ana").items
    assert [e.op for e in memory.history(record.id)] == ["add", "update"]
    store.put(("prefs", "ana", "deep"), "food", {"likes": "tea"})  # a deeper namespace
    assert store.get(ns, "food").value == {"likes": "sushi"}  # type: ignore[union-attr]
    store.delete(ns, "food")
    assert store.get(ns, "food") is None
    assert store.get(("prefs", "ana", "deep"), "food") is not None
    assert [e.op for e in memory.history(record.id)] == ["add", "update", "delete"]


def test_search_filters_limits_and_offsets(store: RememStore) -> None:
    for n, (color, score) in enumerate([("red", 1), ("blue", 5), ("red", 7), ("red", 9)]):
        store.put(("docs", "ana"), f"d{n}", {"color": color, "score": score, "n": n})
    store.put(("other", "ana"), "x", {"color": "red", "score": 100})

    def keys(**kwargs: object) -> list[str]:
        return [i.key for i in store.search(("docs",), **kwargs)]  # type: ignore[arg-type]

    assert keys() == ["d3", "d2", "d1", "d0"]  # newest first
    assert keys(filter={"color": "red"}) == ["d3", "d2", "d0"]
    assert keys(filter={"score": {"$gt": 5}}) == ["d3", "d2"]
    assert keys(filter={"score": {"$gte": 5, "$lt": 9}}) == ["d2", "d1"]
    assert keys(filter={"color": {"$ne": "red"}}) == ["d1"]
    assert keys(filter={"color": "red", "score": {"$lte": 7}}) == ["d2", "d0"]
    assert keys(limit=2) == ["d3", "d2"] and keys(limit=2, offset=2) == ["d1", "d0"]
    assert keys(filter={"color": "green"}) == []
    with pytest.raises(InvalidInput, match="operator"):
        keys(filter={"score": {"$regex": "x"}})


def test_semantic_search_ranks_with_explanations(store: RememStore) -> None:
    ns = ("facts", "ana")
    store.put(ns, "a", {"text": "Ana's sister Rita is a cardiologist in Porto"})
    store.put(ns, "b", {"text": "Ana adopted a golden retriever named Max"})
    store.put(ns, "c", {"text": "Ana's dog Max loves the beach"}, index=["text"])
    store.put(ns, "d", {"text": "Max is a dog"}, index=False)
    found = store.search(ns, query="what kind of dog does Ana have", limit=2)
    assert [i.key for i in found][:2] in (["b", "c"], ["c", "b"])
    assert all(i.score is not None and i.score > 0 for i in found)
    assert found[0].why.startswith("fused") and "dense" in found[0].why  # type: ignore[attr-defined]
    assert "d" not in [i.key for i in store.search(ns, query="Max is a dog")]  # not indexed
    filtered = store.search(ns, query="dog", filter={"text": "Ana's dog Max loves the beach"})
    assert [i.key for i in filtered] == ["c"]
    assert [i.key for i in store.search(ns, query="dog", limit=1, offset=1)] != [found[0].key]


def test_list_namespaces(store: RememStore) -> None:
    for ns in [("a", "u1", "x"), ("a", "u2", "x"), ("a", "u2", "y"), ("b", "u1")]:
        store.put(ns, "k", {"v": 1})
    assert store.list_namespaces() == [
        ("a", "u1", "x"),
        ("a", "u2", "x"),
        ("a", "u2", "y"),
        ("b", "u1"),
    ]
    assert store.list_namespaces(prefix=("a",)) == [
        ("a", "u1", "x"),
        ("a", "u2", "x"),
        ("a", "u2", "y"),
    ]
    assert store.list_namespaces(suffix=("x",)) == [("a", "u1", "x"), ("a", "u2", "x")]
    assert store.list_namespaces(prefix=("a", "*", "y")) == [("a", "u2", "y")]
    assert store.list_namespaces(max_depth=2) == [("a", "u1"), ("a", "u2"), ("b", "u1")]
    assert store.list_namespaces(limit=2, offset=1) == [("a", "u2", "x"), ("a", "u2", "y")]


def test_ttl_expires_refreshes_and_sweeps(memory: Memory, clock: Clock) -> None:
    store = RememStore(memory, user_id="ana", ttl={"default_ttl": 10, "refresh_on_read": True})
    ns = ("cache",)
    store.put(ns, "short", {"v": 1})
    store.put(ns, "forever", {"v": 2}, ttl=None)
    store.put(ns, "quiet", {"v": 3})
    clock.now += timedelta(minutes=8)
    assert store.get(ns, "short") is not None  # refreshed: 10 more minutes from now
    assert store.get(ns, "quiet", refresh_ttl=False) is not None  # not refreshed
    clock.now += timedelta(minutes=8)
    assert store.get(ns, "short") is not None
    assert store.get(ns, "quiet") is None  # 16 minutes after its last refresh
    assert {i.key for i in store.search(ns)} == {"short", "forever"}
    assert store.list_namespaces() == [("cache",)]
    clock.now += timedelta(minutes=11)
    assert store.sweep_ttl() == 2
    assert [i.key for i in store.search(ns)] == ["forever"]
    with pytest.raises(InvalidInput, match="ttl"):
        store.put(ns, "bad", {"v": 0}, ttl=-1)


def test_batch_runs_ops_in_order_sync_and_async(store: RememStore) -> None:
    ns = ("b", "ana")
    results = store.batch(
        [
            PutOp(ns, "k", {"v": 1}),
            GetOp(ns, "k"),
            SearchOp(("b",), filter={"v": 1}),
            ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("b",)),)),
            PutOp(ns, "k", None),
            GetOp(ns, "k"),
        ]
    )
    assert results[0] is None and results[1].value == {"v": 1}  # type: ignore[union-attr]
    assert [i.key for i in results[2]] == ["k"]  # type: ignore[union-attr]
    assert results[3] == [ns] and results[5] is None

    async def go() -> None:
        await store.aput(ns, "a", {"v": 2})
        assert (await store.aget(ns, "a")).value == {"v": 2}  # type: ignore[union-attr]
        assert [i.key for i in await store.asearch(("b",))] == ["a"]
        assert await store.alist_namespaces() == [ns]
        await store.adelete(ns, "a")
        assert await store.aget(ns, "a") is None

    asyncio.run(go())


def test_bad_namespaces_are_refused_and_store_nothing(store: RememStore, memory: Memory) -> None:
    for bad in [(), ("langgraph", "x"), ("a.b",), ("",)]:
        with pytest.raises(InvalidNamespaceError):
            store.put(bad, "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        store.batch([PutOp(("a.b",), "k", {"v": 1})])
    assert memory.list().total == 0


def test_it_answers_as_langgraphs_own_store_does(store: RememStore) -> None:
    """The same seeded sequence of puts, deletes, gets, filtered searches and namespace
    listings against LangGraph's InMemoryStore and RememStore gives the same answers."""
    import random

    from langgraph.store.memory import InMemoryStore

    reference = InMemoryStore()
    rng = random.Random(16)
    namespaces = [("m", "ana"), ("m", "bob"), ("m", "ana", "work"), ("n", "ana")]
    for step in range(60):
        ns, key = rng.choice(namespaces), f"k{rng.randrange(4)}"
        roll = rng.random()
        if roll < 0.5:
            value = {"color": rng.choice(["red", "blue"]), "n": rng.randrange(10), "step": step}
            store.put(ns, key, value)
            reference.put(ns, key, value)
        elif roll < 0.6:
            store.delete(ns, key)
            reference.delete(ns, key)
        elif roll < 0.75:
            mine, theirs = store.get(ns, key), reference.get(ns, key)
            assert (mine and mine.value) == (theirs and theirs.value), (step, ns, key)
        elif roll < 0.92:
            prefix = ns[: rng.randrange(1, len(ns) + 1)]
            flt = rng.choice(
                [None, {"color": "red"}, {"n": {"$gte": 5}}, {"color": {"$ne": "red"}}]
            )
            got = {(i.namespace, i.key) for i in store.search(prefix, filter=flt, limit=100)}
            want = {(i.namespace, i.key) for i in reference.search(prefix, filter=flt, limit=100)}
            assert got == want, (step, prefix, flt)
        else:
            assert store.list_namespaces(prefix=("m",)) == reference.list_namespaces(prefix=("m",))
            assert store.list_namespaces(max_depth=1) == reference.list_namespaces(max_depth=1)
