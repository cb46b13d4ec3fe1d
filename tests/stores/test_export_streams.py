"""An export streams: its memory stays flat whatever the tenant's size, on every backend,
and it reads one snapshot while writers go on. A whole-store backup is SQLite's (the
PostgreSQL server has pg_dump)."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from remem import InvalidInput, Memory
from remem.portability import Export
from tests.stores.conftest import Backend

N = 3000


def fill(memory: Memory, n: int) -> None:
    """``n`` memories (with their vectors) through one import: no embedding needed."""
    first = memory.add("Ana moved to Lisbon in March", user_id="ana").memories[0]
    vector = memory.embedder.embed([first.text])[0]
    items: list[tuple[str, Any]] = [
        ("memory", (first.model_copy(update={"id": f"mem_{i:05d}", "provenance": ()}), vector))
        for i in range(n)
    ]
    out = io.StringIO()
    for line in Export(items, memory.embedder.model_id):
        out.write(line)
    out.seek(0)
    memory.import_(out)


def test_an_export_streams_in_flat_memory(backend: Backend) -> None:
    memory = backend.memory(llm=None)
    fill(memory, N)
    tracemalloc.start()
    try:
        total = sum(len(line) for line in memory.export_lines())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 6_000_000  # N memories with 384-d vectors, their episode and events
    assert peak < total / 5, (peak, total)  # a batch of rows, never the tenant


def test_an_export_reads_one_snapshot_while_writers_go_on(
    backend: Backend, new_backend: Callable[[str], Backend]
) -> None:
    memory = backend.memory(llm=None)
    fill(memory, 50)
    lines = memory.export_lines()
    head = list(islice(lines, 10))  # the snapshot is open
    memory.add("written during the export", user_id="ana")
    text = "".join(head + list(lines))
    assert "written during the export" not in text
    copy = new_backend(backend.name).memory(llm=None)
    counts = copy.import_(io.StringIO(text))
    assert (counts["episode"], counts["memory"], counts["event"]) == (1, 51, 1)


@pytest.mark.postgres
def test_a_postgres_store_points_a_backup_at_pg_dump(
    new_backend: Callable[[str], Backend], tmp_path: Path
) -> None:
    memory = new_backend("postgres").memory(llm=None)
    with pytest.raises(InvalidInput, match="pg_dump"):
        memory.backup(tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()
