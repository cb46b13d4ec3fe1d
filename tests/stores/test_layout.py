"""The layout of ``remem.stores``, kept: one protocol per concern, and per backend one module
per concern implementing it, none of them over 500 lines."""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path

import pytest

import remem.stores
from remem.stores import (
    EventStore,
    GraphStore,
    IdempotencyStore,
    JobStore,
    MemoryStore,
    PortableStore,
    ReembedStore,
    SearchStore,
    Store,
)
from remem.stores.operations import Transactional
from remem.stores.postgres import PostgresStore
from remem.stores.sqlite import SQLiteStore

CONCERNS: dict[type, str] = {
    MemoryStore: "memories",
    EventStore: "events",
    GraphStore: "graph",
    JobStore: "jobs",
    SearchStore: "search",
    PortableStore: "portability",
    IdempotencyStore: "idempotency",
    ReembedStore: "reembed",
}


def declared(protocol: type) -> list[str]:
    """The methods ``protocol`` itself declares (not those it inherits)."""
    return [
        name
        for name, value in vars(protocol).items()
        if inspect.isfunction(value) and not name.startswith("__")
    ]


def test_store_is_the_union_of_the_concerns() -> None:
    names = Counter(name for protocol in CONCERNS for name in declared(protocol))
    assert [name for name, n in names.items() if n > 1] == []  # each method in one concern
    assert set(declared(Store)) == {"bind_embedder", "stats", "close"}  # the store as a whole
    assert set(declared(Transactional)) == {"transaction"}
    assert set(CONCERNS) <= set(Store.__mro__)


@pytest.mark.parametrize(
    ("store", "package"), [(SQLiteStore, "sqlite"), (PostgresStore, "postgres")]
)
def test_each_backend_implements_each_concern_in_its_own_module(store: type, package: str) -> None:
    for protocol, module in CONCERNS.items():
        for name in declared(protocol):
            assert getattr(store, name).__module__ == f"remem.stores.{package}.{module}", name


def test_no_stores_module_is_over_500_lines() -> None:
    root = Path(remem.stores.__file__).parent
    sizes = {p.relative_to(root): len(p.read_text().splitlines()) for p in root.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > 500} == {}
