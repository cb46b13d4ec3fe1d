"""Re-embedding in SQLite: new vectors wait in ``vectors_next`` and ``entities.vector_next``,
then replace the current ones in one write transaction.

Readers (WAL) see the old vectors until that commit; the in-memory index of this
process is rebuilt after it, and other processes find the store re-embedded at their
next read (``search.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from remem.errors import InvalidInput, StoreError
from remem.stores.operations import ReembedStore
from remem.stores.records import Reembedding, Unembedded
from remem.stores.sqlite.connection import SQLiteConnection

_TARGET = ("reembed_embedder", "reembed_dimension")
#: Rows embedded per call when the switch catches up with rows written meanwhile.
_CATCH_UP = 256


class SQLiteReembed(SQLiteConnection, ReembedStore):
    def reembedding(self) -> Reembedding:
        with self._snapshot():
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            (staged,) = self._db.execute(
                "SELECT (SELECT count(*) FROM vectors_next) + (SELECT count(*) FROM entities "
                "WHERE vector IS NOT NULL AND vector_next IS NOT NULL)"
            ).fetchone()
            (total,) = self._db.execute(
                "SELECT (SELECT count(*) FROM vectors) + "
                "(SELECT count(*) FROM entities WHERE vector IS NOT NULL)"
            ).fetchone()
        return Reembedding(
            current=_space(meta, "embedder", "dimension"),
            target=_space(meta, *_TARGET),
            staged=int(staged),
            total=int(total),
        )

    def begin_reembed(self, model_id: str, dimension: int) -> None:
        with self.transaction():
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            if _space(meta, *_TARGET) == (model_id, dimension):
                return
            self._db.execute("DELETE FROM vectors_next")
            self._db.execute("UPDATE entities SET vector_next = NULL WHERE vector_next IS NOT NULL")
            self._db.executemany(
                "INSERT INTO meta VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(zip(_TARGET, (model_id, str(dimension)), strict=True)),
            )

    def unstaged(self, limit: int, after: Unembedded | None = None) -> list[Unembedded]:
        found: list[Unembedded] = []
        with self._lock:
            if after is None or after.table == "memories":
                rows = self._db.execute(
                    "SELECT v.rk, m.text FROM vectors v JOIN memories m ON m.rk = v.rk "
                    "WHERE v.rk > ? AND NOT EXISTS (SELECT 1 FROM vectors_next n WHERE n.rk = v.rk) "
                    "ORDER BY v.rk LIMIT ?",
                    (after.key if after else 0, limit),
                )
                found = [Unembedded("memories", rk, text) for rk, text in rows]
            if len(found) < limit:
                rows = self._db.execute(
                    "SELECT id, name FROM entities WHERE id > ? AND vector IS NOT NULL "
                    "AND vector_next IS NULL ORDER BY id LIMIT ?",
                    (after.key if after and after.table == "entities" else "", limit - len(found)),
                )
                found += [Unembedded("entities", key, name) for key, name in rows]
        return found

    def stage_vectors(self, rows: Sequence[tuple[Unembedded, np.ndarray]]) -> None:
        self._write()
        dimension = self._target()[1]
        memories: list[tuple[Any, bytes]] = []
        entities: list[tuple[Any, bytes]] = []
        for row, vector in rows:
            blob = np.asarray(vector, dtype=np.float32)
            if blob.shape != (dimension,):
                raise InvalidInput(f"a {blob.shape} vector for a {dimension}-d re-embedding")
            (memories if row.table == "memories" else entities).append((row.key, blob.tobytes()))
        self._db.executemany(
            "INSERT OR REPLACE INTO vectors_next (rk, vector) VALUES (?, ?)", memories
        )
        self._db.executemany(
            "UPDATE entities SET vector_next = ? WHERE id = ?", [(v, k) for k, v in entities]
        )

    def switch_embedder(self, embed: Callable[[Sequence[str]], np.ndarray]) -> int:
        embedded = 0
        with self.transaction():  # BEGIN IMMEDIATE: no writer adds a row meanwhile
            model_id, dimension = self._target()
            while batch := self.unstaged(_CATCH_UP):
                self.stage_vectors(list(zip(batch, embed([r.text for r in batch]), strict=True)))
                embedded += len(batch)
            self._db.execute("DELETE FROM vectors")
            self._db.execute("INSERT INTO vectors (rk, vector) SELECT rk, vector FROM vectors_next")
            self._db.execute("DELETE FROM vectors_next")
            self._db.execute(
                "UPDATE entities SET vector = vector_next, vector_next = NULL "
                "WHERE vector IS NOT NULL"
            )
            self._db.executemany(
                "INSERT INTO meta VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [("embedder", model_id), ("dimension", str(dimension))],
            )
            self._db.execute("DELETE FROM meta WHERE key IN (?, ?)", _TARGET)
        with self._lock:
            self._index, self._data_version = None, None  # rebuilt from the new vectors
            self._scores.clear()
            self._dimension, self._embedder = dimension, model_id
        return embedded

    def _target(self) -> tuple[str, int]:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        target = _space(meta, *_TARGET)
        if target is None:
            raise StoreError(f"{self.path}: no re-embedding in progress (begin_reembed first)")
        return target


def _space(meta: dict[str, str], model: str, dimension: str) -> tuple[str, int] | None:
    return (meta[model], int(meta[dimension])) if model in meta and dimension in meta else None
