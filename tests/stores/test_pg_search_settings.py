"""The HNSW search settings every pooled PostgreSQL session carries: the ``hnsw.ef_search``
measured to hold recall@10 at 1M rows in one user (docs/benchmarks.md), and iterative scans
where pgvector has them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from conformance import bound

from remem.stores.postgres import PostgresStore, connection

if TYPE_CHECKING:
    from conftest import Backend


@pytest.mark.postgres
def test_every_pooled_session_searches_with_the_measured_beam(
    new_backend: Callable[[str], Backend],
) -> None:
    store = bound(new_backend("postgres"))
    assert isinstance(store, PostgresStore)
    with store._conn() as conn:
        ef = conn.execute("SHOW hnsw.ef_search").fetchone()
        scan = conn.execute("SHOW hnsw.iterative_scan").fetchone() if store._iterative else None
    assert ef is not None and int(next(iter(ef.values()))) == connection.EF_SEARCH == 200
    assert scan is None or next(iter(scan.values())) == "relaxed_order"
