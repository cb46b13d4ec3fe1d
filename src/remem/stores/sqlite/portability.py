"""Every record out of SQLite from one snapshot (``dump``), and back in verbatim (``load``)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from remem._files import replacing
from remem._time import from_iso
from remem.errors import InvalidInput, StoreError
from remem.stores.base import Store
from remem.stores.operations import PortableStore
from remem.stores.records import Dumped
from remem.stores.rows import (
    entity_from_row,
    episode_from_row,
    event_from_row,
    job_from_row,
    link_from_row,
    memory_from_row,
)
from remem.stores.sqlite.connection import BUSY_TIMEOUT, SQLiteConnection


class _Loading(Store, Protocol):
    """What ``load`` writes through: every concern of the store, after its own check."""

    def _taken(self, dumped: Dumped) -> tuple[list[str], int]: ...


class SQLitePortability(SQLiteConnection, PortableStore):
    def dump(self, tenant: str | None = None) -> Iterator[tuple[str, Any]]:
        """Every record, read from one snapshot, a row at a time (memory stays flat).

        The rows come through a read-only connection of their own, in one read transaction:
        WAL lets this store's writers go on meanwhile, and a caller may take its time between
        rows (an HTTP response). Inside this store's own transaction the rows come through it.
        """
        clause, params = ("WHERE tenant = ?", [tenant]) if tenant else ("", [])
        if self._depth:
            with self._snapshot():
                rows = list(_rows(self._db, clause, params))
            yield from rows
            return
        reader = self._reader()
        try:
            reader.execute("BEGIN")  # one read view for every table
            yield from _rows(reader, clause, params)
        finally:
            reader.close()

    def backup(self, destination: Path) -> dict[str, Any]:
        """SQLite's online backup API, in one step: one read transaction over the source, so
        the copy is one snapshot, and WAL lets writers go on meanwhile (a backup in several
        steps starts over whenever another connection writes, which under load is always).
        The copy is checked (quick_check) and left in rollback-journal mode: one file."""
        target = Path(destination).expanduser()
        if target.exists() and target.resolve() == self.path.resolve():
            raise InvalidInput(f"{target} is the database itself: back it up to another path")
        try:
            with replacing(target) as partial:
                # Created here first, so a path that cannot be written is an OSError.
                os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                try:
                    problem = self._copy_to(partial)
                finally:
                    for sidecar in ("-wal", "-shm", "-journal"):  # left by a failed copy
                        Path(f"{partial}{sidecar}").unlink(missing_ok=True)
                if problem != "ok":
                    raise StoreError(f"the backup of {self.path} does not check out: {problem}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot back up {self.path}: {exc}; {target} is unchanged") from exc
        except OSError as exc:
            raise InvalidInput(f"cannot write {target}: {exc.strerror}") from exc
        return {"path": str(target), "bytes": target.stat().st_size}

    def _copy_to(self, partial: Path) -> str:
        """Copy the database into the empty file ``partial``; what quick_check says of it."""
        source = self._reader()
        try:
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")
                return str(copy.execute("PRAGMA quick_check").fetchone()[0])
            finally:
                copy.close()
        finally:
            source.close()

    def _reader(self) -> sqlite3.Connection:
        """A read-only connection of its own (usable from any thread, one at a time)."""
        try:
            reader = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                check_same_thread=False,  # an HTTP response reads it from worker threads
                timeout=BUSY_TIMEOUT,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc
        reader.row_factory = sqlite3.Row
        return reader

    def load(self: _Loading, items: Sequence[tuple[str, Any]]) -> None:
        dumped = Dumped.of(items)
        with self.transaction():
            ours, elsewhere = self._taken(dumped)
            if ours:
                raise InvalidInput(
                    f"import collides with {len(ours) + elsewhere} record(s) already stored "
                    f"(e.g. {', '.join(ours[:3])}); import into a fresh store"
                )
            if elsewhere:
                # Ids of another tenant are not named: they are not this tenant's to see.
                raise InvalidInput(
                    f"import collides with {elsewhere} record(s) already stored: ids are "
                    "unique across a SQLite file, so an export imports once per file; "
                    "import into a fresh store"
                )
            dumped.insert_into(self)

    def _taken(self, dumped: Dumped) -> tuple[list[str], int]:
        """Ids of ``dumped`` the file holds already in the same tenant, and how many it holds
        in other tenants (ids are global in SQLite)."""
        ours: list[str] = []
        elsewhere = 0
        for table, records in (
            ("episodes", dumped.episodes),
            ("memories", [m for m, _ in dumped.memories]),
            ("entities", [e for e, _, _ in dumped.entities]),
            ("extraction_jobs", dumped.jobs),
        ):
            tenants = {r.id: r.scope.tenant for r in records}
            for found, tenant in _existing(self._db, table, list(tenants)):
                if tenant == tenants[found]:
                    ours.append(found)
                else:
                    elsewhere += 1
        return ours, elsewhere


def _rows(db: sqlite3.Connection, clause: str, params: list[Any]) -> Iterator[tuple[str, Any]]:
    for row in db.execute(f"SELECT * FROM episodes {clause} ORDER BY rowid", params):
        yield "episode", episode_from_row(row, from_iso)
    for row in db.execute(
        f"SELECT m.*, v.vector AS vector FROM memories m LEFT JOIN vectors v USING (rk) "
        f"{clause.replace('tenant', 'm.tenant')} ORDER BY m.rk",
        params,
    ):
        vector = np.frombuffer(row["vector"], dtype=np.float32) if row["vector"] else None
        yield "memory", (memory_from_row(row, from_iso), vector)
    for row in db.execute(f"SELECT * FROM events {clause} ORDER BY seq", params):
        yield "event", event_from_row(row, from_iso)
    for row in db.execute(
        "SELECT e.*, (SELECT json_group_array(a.alias) FROM entity_aliases a "
        "WHERE a.entity_id = e.id) AS keys "
        f"FROM entities e {clause.replace('tenant', 'e.tenant')} "
        "ORDER BY e.created_at, e.id",
        params,
    ):
        vector = None if row["vector"] is None else np.frombuffer(row["vector"], np.float32)
        yield "entity", (entity_from_row(row, from_iso), vector, sorted(json.loads(row["keys"])))
    for tenant_id, memory_id, entity_id in db.execute(
        f"SELECT tenant, memory_id, entity_id FROM entity_links {clause} ORDER BY lk", params
    ):
        yield "entity_link", link_from_row(tenant_id, memory_id, entity_id)
    for row in db.execute(
        f"SELECT * FROM extraction_jobs {clause} ORDER BY created_at, id", params
    ):
        yield "extraction_job", job_from_row(row, from_iso)


def _existing(db: sqlite3.Connection, table: str, ids: Sequence[str]) -> list[tuple[str, str]]:
    """(id, tenant) of the ``ids`` the table holds."""
    found: list[tuple[str, str]] = []
    for start in range(0, len(ids), 500):
        chunk = list(dict.fromkeys(ids[start : start + 500]))
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT DISTINCT id, tenant FROM {table} WHERE id IN ({marks})"
        found += [(r[0], r[1]) for r in db.execute(sql, chunk)]
    return found
