"""The embedded default: one SQLite file in WAL mode, searched through an in-memory index.

``SQLiteStore`` is its concerns put together, one module each: ``memories.py``
(memories and episodes), ``events.py``, ``graph.py``, ``jobs.py`` (the extraction
queue), ``search.py``, ``portability.py`` (dump/load), ``idempotency.py`` (answers
kept per request key) and ``reembed.py``, all on the connection and transactions of
``connection.py``; the schema comes from ``stores/migrations.py`` (``schema.py``
applies it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remem.model import Scope
from remem.stores import statements as sql
from remem.stores.sqlite.dialect import SQLITE
from remem.stores.sqlite.events import SQLiteEvents
from remem.stores.sqlite.graph import SQLiteGraph
from remem.stores.sqlite.idempotency import SQLiteIdempotency
from remem.stores.sqlite.jobs import SQLiteJobs
from remem.stores.sqlite.memories import SQLiteMemories
from remem.stores.sqlite.portability import SQLitePortability
from remem.stores.sqlite.reembed import SQLiteReembed
from remem.stores.sqlite.search import SQLiteSearch


class SQLiteStore(
    SQLiteMemories,
    SQLiteEvents,
    SQLiteGraph,
    SQLiteJobs,
    SQLiteSearch,
    SQLitePortability,
    SQLiteIdempotency,
    SQLiteReembed,
):
    """``SQLiteStore("memories.db")``: the file is created, or upgraded, on open."""

    def stats(self, scope: Scope) -> dict[str, Any]:
        def rows(statement: str, params: Sequence[Any]) -> list[Any]:
            return self._db.execute(statement, params).fetchall()

        with self._lock:
            counts = sql.counts(SQLITE, rows, scope)
            meta = dict(rows("SELECT key, value FROM meta", ()))
        files = [self.path, self.path.with_name(self.path.name + "-wal")]
        return {
            "backend": "sqlite",
            "url": self.url,
            "bytes": sum(f.stat().st_size for f in files if f.exists()),
            "embedder": meta.get("embedder"),
            "dimension": int(meta["dimension"]) if "dimension" in meta else None,
            **counts,
        }
