"""The knowledge graph in PostgreSQL: entities and links keyed by tenant, vectors as bytes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from remem.model import Entity
from remem.stores import statements as sql
from remem.stores.operations import GraphStore
from remem.stores.postgres.connection import PostgresConnection
from remem.stores.postgres.dialect import POSTGRES
from remem.stores.records import LINK_SCAN, EntityRow
from remem.stores.rows import ENTITY_COLUMNS, entity_from_row, entity_row


class PostgresGraph(PostgresConnection, GraphStore):
    def save_entities(self, rows: Sequence[EntityRow]) -> None:
        conn = self._write()
        if not rows:
            return
        # A vector staged by a re-embedding is of the old name.
        columns = [*ENTITY_COLUMNS, "vector", "vector_next"]
        statement = sql.upsert(POSTGRES, "entities", columns, key=("tenant", "id"))
        with self._translate():
            for entity, vector, keys in rows:
                blob = None if vector is None else np.asarray(vector, dtype="<f4").tobytes()
                tenant = entity.scope.tenant
                conn.execute(
                    "DELETE FROM entity_aliases WHERE tenant = %s AND entity_id = %s",
                    (tenant, entity.id),
                )
                conn.execute(statement, (*entity_row(entity), blob, None))
                if keys:
                    conn.execute(
                        "INSERT INTO entity_aliases (tenant, user_id, alias, entity_id) "
                        "SELECT %s, %s, a, %s FROM unnest(%s::text[]) AS a",
                        (tenant, entity.scope.user_id, entity.id, list(dict.fromkeys(keys))),
                    )

    def get_entities(
        self, tenant: str, user_id: str | None, ids: Sequence[str] | None = None
    ) -> list[tuple[Entity, np.ndarray | None]]:
        sql = (
            f"SELECT {', '.join(ENTITY_COLUMNS)}, vector FROM entities "
            "WHERE tenant = %s AND user_id IS NOT DISTINCT FROM %s"
        )
        params: list[Any] = [tenant, user_id]
        if ids is not None:
            if not ids:
                return []
            sql += " AND id = ANY(%s)"
            params.append(list(ids))
        with self._conn() as conn:
            rows = conn.execute(sql + " ORDER BY created_at, id", params).fetchall()
        return [
            (
                entity_from_row(r),
                None if r["vector"] is None else np.frombuffer(r["vector"], dtype="<f4").copy(),
            )
            for r in rows
        ]

    def entities_by_alias(
        self, tenant: str, user_id: str | None, aliases: Sequence[str]
    ) -> dict[str, list[str]]:
        if not aliases:
            return {}
        found: dict[str, list[str]] = {}
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT alias, entity_id FROM entity_aliases WHERE tenant = %s "
                "AND user_id IS NOT DISTINCT FROM %s AND alias = ANY(%s)",
                (tenant, user_id, list(dict.fromkeys(aliases))),
            ).fetchall()
        for r in rows:
            found.setdefault(r["alias"], []).append(r["entity_id"])
        return found

    def link_entities(self, tenant: str, links: Sequence[tuple[str, str]]) -> None:
        conn = self._write()
        if not links:
            return
        with self._translate():
            conn.execute(
                "INSERT INTO entity_links (tenant, memory_id, entity_id) "
                "SELECT %s, m, e FROM unnest(%s::text[], %s::text[]) AS x(m, e) "
                "ON CONFLICT DO NOTHING",
                (tenant, [m for m, _ in links], [e for _, e in links]),
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
        kind = (
            " AND EXISTS (SELECT 1 FROM memories m WHERE m.tenant = %(tenant)s "
            "AND m.id = l.memory_id AND m.kind = ANY(%(kinds)s))"
            if kinds
            else ""
        )
        params = {"tenant": tenant, "kinds": list(kinds or ()), "limit": limit, "scan": LINK_SCAN}
        if entity_ids is None:
            if not memory_ids:
                return []
            sql = (
                "SELECT memory_id, entity_id FROM entity_links l WHERE tenant = %(tenant)s "
                f"AND memory_id = ANY(%(values)s){kind} ORDER BY lk DESC LIMIT %(limit)s"
            )
            params["values"] = list(memory_ids)
        else:
            if not entity_ids:
                return []
            # One index-ordered walk per entity (LATERAL), so a hub entity costs a bounded scan.
            newest = "LIMIT %(scan)s" if kinds else "LIMIT %(limit)s"
            sql = (
                "SELECT l.memory_id, l.entity_id FROM unnest(%(values)s::text[]) AS e(id) "
                "CROSS JOIN LATERAL (SELECT lk, memory_id, entity_id, tenant FROM entity_links "
                f"WHERE tenant = %(tenant)s AND entity_id = e.id ORDER BY lk DESC {newest}) l "
                f"WHERE TRUE{kind} ORDER BY l.lk DESC LIMIT %(limit)s"
            )
            params["values"] = list(dict.fromkeys(entity_ids))
        with self._conn() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [(r["memory_id"], r["entity_id"]) for r in rows]
