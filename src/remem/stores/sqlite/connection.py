"""One SQLite file in WAL mode: the connection, its transactions, and the embedding space.

What every concern module of the SQLite store builds on. Writes are mirrored into the
in-memory search index (``search.py``) only once their transaction commits: rows and
removals wait in ``_pending_rows`` / ``_pending_removals`` until then.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from remem.errors import StoreError
from remem.model import MemoryRecord
from remem.stores.checkpointer import WalCheckpointer
from remem.stores.row_index import PartKey, RowIndex, Scores
from remem.stores.sqlite.schema import migrate

#: Seconds a connection waits for another's lock before giving up.
BUSY_TIMEOUT = 30.0

#: A committed row as the index takes it: partition, row key, vector, event time, directive.
PendingRow = tuple[PartKey, int, np.ndarray | None, float | None, bool]


def _disk_full(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and exc.sqlite_errorcode == sqlite3.SQLITE_FULL


class SQLiteConnection:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SQLite database at {self.path}: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._checkpointer = WalCheckpointer(self.path)
        self._depth = 0
        self._pending_rows: list[PendingRow] = []
        self._pending_removals: list[int] = []
        self._index: RowIndex | None = None
        self._scores: dict[tuple[Any, ...], dict[PartKey, Scores]] = {}
        self._data_version: int | None = None
        # records of rows searches returned, while (data_version, total_changes) stays as it was
        self._records: dict[int, MemoryRecord] = {}
        self._records_state: tuple[int | None, int] = (None, -1)
        # bumped by every write of memories or entity links: the graph's cached walks go
        self._graph_serial = 0
        self._link_state: tuple[int, int] = (-1, -1)
        self._link_walks: dict[tuple[Any, ...], list[tuple[int, str, str]]] = {}
        self._saved_state = (-1, -1)  # (serial, generation) of the index last saved beside the file
        self._dimension: int | None = None
        self._embedder: str | None = None  # the model this store was bound to, once bound
        try:
            self._wal()
            # NORMAL in WAL mode survives any process crash; only power loss can drop the last commits.
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            migrate(self._db, str(self.path))
            dim = self._db.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
            self._dimension = int(dim[0]) if dim else None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable remem database: {exc}") from exc

    def _wal(self) -> None:
        """Switch the file to WAL mode, waiting out other openers as any lock is waited out.

        The switch needs the file to itself, and SQLite returns "database is locked" at once
        instead of calling the busy handler when another connection is creating it. Once it
        is WAL, the switch is a no-op.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
                if outer:
                    self._db.execute("COMMIT")
            except BaseException as exc:
                if outer:
                    # A failed COMMIT (a full disk) may leave the transaction open.
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    self._pending_rows.clear()
                    self._pending_removals.clear()
                    self._graph_serial += 1  # walks read inside it may hold its links
                if _disk_full(exc):  # said without the path: the message may reach a tenant
                    raise StoreError(
                        "the database's disk is full: nothing of this write was stored; "
                        "free some space and send it again"
                    ) from exc
                raise
            finally:
                self._depth -= 1
            if outer:
                self._apply_pending()
                self._checkpointer.poke()

    def _apply_pending(self) -> None:
        """Mirror committed writes into the in-memory index (never before the commit)."""
        if self._index is not None:
            self._index.remove(self._pending_removals)
            by_part: dict[PartKey, list[PendingRow]] = {}
            for row in self._pending_rows:
                by_part.setdefault(row[0], []).append(row)
            for part, rows in by_part.items():  # one append per partition: a graph adds in bulk
                _, keys, vectors, when, flags = zip(*rows, strict=True)
                self._index.add(part, keys, vectors, when, flags, create=False)
            self._data_version = self._db.execute("PRAGMA data_version").fetchone()[0]
        self._pending_rows.clear()
        self._pending_removals.clear()

    def _write(self) -> None:
        if self._depth == 0:
            raise StoreError("store writes must run inside store.transaction()")

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read view of every table (a deferred transaction: WAL lets writers go on)."""
        with self._lock:
            if self._depth:
                yield
                return
            self._db.execute("BEGIN")
            try:
                yield
            finally:
                self._db.execute("COMMIT")

    def bind_embedder(self, model_id: str, dimension: int) -> None:
        with self.transaction():
            rows = dict(
                self._db.execute(
                    "SELECT key, value FROM meta WHERE key IN ('embedder', 'dimension')"
                ).fetchall()
            )
            if not rows:
                self._db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("embedder", model_id), ("dimension", str(dimension))],
                )
            elif rows.get("embedder") != model_id or int(rows.get("dimension", 0)) != dimension:
                raise StoreError(
                    f"{self.path} holds vectors of embedder {rows.get('embedder')!r} "
                    f"({rows.get('dimension')}-d); it was opened with {model_id!r} ({dimension}-d). "
                    "Open it with the same embedder, or move it to this one: remem reembed."
                )
            self._dimension, self._embedder = dimension, model_id

    def close(self) -> None:
        self._checkpointer.close()
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"
