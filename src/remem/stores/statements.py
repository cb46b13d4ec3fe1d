"""The SQL both backends run, written once for any ``Dialect``.

What a filter admits (``memory_where``) is the heart of it: one text for both backends
means one meaning. Statements whose shape differs by more than spelling (a ``RETURNING``
here, an array parameter there, a lock) stay with their backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from remem.model import Scope
from remem.stores.records import HELD_STATUSES, MemoryFilter
from remem.stores.rows import EVENT_COLUMNS, JOB_COLUMNS, MEMORY_COLUMNS
from remem.stores.sql import Dialect

MEMORY_SELECT = ", ".join(f"m.{c}" for c in MEMORY_COLUMNS)
EVENT_SELECT = "seq, " + ", ".join(EVENT_COLUMNS)
JOB_SELECT = ", ".join(JOB_COLUMNS)

Rows = Callable[[str, Sequence[Any]], Sequence[Sequence[Any]]]


def insert(d: Dialect, table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({d.values(columns)})"


def upsert(
    d: Dialect,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    fixed: Sequence[str] | None = None,
) -> str:
    """Insert, or on a ``key`` conflict overwrite every column but ``fixed`` (the key)."""
    keep = key if fixed is None else fixed
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keep)
    return f"{insert(d, table, columns)} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"


# -- memories ------------------------------------------------------------------------------
def memory_where(flt: MemoryFilter, d: Dialect, by_key: bool = False) -> tuple[str, list[Any]]:
    """SQL conditions for ``flt`` over alias ``m``, and their parameters.

    ``by_key`` is for queries that already name their rows (``rk IN (...)``): the
    dialect's ``unindexed`` prefix keeps SQLite from scanning a scope index instead of
    the row ids. A filter naming memory ids gets the same treatment, so the (id,
    version) index drives.
    """
    mark = d.mark
    m = f"{d.unindexed}m." if by_key or flt.ids is not None else "m."
    clauses = [f"{m}tenant = {mark}"]
    params: list[Any] = [flt.scope.tenant]
    for column in ("user_id", "agent_id", "session_id"):
        value = getattr(flt.scope, column)
        if value is not None:
            clauses.append(f"{m}{column} = {mark}")
            params.append(value)
    for column, values in (("kind", flt.kinds), ("layer", flt.layers), ("trust", flt.trust)):
        if values:
            clause, bound = d.one_of(m + column, values)
            clauses.append(clause)
            params.extend(bound)
    if flt.as_of is not None:
        clauses.append(
            f"{m}recorded_at <= {mark} AND ({m}expired_at IS NULL OR {m}expired_at > {mark})"
        )
        params.extend([d.time(flt.as_of)] * 2)
        hidden = [s for s in HELD_STATUSES if s not in flt.statuses]
        if hidden:
            clause, bound = d.one_of(f"{m}status", hidden)
            clauses.append(f"NOT {clause}")
            params.extend(bound)
    else:
        clause, bound = d.one_of(f"{m}status", flt.statuses)
        clauses.append(f"{m}expired_at IS NULL AND {clause}")
        params.extend(bound)
    if flt.event_after is not None:
        clauses.append(f"{m}valid_from >= {mark}")
        params.append(d.time(flt.event_after))
    if flt.event_before is not None:
        clauses.append(f"{m}valid_from < {mark}")
        params.append(d.time(flt.event_before))
    for key, value in flt.metadata.items():
        clause, bound = d.metadata(key, value)
        clauses.append(clause)
        params.extend(bound)
    if flt.ids is not None:
        clause, bound = d.one_of(f"{d.unindexed if by_key else ''}m.id", flt.ids)
        clauses.append(clause)
        params.extend(bound)
    if flt.valid_at is not None:
        clauses.append(f"{m}valid_from <= {mark} AND ({m}valid_to IS NULL OR {m}valid_to > {mark})")
        params.extend([d.time(flt.valid_at)] * 2)
    return " AND ".join(clauses), params


def get_memory(
    d: Dialect,
    memory_id: str,
    tenant: str,
    version: int | None = None,
    as_of: datetime | None = None,
) -> tuple[str, list[Any]]:
    """The newest row of a memory (or its ``version``, or the one current at ``as_of``)."""
    mark = d.mark
    sql = f"SELECT {MEMORY_SELECT} FROM memories m WHERE m.tenant = {mark} AND m.id = {mark}"
    params: list[Any] = [tenant, memory_id]
    if version is not None:
        sql += f" AND m.version = {mark}"
        params.append(version)
    elif as_of is not None:
        sql += f" AND m.recorded_at <= {mark} AND (m.expired_at IS NULL OR m.expired_at > {mark})"
        params.extend([d.time(as_of)] * 2)
    return sql + " ORDER BY m.version DESC LIMIT 1", params


def versions(d: Dialect) -> str:
    return (
        f"SELECT {MEMORY_SELECT} FROM memories m WHERE m.tenant = {d.mark} AND m.id = {d.mark} "
        "ORDER BY m.version"
    )


def list_memories(d: Dialect, flt: MemoryFilter, limit: int, offset: int) -> tuple[str, list[Any]]:
    """A page, newest first. A page of a whole tenant (no user, agent or session) keeps SQLite
    off the scope indexes: it walks the row ids newest first and stops after ``offset +
    limit`` matches, where the tenant index made it sort every row of the tenant (840 ms
    -> 0.3 ms a page at 100k memories; docs/benchmarks.md, the inspector's page)."""
    s = flt.scope
    whole_tenant = s.user_id is None and s.agent_id is None and s.session_id is None
    # memories named by id are found by the id index: walking the tenant for them would scan
    # every row (the recall counted after each search does this)
    where, params = memory_where(flt, d, by_key=whole_tenant and flt.ids is None)
    return (
        f"SELECT {MEMORY_SELECT} FROM memories m WHERE {where} "
        f"ORDER BY m.rk DESC LIMIT {d.mark} OFFSET {d.mark}",
        [*params, limit, offset],
    )


def count_memories(d: Dialect, flt: MemoryFilter) -> tuple[str, list[Any]]:
    where, params = memory_where(flt, d)
    return f"SELECT COUNT(*) AS n FROM memories m WHERE {where}", params


def end_version(d: Dialect, by_tenant: bool = True) -> str:
    """Close a current row: status, expired_at, id, version[, tenant]."""
    mark = d.mark
    return (
        f"UPDATE memories SET status = {mark}, expired_at = {mark} "
        f"WHERE id = {mark} AND version = {mark} AND expired_at IS NULL"
        + (f" AND tenant = {mark}" if by_tenant else "")
    )


def set_status(d: Dialect, by_tenant: bool = True) -> str:
    """status, id, version[, tenant]."""
    mark = d.mark
    return f"UPDATE memories SET status = {mark} WHERE id = {mark} AND version = {mark}" + (
        f" AND tenant = {mark}" if by_tenant else ""
    )


# -- events and jobs -----------------------------------------------------------------------
def events(
    d: Dialect, tenant: str, memory_id: str | None, after_seq: int, limit: int
) -> tuple[str, list[Any]]:
    sql = f"SELECT {EVENT_SELECT} FROM events WHERE tenant = {d.mark} AND seq > {d.mark}"
    params: list[Any] = [tenant, after_seq]
    if memory_id is not None:
        sql += f" AND memory_id = {d.mark}"
        params.append(memory_id)
    return f"{sql} ORDER BY seq LIMIT {d.mark}", [*params, limit]


def get_jobs(d: Dialect) -> str:
    """tenant, limit: oldest first."""
    return (
        f"SELECT {JOB_SELECT} FROM extraction_jobs WHERE tenant = {d.mark} "
        f"ORDER BY created_at, id{d.byte_order} LIMIT {d.mark}"
    )


def update_job(d: Dialect, release: bool) -> tuple[str, list[str]]:
    """The statement writing a claimed job's fields, and the columns it binds first (then
    tenant, id, owner)."""
    columns = [c for c in JOB_COLUMNS if c not in ("id", "tenant")]
    sets = ", ".join(f"{c} = {d.mark}" for c in columns)
    if release:
        sets += ", claimed_by = NULL, claimed_at = NULL"
    mark = d.mark
    return (
        f"UPDATE extraction_jobs SET {sets} "
        f"WHERE tenant = {mark} AND id = {mark} AND claimed_by = {mark}",
        columns,
    )


def delete_job(d: Dialect, tenant: str, job_id: str, owner: str | None) -> tuple[str, list[Any]]:
    sql = f"DELETE FROM extraction_jobs WHERE tenant = {d.mark} AND id = {d.mark}"
    if owner is None:
        return sql, [tenant, job_id]
    return f"{sql} AND claimed_by = {d.mark}", [tenant, job_id, owner]


# -- stats ---------------------------------------------------------------------------------
def counts(d: Dialect, rows: Rows, scope: Scope) -> dict[str, Any]:
    """What ``Store.stats`` counts in ``scope`` (its tenant, and its user when set);
    ``rows(sql, params)`` runs a query and returns its rows as sequences."""
    where = f"tenant = {d.mark}" + (f" AND user_id = {d.mark}" if scope.user_id else "")
    params = [scope.tenant, *([scope.user_id] if scope.user_id else [])]

    def count(table: str) -> int:
        return int(rows(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)[0][0])

    memories: dict[str, dict[str, int]] = {}
    for kind, status, n in rows(
        f"SELECT kind, status, COUNT(*) FROM memories WHERE {where} GROUP BY kind, status",
        params,
    ):
        memories.setdefault(kind, {})[status] = n
    episodes, events = count("episodes"), count("events")
    entities = count("entities")
    jobs: dict[str, int] = {
        status: n
        for status, n in rows(
            f"SELECT status, COUNT(*) FROM extraction_jobs WHERE {where} GROUP BY status",
            params,
        )
    }
    return {
        "episodes": episodes,
        "events": events,
        "memories": memories,
        "entities": entities,
        "extraction_queue": {"pending": jobs.get("pending", 0), "failed": jobs.get("failed", 0)},
    }
