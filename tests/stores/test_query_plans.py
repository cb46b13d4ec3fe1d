"""SQLite's plans for the reads on every search's path: an index, never a scan of the tenant.

A scan is correct and fast on a test store, so only the plan shows it: listing memories by id
(the recall counted after each search) once walked every row of the tenant, 35 ms a search at
100k memories.
"""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

from remem import Memory
from remem.model import Scope
from remem.retrieval.search import CITED_STATUSES
from remem.stores import statements
from remem.stores.records import MemoryFilter
from remem.stores.sqlite.dialect import SQLITE


def _plan(path: Path, flt: MemoryFilter) -> list[str]:
    sql, params = statements.list_memories(SQLITE, flt, 10, 0)
    db = sqlite3.connect(path)
    try:
        return [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params)]
    finally:
        db.close()


def test_memories_named_by_id_are_found_by_the_id_index(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    with Memory(path) as memory:
        memory.add("Ana moved to Lisbon", user_id="ana")
    scopes = (Scope(tenant="default"), Scope(tenant="default", user_id="ana"))
    # the recall counted after a search; the sources of derived hits the guard reads
    statuses = (("active", "archived"), CITED_STATUSES)
    for scope, status in itertools.product(scopes, statuses):
        flt = MemoryFilter(scope=scope, ids=("mem_a", "mem_b"), statuses=status)
        plan = _plan(path, flt)
        assert any(step.startswith("SEARCH m USING INDEX") and "(id=?)" in step for step in plan)
        assert not any(step.startswith("SCAN m") for step in plan), plan


def test_a_whole_tenant_page_walks_the_row_ids(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    with Memory(path) as memory:
        memory.add("Ana moved to Lisbon", user_id="ana")
    plan = _plan(path, MemoryFilter(scope=Scope(tenant="default")))
    assert not any("TEMP B-TREE" in step for step in plan), plan  # no sort of every row


def test_a_whole_tenant_count_reads_only_an_index(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    with Memory(path) as memory:
        memory.add("Ana moved to Lisbon", user_id="ana")
    for statuses in (("active",), ("active", "archived")):
        flt = MemoryFilter(scope=Scope(tenant="default"), statuses=statuses)
        sql, params = statements.count_memories(SQLITE, flt)
        db = sqlite3.connect(path)
        try:
            plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params)]
        finally:
            db.close()
        assert plan == [
            "SEARCH m USING COVERING INDEX memories_current_status "
            "(tenant=? AND status=? AND expired_at=?)"
        ], plan
