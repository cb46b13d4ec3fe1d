"""The knowledge graph in SQLite: entity ids are global, links keyed by an ``lk`` row id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from remem._time import from_iso, iso
from remem.model import Entity
from remem.stores import statements as sql
from remem.stores.operations import GraphStore
from remem.stores.records import LINK_SCAN, EntityRow
from remem.stores.rows import ENTITY_COLUMNS, entity_from_row, entity_row
from remem.stores.sqlite.connection import SQLiteConnection
from remem.stores.sqlite.dialect import SQLITE

#: Names looked up at once past which the user's aliases are counted, and walked if fewer.
ALIAS_SCAN_FROM = 1000
#: Entity link walks kept between writes (``_link_walks_now``): each holds at most its
#: ``limit`` links (500 from the graph signal), so the cache stays under ~20 MiB.
LINK_WALKS = 256
#: Links whose memory (any version) is of one of the given kinds.
_LINK_KIND = (
    "EXISTS (SELECT 1 FROM memories m WHERE m.id = l.memory_id AND m.tenant = l.tenant "
    "AND m.kind IN ({marks}))"
)


class SQLiteGraph(SQLiteConnection, GraphStore):
    def save_entities(self, rows: Sequence[EntityRow]) -> None:
        self._write()
        # An upsert, not INSERT OR REPLACE: a replace deletes the row, and with it (cascade)
        # every link to the entity. A vector staged by a re-embedding is of the old name.
        columns = [*ENTITY_COLUMNS, "vector", "vector_next"]
        statement = sql.upsert(SQLITE, "entities", columns, key=("id",), fixed=("id", "tenant"))
        for entity, vector, keys in rows:
            blob = None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()
            self._db.execute("DELETE FROM entity_aliases WHERE entity_id = ?", (entity.id,))
            self._db.execute(statement, (*entity_row(entity, iso), blob, None))
            self._db.executemany(
                "INSERT INTO entity_aliases (tenant, user_id, alias, entity_id) VALUES (?, ?, ?, ?)",
                [
                    (entity.scope.tenant, entity.scope.user_id, key, entity.id)
                    for key in dict.fromkeys(keys)
                ],
            )

    def get_entities(
        self, tenant: str, user_id: str | None, ids: Sequence[str] | None = None
    ) -> list[tuple[Entity, np.ndarray | None]]:
        statement = "SELECT * FROM entities WHERE tenant = ? AND user_id IS ?"
        params: list[Any] = [tenant, user_id]
        if ids is not None:
            if not ids:
                return []
            statement += f" AND id IN ({','.join('?' * len(ids))})"
            params.extend(ids)
        with self._lock:
            rows = self._db.execute(statement + " ORDER BY created_at, id", params).fetchall()
        return [
            (
                entity_from_row(r, from_iso),
                None if r["vector"] is None else np.frombuffer(r["vector"], dtype=np.float32),
            )
            for r in rows
        ]

    def entities_by_alias(
        self, tenant: str, user_id: str | None, aliases: Sequence[str]
    ) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        unique = list(dict.fromkeys(aliases))
        with self._lock:
            if len(unique) > ALIAS_SCAN_FROM and self._alias_count(tenant, user_id) < len(unique):
                # A long text's n-grams outnumber the user's aliases: one walk of the user's
                # aliases (in index order, as the lookups would find them) is the cheaper read.
                wanted = set(unique)
                for alias, entity_id in self._db.execute(
                    "SELECT alias, entity_id FROM entity_aliases WHERE tenant = ? "
                    "AND user_id IS ? ORDER BY alias, rowid",
                    [tenant, user_id],
                ):
                    if alias in wanted:
                        found.setdefault(alias, []).append(entity_id)
                return found
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                for alias, entity_id in self._db.execute(
                    "SELECT alias, entity_id FROM entity_aliases WHERE tenant = ? "
                    f"AND user_id IS ? AND alias IN ({','.join('?' * len(chunk))})",
                    [tenant, user_id, *chunk],
                ):
                    found.setdefault(alias, []).append(entity_id)
        return found

    def _alias_count(self, tenant: str, user_id: str | None) -> int:
        (count,) = self._db.execute(
            "SELECT count(*) FROM entity_aliases WHERE tenant = ? AND user_id IS ?",
            (tenant, user_id),
        ).fetchone()
        return int(count)

    def link_entities(self, tenant: str, links: Sequence[tuple[str, str]]) -> None:
        self._write()
        self._graph_serial += 1
        self._db.executemany(
            "INSERT OR IGNORE INTO entity_links (tenant, memory_id, entity_id) VALUES (?, ?, ?)",
            [(tenant, memory_id, entity_id) for memory_id, entity_id in links],
        )

    def entity_links(
        self,
        tenant: str,
        *,
        entity_ids: Sequence[str] | None = None,
        memory_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 10_000,
    ) -> list[tuple[str, str]]:
        if entity_ids is None:
            if not memory_ids:
                return []
            statement = (
                "SELECT lk, memory_id, entity_id FROM entity_links l WHERE tenant = ? "
                f"AND memory_id IN ({','.join('?' * len(memory_ids))})"
            )
            params: list[Any] = [tenant, *memory_ids]
            if kinds:
                statement += f" AND {_LINK_KIND.format(marks=','.join('?' * len(kinds)))}"
                params.extend(kinds)
            with self._lock:
                rows = self._db.execute(statement + " ORDER BY lk DESC LIMIT ?", [*params, limit])
                return [(r[1], r[2]) for r in rows]
        # One index-ordered walk per entity, merged: an IN list would sort every link first.
        found: list[tuple[int, str, str]] = []
        with self._lock:
            walks = self._link_walks_now()
            for entity_id in dict.fromkeys(entity_ids):
                key = (tenant, entity_id, tuple(kinds or ()), limit)
                walk = walks.get(key)
                if walk is None:
                    walk = self._walk_links(tenant, entity_id, kinds, limit)
                    if len(walks) >= LINK_WALKS:
                        walks.pop(next(iter(walks)))
                    walks[key] = walk
                found.extend(walk)
        found.sort(reverse=True)
        return [(memory_id, entity_id) for _, memory_id, entity_id in found[:limit]]

    def _walk_links(
        self, tenant: str, entity_id: str, kinds: Sequence[str] | None, limit: int
    ) -> list[tuple[int, str, str]]:
        """An entity's newest links (of memories of ``kinds``), newest first."""
        newest = (
            "SELECT lk, memory_id, entity_id, tenant FROM entity_links "
            "WHERE tenant = ? AND entity_id = ? ORDER BY lk DESC LIMIT ?"
        )
        if kinds:
            rows = self._db.execute(
                f"SELECT * FROM ({newest}) l WHERE "
                f"{_LINK_KIND.format(marks=','.join('?' * len(kinds)))} LIMIT ?",
                [tenant, entity_id, LINK_SCAN, *kinds, limit],
            )
        else:
            rows = self._db.execute(newest, [tenant, entity_id, limit])
        return [(r[0], r[1], r[2]) for r in rows]

    def _link_walks_now(self) -> dict[tuple[Any, ...], list[tuple[int, str, str]]]:
        """The entity walks read since the links last changed (here or in another process).

        A search names the same entities again and again; reading an entity's newest links
        (each checked against its memory's kind) was most of the graph signal's time. Any
        write of links or memories here bumps ``_graph_serial``; another process's commit
        changes ``PRAGMA data_version``; either empties the cache.
        """
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        state = (self._graph_serial, version)
        if state != self._link_state:
            self._link_walks.clear()
            self._link_state = state
        return self._link_walks
