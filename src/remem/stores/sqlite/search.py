"""Search in SQLite: an in-memory index proposes, SQL disposes.

SQL is the source of truth. The index (``stores/row_index.py``: exact vectors, BM25
postings, event times) is an in-memory copy used only to propose candidates; every
candidate is re-read through SQL with the caller's filter, so a stale copy can cost a
little recall for one query, never return a row it should not. ``PRAGMA data_version``
tells when another process wrote. The index is saved beside the file (``index_file.py``)
when this store closes and after it builds an ANN graph, and a new process starts from
that file instead of rebuilding it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from remem._time import from_iso
from remem.errors import StoreError
from remem.model import MemoryRecord
from remem.stores import index_file
from remem.stores import statements as sql
from remem.stores.operations import SearchStore
from remem.stores.records import MemoryFilter
from remem.stores.row_index import PartKey, RowIndex, Scores, Window
from remem.stores.rows import memory_from_values
from remem.stores.sqlite.connection import SQLiteConnection
from remem.stores.sqlite.dialect import SQLITE

#: Score vectors kept per store, so one search's signals share a scoring pass.
SCORE_CACHE = 8
#: Records kept between writes, so one search's signals share the rows they read.
RECORD_CACHE = 4_096


class SQLiteSearch(SQLiteConnection, SearchStore):
    def text_search(
        self, terms: Sequence[str], flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        if not terms:
            return []
        with self._lock:
            index = self._sync_index()
            parts = self._partitions(index, flt.scope.tenant, flt.scope.user_id)
            index.ensure_text(parts, self._texts)
            scores = self._scored(
                ("bm25", tuple(terms)), parts, lambda: index.text_scores(terms, parts)
            )
            return self._ranked(index, scores, flt, k)

    def vector_search(
        self, vector: np.ndarray, flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        with self._lock:
            index = self._sync_index()
            parts = self._partitions(index, flt.scope.tenant, flt.scope.user_id)
            query = np.asarray(vector, dtype=np.float32)
            graphs = index.graphs_built
            scores = self._scored(
                ("dense", query.tobytes()), parts, lambda: index.dense_scores(query, parts)
            )
            found = self._ranked(index, scores, flt, k)
            if index.graphs_built > graphs:
                self._save_index()  # a graph took seconds to build: keep it across restarts
            return found

    def drop_score_cache(self) -> None:
        """Forget cached scoring passes and records (benchmarks use it to time each retriever
        alone)."""
        with self._lock:
            self._scores.clear()
            self._records.clear()

    def _scored(
        self,
        what: tuple[Any, ...],
        parts: list[PartKey],
        compute: Callable[[], dict[PartKey, Scores]],
    ) -> dict[PartKey, Scores]:
        """Scores of every row of ``parts``, computed once per query and index state.

        One search asks the same query several times (whole scope, inside a time
        window, directives only): the scoring pass is shared, only the masks differ.
        """
        assert self._index is not None
        key = (*what, tuple(parts), self._index.generation)
        found = self._scores.pop(key, None)
        if found is None:
            found = compute()
        self._scores[key] = found
        while len(self._scores) > SCORE_CACHE:
            self._scores.pop(next(iter(self._scores)))
        return found

    def _ranked(
        self, index: RowIndex, scores: dict[PartKey, Scores], flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``k`` best rows the filter admits: index masks first, then SQL for the rest."""
        window = Window(
            after=flt.event_after.timestamp() if flt.event_after else None,
            before=flt.event_before.timestamp() if flt.event_before else None,
            directive=flt.metadata.get("directive") is True,
        )
        first = max(k * 3, 32)
        keys, values, admitted = index.top(scores, first, window)
        # The best k first, the rest only if some of them fail: as many rows read as kept
        # when the filter passes them all (the common case), in one read that re-checks them
        # and builds their records, and the same survivors otherwise.
        records = self._admitted_records(keys[:k], flt)
        survivors = set(records)
        if len(survivors) < k:
            survivors |= self._admitted(keys[k:], flt)
        if len(survivors) < k and admitted > len(keys):
            # The SQL re-check (status, versions, kinds, other metadata) rejected too many:
            # rank exactly the rows it admits instead.
            where, params = sql.memory_where(flt, SQLITE)
            allowed = np.array(
                [
                    r[0]
                    for r in self._db.execute(f"SELECT m.rk FROM memories m WHERE {where}", params)
                ],
                dtype=np.int64,
            )
            keys, values, _ = index.top(scores, k, window, np.unique(allowed))
            survivors = set(keys.tolist())
        best = [
            (key, score)
            for key, score in zip(keys.tolist(), values.tolist(), strict=True)
            if key in survivors
        ][:k]
        missing = [key for key, _ in best if key not in records]
        if missing:
            records = {**records, **self._admitted_records(np.array(missing), flt)}
        return [(records[key], score) for key, score in best if key in records]

    def _admitted_records(self, keys: np.ndarray, flt: MemoryFilter) -> dict[int, MemoryRecord]:
        """The records of those ``keys`` that ``flt`` admits, re-checked in SQL, each built
        once per state of the file: one search reads many rows twice or more (BM25 and
        dense, both again inside a time window, directives), and building a record costs
        more than finding it. A write through this connection (``total_changes``) or a
        commit by another (``PRAGMA data_version``, read by ``_sync_index``) empties the
        cache. Rows are read as plain tuples (``memory_from_values``): no lookup by name."""
        state = (self._data_version, self._db.total_changes)
        if state != self._records_state or len(self._records) > RECORD_CACHE:
            self._records.clear()
            self._records_state = state
        if len(keys) == 0:
            return {}
        where, params = sql.memory_where(flt, SQLITE, by_key=True)
        marks = ",".join("?" * len(keys))
        cursor = self._db.cursor()
        cursor.row_factory = None
        cursor.execute(
            f"SELECT m.rk, {sql.MEMORY_SELECT} FROM memories m WHERE m.rk IN ({marks}) AND {where}",
            [*keys.tolist(), *params],
        )
        cache, found = self._records, {}
        for row in cursor:
            record = cache.get(row[0])
            if record is None:
                record = cache[row[0]] = memory_from_values(row[1:], from_iso)
            found[row[0]] = record
        return found

    def _admitted(self, keys: np.ndarray, flt: MemoryFilter) -> set[int]:
        if len(keys) == 0:
            return set()
        where, params = sql.memory_where(flt, SQLITE, by_key=True)
        marks = ",".join("?" * len(keys))
        return {
            r[0]
            for r in self._db.execute(
                f"SELECT m.rk FROM memories m WHERE m.rk IN ({marks}) AND {where}",
                [*keys.tolist(), *params],
            )
        }

    def _texts(self, keys: np.ndarray) -> dict[int, str]:
        texts: dict[int, str] = {}
        listed = keys.tolist()
        for start in range(0, len(listed), 500):
            chunk = listed[start : start + 500]
            texts.update(
                self._db.execute(
                    f"SELECT rk, text FROM memories WHERE rk IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
            )
        return texts

    def _sync_index(self) -> RowIndex:
        """Load the index on first use and pick up rows other processes committed since."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if self._index is not None and version == self._data_version:
            return self._index
        if self._embedder is not None:
            (space,) = self._db.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
            if space != self._embedder:
                raise StoreError(
                    f"{self.path} was re-embedded with {space!r} by another process since this "
                    f"one opened it with {self._embedder!r}: reopen it with that embedder"
                )
        if self._index is None:
            self._index = self._saved_index()
        # Rows this process wrote in its open transaction join the index at its commit.
        ceiling = min((row[1] for row in self._pending_rows), default=2**63 - 1)
        if self._index is None:  # partitions are read from SQL when first searched
            self._index = RowIndex(self._dimension or 384)
            (last,) = self._db.execute(
                "SELECT max(rk) FROM memories WHERE rk < ?", (ceiling,)
            ).fetchone()
            self._index.max_key = last or 0
        self._add_rows(
            self._index, "m.rk > ? AND m.rk < ?", (self._index.max_key, ceiling), create=False
        )
        self._data_version = version
        return self._index

    def _partitions(self, index: RowIndex, tenant: str, user_id: str | None) -> list[PartKey]:
        """The partitions a search in (tenant, user) reads, loaded from SQL if they are not."""
        if user_id is not None:
            keys: list[PartKey] = [(tenant, user_id)]
        else:
            users = self._db.execute(
                "SELECT DISTINCT user_id FROM memories WHERE tenant = ?", (tenant,)
            )
            keys = [(tenant, user) for (user,) in users]
        for key in keys:
            if not index.loaded(key):
                index.create(key)
                self._add_rows(
                    index,
                    "m.tenant = ? AND m.user_id IS ? AND m.rk <= ?",
                    (*key, index.max_key),
                    create=True,
                )
        index.use(keys)
        return keys

    def _add_rows(
        self, index: RowIndex, where: str, params: tuple[Any, ...], *, create: bool
    ) -> None:
        rows = self._db.execute(
            "SELECT m.rk, m.tenant, m.user_id, m.valid_from, "
            "json_extract(m.metadata, '$.\"directive\"'), v.vector "
            f"FROM memories m LEFT JOIN vectors v USING (rk) WHERE {where} ORDER BY m.rk",
            params,
        ).fetchall()
        by_part: dict[PartKey, tuple[list[int], list[Any], list[Any], list[bool]]] = {}
        for rk, tenant, user_id, valid_from, directive, blob in rows:
            keys, vectors, when, flags = by_part.setdefault((tenant, user_id), ([], [], [], []))
            keys.append(rk)
            vectors.append(None if blob is None else np.frombuffer(blob, dtype=np.float32))
            moment = from_iso(valid_from)
            when.append(moment.timestamp() if moment else None)
            flags.append(directive == 1)
        for part, (keys, vectors, when, flags) in by_part.items():
            index.add(part, keys, vectors, when, flags, create=create)

    # -- the index saved beside the file ------------------------------------------
    def _stamp(self) -> index_file.Stamp | None:
        assert self._index is not None
        last = self._db.execute(
            "SELECT rk, id FROM memories WHERE rk <= ? ORDER BY rk DESC LIMIT 1",
            (self._index.max_key,),
        ).fetchone()
        if last is None:
            return None
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        return index_file.Stamp(
            meta.get("embedder"), self._index.dimension, int(last[0]), str(last[1])
        )

    def _saved_index(self) -> RowIndex | None:
        """The index saved beside the file, if it was saved from this database's rows."""

        def ours(stamp: index_file.Stamp) -> bool:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            row = self._db.execute("SELECT id FROM memories WHERE rk = ?", (stamp.max_key,))
            found = row.fetchone()
            return (
                stamp.embedder == meta.get("embedder")
                and str(stamp.dimension) == meta.get("dimension", str(stamp.dimension))
                and found is not None
                and found[0] == stamp.last_id
            )

        index = index_file.load(index_file.path_for(self.path), ours)
        if index is not None:
            # All rows (kept in ``meta`` by triggers, m012: ``count(*)`` reads a whole index
            # of the table) less the few written since, read by key.
            (total,) = self._db.execute(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'memory_rows'"
            ).fetchone()
            (since,) = self._db.execute(
                "SELECT count(*) FROM memories WHERE rk > ?", (index.max_key,)
            ).fetchone()
            if total - since != len(index):  # forgotten by another process since the save
                present = np.array(
                    [r[0] for r in self._db.execute("SELECT rk FROM memories")], dtype=np.int64
                )
                held = np.concatenate([p.keys.view[p.alive.view] for p in index.parts.values()])
                index.remove(np.setdiff1d(held, present).tolist())
            self._saved_state = (index.serial, index.generation)
        return index

    def _save_index(self) -> None:
        """Write the index beside the file when it changed and is big enough to be worth it."""
        index = self._index
        if index is None or self._saved_state == (index.serial, index.generation):
            return
        if len(index) < index_file.SAVE_FROM:
            return
        stamp = self._stamp()
        if stamp is None:
            return
        try:
            index_file.save(index, stamp, index_file.path_for(self.path))
        except OSError:
            # A cache: a full disk, or another process swapping its own in at the same
            # moment, leaves the next process to build from SQL (or to read the other's).
            return
        self._saved_state = (index.serial, index.generation)

    def close(self) -> None:
        with self._lock:
            for part in self._index.parts.values() if self._index is not None else ():
                if part.ann is not None:  # no thread reading a graph ahead outlives the store
                    part.ann.close()
            self._save_index()
        super().close()
