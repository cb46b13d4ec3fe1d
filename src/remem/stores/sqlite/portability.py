"""Every record out of SQLite from one snapshot (``dump``), and back in verbatim (``load``)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from remem._time import from_iso
from remem.errors import InvalidInput
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
from remem.stores.sqlite.connection import SQLiteConnection


class _Loading(Store, Protocol):
    """What ``load`` writes through: every concern of the store, after its own check."""

    def _taken(self, dumped: Dumped) -> list[str]: ...


class SQLitePortability(SQLiteConnection, PortableStore):
    def dump(self, tenant: str | None = None) -> Iterator[tuple[str, Any]]:
        clause, params = ("WHERE tenant = ?", [tenant]) if tenant else ("", [])
        with self._snapshot():
            episodes = self._db.execute(
                f"SELECT * FROM episodes {clause} ORDER BY rowid", params
            ).fetchall()
            memories = self._db.execute(
                f"SELECT m.*, v.vector AS vector FROM memories m LEFT JOIN vectors v USING (rk) "
                f"{clause.replace('tenant', 'm.tenant')} ORDER BY m.rk",
                params,
            ).fetchall()
            events = self._db.execute(
                f"SELECT * FROM events {clause} ORDER BY seq", params
            ).fetchall()
            entities = self._db.execute(
                "SELECT e.*, (SELECT json_group_array(a.alias) FROM entity_aliases a "
                "WHERE a.entity_id = e.id) AS keys "
                f"FROM entities e {clause.replace('tenant', 'e.tenant')} "
                "ORDER BY e.created_at, e.id",
                params,
            ).fetchall()
            links = self._db.execute(
                f"SELECT tenant, memory_id, entity_id FROM entity_links {clause} ORDER BY lk",
                params,
            ).fetchall()
            jobs = self._db.execute(
                f"SELECT * FROM extraction_jobs {clause} ORDER BY created_at, id", params
            ).fetchall()
        for row in episodes:
            yield "episode", episode_from_row(row, from_iso)
        for row in memories:
            vector = np.frombuffer(row["vector"], dtype=np.float32) if row["vector"] else None
            yield "memory", (memory_from_row(row, from_iso), vector)
        for row in events:
            yield "event", event_from_row(row, from_iso)
        for row in entities:
            vector = None if row["vector"] is None else np.frombuffer(row["vector"], np.float32)
            keys = sorted(json.loads(row["keys"]))
            yield "entity", (entity_from_row(row, from_iso), vector, keys)
        for tenant_id, memory_id, entity_id in links:
            yield "entity_link", link_from_row(tenant_id, memory_id, entity_id)
        for row in jobs:
            yield "extraction_job", job_from_row(row, from_iso)

    def load(self: _Loading, items: Sequence[tuple[str, Any]]) -> None:
        dumped = Dumped.of(items)
        with self.transaction():
            taken = self._taken(dumped)
            if taken:
                raise InvalidInput(
                    f"import collides with {len(taken)} record(s) already stored "
                    f"(e.g. {', '.join(taken[:3])}); import into a fresh store"
                )
            dumped.insert_into(self)

    def _taken(self, dumped: Dumped) -> list[str]:
        """Ids of ``dumped`` the file holds already (ids are global in SQLite)."""
        return (
            _existing(self._db, "episodes", [e.id for e in dumped.episodes])
            + _existing(self._db, "memories", [m.id for m, _ in dumped.memories])
            + _existing(self._db, "entities", [e.id for e, _, _ in dumped.entities])
            + _existing(self._db, "extraction_jobs", [j.id for j in dumped.jobs])
        )


def _existing(db: sqlite3.Connection, table: str, ids: Sequence[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = list(dict.fromkeys(ids[start : start + 500]))
        marks = ",".join("?" * len(chunk))
        found += [
            r[0]
            for r in db.execute(f"SELECT DISTINCT id FROM {table} WHERE id IN ({marks})", chunk)
        ]
    return found
