"""The embedded default: one SQLite file in WAL mode, searched through an in-memory index.

SQL is the source of truth. The index (row_index.py: exact vectors, BM25
postings, event times) is an in-memory copy used only to propose candidates;
every candidate is re-read through SQL with the caller's filter, so a stale
copy can cost a little recall for one query, never return a row it should
not. ``PRAGMA data_version`` tells when another process wrote.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from remem._time import from_iso, iso
from remem.errors import InvalidInput, StoreError
from remem.model import Entity, Episode, Event, ExtractionJob, MemoryRecord, Scope
from remem.stores.base import LINK_SCAN, Dumped, JobClaim, LifecycleChange, MemoryFilter
from remem.stores.checkpointer import WalCheckpointer
from remem.stores.row_index import PartKey, RowIndex, Window
from remem.stores.rows import (
    ENTITY_COLUMNS,
    EPISODE_COLUMNS,
    EVENT_COLUMNS,
    JOB_COLUMNS,
    MEMORY_COLUMNS,
    entity_from_row,
    entity_row,
    episode_from_row,
    episode_row,
    event_from_row,
    event_row,
    job_from_row,
    job_row,
    link_from_row,
    memory_from_row,
    memory_row,
)
from remem.stores.sqlite.dialect import INDEXED_METADATA
from remem.stores.sqlite.schema import migrate

#: Score vectors kept per store, so one search's signals share a scoring pass.
SCORE_CACHE = 8

#: Links whose memory (any version) is of one of the given kinds.
_LINK_KIND = (
    "EXISTS (SELECT 1 FROM memories m WHERE m.id = l.memory_id AND m.tenant = l.tenant "
    "AND m.kind IN ({marks}))"
)

_MEM_SELECT = ", ".join(f"m.{c}" for c in MEMORY_COLUMNS)


def _where(flt: MemoryFilter, by_key: bool = False) -> tuple[str, list[Any]]:
    """SQL conditions for ``flt`` over alias ``m``.

    ``by_key`` is for queries that already name their rows (``rk IN (...)``): the
    unary ``+`` keeps SQLite from scanning a scope index instead of the row ids. A
    filter naming memory ids gets the same treatment, so the (id, version) index drives.
    """
    m = "+m." if by_key or flt.ids is not None else "m."
    clauses = [f"{m}tenant = ?"]
    params: list[Any] = [flt.scope.tenant]
    for column in ("user_id", "agent_id", "session_id"):
        value = getattr(flt.scope, column)
        if value is not None:
            clauses.append(f"{m}{column} = ?")
            params.append(value)
    if flt.kinds:
        clauses.append(f"{m}kind IN ({','.join('?' * len(flt.kinds))})")
        params.extend(flt.kinds)
    if flt.layers:
        clauses.append(f"{m}layer IN ({','.join('?' * len(flt.layers))})")
        params.extend(flt.layers)
    if flt.as_of is not None:
        clauses.append(f"{m}recorded_at <= ? AND ({m}expired_at IS NULL OR {m}expired_at > ?)")
        params.extend([iso(flt.as_of), iso(flt.as_of)])
    else:
        clauses.append(
            f"{m}expired_at IS NULL AND {m}status IN ({','.join('?' * len(flt.statuses))})"
        )
        params.extend(flt.statuses)
    if flt.event_after is not None:
        clauses.append(f"{m}valid_from >= ?")
        params.append(iso(flt.event_after))
    if flt.event_before is not None:
        clauses.append(f"{m}valid_from < ?")
        params.append(iso(flt.event_before))
    for key, value in flt.metadata.items():
        value = int(value) if isinstance(value, bool) else value
        if key in INDEXED_METADATA:
            # Written out (from our own constant) so SQLite can use the expression index.
            clauses.append(f"json_extract(m.metadata, '$.\"{key}\"') = ?")
            params.append(value)
        else:
            # Keys from callers are bound as parameters: keys are data, never SQL.
            clauses.append("json_extract(m.metadata, ?) = ?")
            params.extend([f'$."{key}"', value])
    if flt.ids is not None:
        clauses.append(f"{'+m.' if by_key else 'm.'}id IN ({','.join('?' * len(flt.ids))})")
        params.extend(flt.ids)
    if flt.valid_at is not None:
        clauses.append(f"{m}valid_from <= ? AND ({m}valid_to IS NULL OR {m}valid_to > ?)")
        params.extend([iso(flt.valid_at), iso(flt.valid_at)])
    return " AND ".join(clauses), params


class SQLiteStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SQLite database at {self.path}: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._checkpointer = WalCheckpointer(self.path)
        self._depth = 0
        self._pending_rows: list[tuple[PartKey, int, np.ndarray | None, float | None, bool]] = []
        self._pending_removals: list[int] = []
        self._index: RowIndex | None = None
        self._scores: dict[tuple[Any, ...], dict[PartKey, np.ndarray]] = {}
        self._data_version: int | None = None
        self._dimension: int | None = None
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives any process crash; only power loss can drop the last commits.
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            migrate(self._db, str(self.path))
            dim = self._db.execute("SELECT value FROM meta WHERE key = 'dimension'").fetchone()
            self._dimension = int(dim[0]) if dim else None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable remem database: {exc}") from exc

    # -- plumbing -----------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                    self._pending_rows.clear()
                    self._pending_removals.clear()
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")
                self._apply_pending()
                self._checkpointer.poke()

    def _apply_pending(self) -> None:
        """Mirror committed writes into the in-memory index (never before the commit)."""
        if self._index is not None:
            self._index.remove(self._pending_removals)
            for part, rk, vector, when, directive in self._pending_rows:
                self._index.add(part, [rk], [vector], [when], [directive])
            self._data_version = self._db.execute("PRAGMA data_version").fetchone()[0]
        self._pending_rows.clear()
        self._pending_removals.clear()

    def _write(self) -> None:
        if self._depth == 0:
            raise StoreError("store writes must run inside store.transaction()")

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
                    "Open it with the same embedder, or export and import into a new store."
                )
            self._dimension = dimension

    # -- writes -------------------------------------------------------------
    def insert_episodes(self, episodes: Sequence[Episode]) -> None:
        self._write()
        self._db.executemany(
            f"INSERT INTO episodes ({', '.join(EPISODE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(EPISODE_COLUMNS))})",
            [episode_row(e, iso) for e in episodes],
        )

    def insert_memories(self, rows: Sequence[tuple[MemoryRecord, np.ndarray | None]]) -> None:
        self._write()
        sql = (
            f"INSERT INTO memories ({', '.join(MEMORY_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(MEMORY_COLUMNS))})"
        )
        for memory, vector in rows:
            try:
                rk = self._db.execute(sql, memory_row(memory, iso)).lastrowid
            except sqlite3.IntegrityError as exc:
                raise InvalidInput(
                    f"memory {memory.id} version {memory.version} already exists"
                ) from exc
            assert rk is not None
            self._db.executemany(
                "INSERT INTO memory_sources (rk, episode_id) VALUES (?, ?)",
                [(rk, source) for source in memory.provenance],
            )
            if vector is not None:
                vector = np.asarray(vector, dtype=np.float32)
                self._db.execute(
                    "INSERT INTO vectors (rk, vector) VALUES (?, ?)", (rk, vector.tobytes())
                )
            when = memory.valid_from.timestamp() if memory.valid_from else None
            self._pending_rows.append(
                (
                    (memory.scope.tenant, memory.scope.user_id),
                    rk,
                    vector,
                    when,
                    memory.metadata.get("directive") is True,
                )
            )

    def end_version(
        self, memory_id: str, version: int, status: str, at: datetime, tenant: str
    ) -> None:
        self._write()
        cursor = self._db.execute(
            "UPDATE memories SET status = ?, expired_at = ? "
            "WHERE id = ? AND version = ? AND tenant = ? AND expired_at IS NULL",
            (status, iso(at), memory_id, version, tenant),
        )
        if cursor.rowcount != 1:
            raise StoreError(f"memory {memory_id} v{version} is not current; nothing was changed")

    def set_status(self, memory_id: str, version: int, status: str, tenant: str) -> None:
        self._write()
        self._db.execute(
            "UPDATE memories SET status = ? WHERE id = ? AND version = ? AND tenant = ?",
            (status, memory_id, version, tenant),
        )

    def set_lifecycle(self, tenant: str, changes: Sequence[LifecycleChange]) -> int:
        self._write()
        cursor = self._db.executemany(
            "UPDATE memories SET layer = ?, stability = ?, pinned = ?, status = ?, "
            "access_count = access_count + ?, last_accessed_at = COALESCE(?, last_accessed_at) "
            "WHERE id = ? AND version = ? AND tenant = ? AND expired_at IS NULL",
            [
                (
                    c.layer,
                    c.stability,
                    int(c.pinned),
                    c.status,
                    int(c.recalled_at is not None),
                    iso(c.recalled_at),
                    c.id,
                    c.version,
                    tenant,
                )
                for c in changes
            ],
        )
        return max(cursor.rowcount, 0)

    def append_events(self, events: Sequence[Event]) -> list[Event]:
        self._write()
        stored = []
        sql = (
            f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
        )
        for event in events:
            seq = self._db.execute(sql, event_row(event, iso)).lastrowid
            stored.append(event.model_copy(update={"seq": seq}))
        return stored

    def next_seq(self, scope: Scope) -> int:
        row = self._db.execute(
            "SELECT MAX(seq) FROM episodes WHERE tenant = ? AND user_id IS ? AND agent_id IS ? "
            "AND session_id IS ?",
            (scope.tenant, scope.user_id, scope.agent_id, scope.session_id),
        ).fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def forget(self, memory_id: str, tenant: str) -> int:
        self._write()
        rks = [
            r[0]
            for r in self._db.execute(
                "SELECT rk FROM memories WHERE id = ? AND tenant = ?", (memory_id, tenant)
            )
        ]
        if not rks:
            return 0
        marks = ",".join("?" * len(rks))
        sources = [
            r[0]
            for r in self._db.execute(
                f"SELECT DISTINCT episode_id FROM memory_sources WHERE rk IN ({marks})", rks
            )
        ]
        self._db.execute(f"DELETE FROM memories WHERE rk IN ({marks})", rks)
        self._db.execute(
            "DELETE FROM events WHERE memory_id = ? AND tenant = ?", (memory_id, tenant)
        )
        linked = [
            r[0]
            for r in self._db.execute(
                "DELETE FROM entity_links WHERE tenant = ? AND memory_id = ? RETURNING entity_id",
                (tenant, memory_id),
            ).fetchall()
        ]
        for entity_id in linked:  # an entity nothing mentions any more goes too (its name is data)
            if not self._db.execute(
                "SELECT 1 FROM entity_links WHERE tenant = ? AND entity_id = ? LIMIT 1",
                (tenant, entity_id),
            ).fetchone():
                self._db.execute("DELETE FROM entities WHERE id = ?", (entity_id,))
        for episode_id in sources:
            still_cited = self._db.execute(
                "SELECT 1 FROM memory_sources WHERE episode_id = ? LIMIT 1", (episode_id,)
            ).fetchone()
            if not still_cited:
                self._db.execute("DELETE FROM episodes WHERE id = ?", (episode_id,))
        self._pending_removals.extend(rks)
        return len(rks)

    # -- knowledge graph ----------------------------------------------------
    def save_entities(
        self, rows: Sequence[tuple[Entity, np.ndarray | None, Sequence[str]]]
    ) -> None:
        self._write()
        # An upsert, not INSERT OR REPLACE: a replace deletes the row, and with it (cascade)
        # every link to the entity.
        columns = [*ENTITY_COLUMNS, "vector"]
        sql = (
            f"INSERT INTO entities ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            "ON CONFLICT (id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("id", "tenant"))
        )
        for entity, vector, keys in rows:
            blob = None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()
            self._db.execute("DELETE FROM entity_aliases WHERE entity_id = ?", (entity.id,))
            self._db.execute(sql, (*entity_row(entity, iso), blob))
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
        sql = "SELECT * FROM entities WHERE tenant = ? AND user_id IS ?"
        params: list[Any] = [tenant, user_id]
        if ids is not None:
            if not ids:
                return []
            sql += f" AND id IN ({','.join('?' * len(ids))})"
            params.extend(ids)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_at, id", params).fetchall()
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
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                for alias, entity_id in self._db.execute(
                    "SELECT alias, entity_id FROM entity_aliases WHERE tenant = ? "
                    f"AND user_id IS ? AND alias IN ({','.join('?' * len(chunk))})",
                    [tenant, user_id, *chunk],
                ):
                    found.setdefault(alias, []).append(entity_id)
        return found

    def link_entities(self, tenant: str, links: Sequence[tuple[str, str]]) -> None:
        self._write()
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
            sql = (
                "SELECT lk, memory_id, entity_id FROM entity_links l WHERE tenant = ? "
                f"AND memory_id IN ({','.join('?' * len(memory_ids))})"
            )
            params: list[Any] = [tenant, *memory_ids]
            if kinds:
                sql += f" AND {_LINK_KIND.format(marks=','.join('?' * len(kinds)))}"
                params.extend(kinds)
            with self._lock:
                rows = self._db.execute(sql + " ORDER BY lk DESC LIMIT ?", [*params, limit])
                return [(r[1], r[2]) for r in rows]
        # One index-ordered walk per entity, merged: an IN list would sort every link first.
        newest = (
            "SELECT lk, memory_id, entity_id, tenant FROM entity_links "
            "WHERE tenant = ? AND entity_id = ? ORDER BY lk DESC LIMIT ?"
        )
        found: list[tuple[int, str, str]] = []
        with self._lock:
            for entity_id in dict.fromkeys(entity_ids):
                if kinds:
                    rows = self._db.execute(
                        f"SELECT * FROM ({newest}) l WHERE "
                        f"{_LINK_KIND.format(marks=','.join('?' * len(kinds)))} LIMIT ?",
                        [tenant, entity_id, LINK_SCAN, *kinds, limit],
                    )
                else:
                    rows = self._db.execute(newest, [tenant, entity_id, limit])
                found.extend((r[0], r[1], r[2]) for r in rows)
        found.sort(reverse=True)
        return [(memory_id, entity_id) for _, memory_id, entity_id in found[:limit]]

    # -- extraction queue ---------------------------------------------------
    def save_job(self, job: ExtractionJob) -> None:
        self._write()
        updates = ", ".join(f"{c} = excluded.{c}" for c in JOB_COLUMNS if c != "id")
        self._db.execute(
            f"INSERT INTO extraction_jobs ({', '.join(JOB_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(JOB_COLUMNS))}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            job_row(job, iso),
        )

    def get_jobs(self, tenant: str, limit: int = 100) -> list[ExtractionJob]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM extraction_jobs WHERE tenant = ? ORDER BY created_at, id LIMIT ?",
                (tenant, limit),
            ).fetchall()
        return [job_from_row(r, from_iso) for r in rows]

    def claim_jobs(self, tenant: str, claim: JobClaim, limit: int = 1) -> list[ExtractionJob]:
        clauses = [
            "tenant = ?",
            f"status IN ({','.join('?' * len(claim.statuses))})",
            "(claimed_at IS NULL OR claimed_at < ?)",
        ]
        params: list[Any] = [tenant, *claim.statuses, iso(claim.stale_before)]
        if claim.due_only:
            clauses.append("(retry_at IS NULL OR retry_at <= ?)")
            params.append(iso(claim.now))
        if claim.after is not None:
            clauses.append("(created_at, id) > (?, ?)")
            params += [iso(claim.after[0]), claim.after[1]]
        if claim.ids is not None:
            clauses.append(f"id IN ({','.join('?' * len(claim.ids))})")
            params += claim.ids
        # BEGIN IMMEDIATE (transaction()) holds the database's write lock from the first
        # read, so no other connection can claim between this SELECT and the UPDATE.
        with self.transaction():
            rows = self._db.execute(
                f"SELECT * FROM extraction_jobs WHERE {' AND '.join(clauses)} "
                "ORDER BY created_at, id LIMIT ?",
                [*params, limit],
            ).fetchall()
            self._db.executemany(
                "UPDATE extraction_jobs SET claimed_by = ?, claimed_at = ? WHERE id = ?",
                [(claim.owner, iso(claim.now), r["id"]) for r in rows],
            )
        return [job_from_row(r, from_iso) for r in rows]

    def update_job(self, job: ExtractionJob, owner: str, release: bool = False) -> bool:
        self._write()
        columns = [c for c in JOB_COLUMNS if c not in ("id", "tenant")]
        values = dict(zip(JOB_COLUMNS, job_row(job, iso), strict=True))
        sets = ", ".join(f"{c} = ?" for c in columns)
        if release:
            sets += ", claimed_by = NULL, claimed_at = NULL"
        done = self._db.execute(
            f"UPDATE extraction_jobs SET {sets} WHERE tenant = ? AND id = ? AND claimed_by = ?",
            [*(values[c] for c in columns), job.scope.tenant, job.id, owner],
        )
        return done.rowcount == 1

    def delete_job(self, tenant: str, job_id: str, owner: str | None = None) -> bool:
        self._write()
        sql = "DELETE FROM extraction_jobs WHERE tenant = ? AND id = ?"
        params = [tenant, job_id]
        if owner is not None:
            sql += " AND claimed_by = ?"
            params.append(owner)
        return self._db.execute(sql, params).rowcount == 1

    # -- reads --------------------------------------------------------------
    def _memories(self, sql: str, params: Sequence[Any]) -> list[MemoryRecord]:
        with self._lock:
            return [memory_from_row(r, from_iso) for r in self._db.execute(sql, params)]

    def get_memory(
        self,
        memory_id: str,
        tenant: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> MemoryRecord | None:
        sql = f"SELECT {_MEM_SELECT} FROM memories m WHERE m.id = ? AND m.tenant = ?"
        params: list[Any] = [memory_id, tenant]
        if version is not None:
            sql += " AND m.version = ?"
            params.append(version)
        elif as_of is not None:
            sql += " AND m.recorded_at <= ? AND (m.expired_at IS NULL OR m.expired_at > ?)"
            params.extend([iso(as_of), iso(as_of)])
        rows = self._memories(sql + " ORDER BY m.version DESC LIMIT 1", params)
        return rows[0] if rows else None

    def versions(self, memory_id: str, tenant: str) -> list[MemoryRecord]:
        return self._memories(
            f"SELECT {_MEM_SELECT} FROM memories m WHERE m.id = ? AND m.tenant = ? ORDER BY m.version",
            (memory_id, tenant),
        )

    def list_memories(self, flt: MemoryFilter, *, limit: int, offset: int) -> list[MemoryRecord]:
        where, params = _where(flt)
        return self._memories(
            f"SELECT {_MEM_SELECT} FROM memories m WHERE {where} ORDER BY m.rk DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )

    def count_memories(self, flt: MemoryFilter) -> int:
        where, params = _where(flt)
        with self._lock:
            return int(
                self._db.execute(
                    f"SELECT COUNT(*) FROM memories m WHERE {where}", params
                ).fetchone()[0]
            )

    def text_search(
        self, terms: Sequence[str], flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        if not terms:
            return []
        with self._lock:
            index = self._sync_index()
            parts = index.parts_for(flt.scope.tenant, flt.scope.user_id)
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
            parts = index.parts_for(flt.scope.tenant, flt.scope.user_id)
            query = np.asarray(vector, dtype=np.float32)
            scores = self._scored(
                ("dense", query.tobytes()), parts, lambda: index.dense_scores(query, parts)
            )
            return self._ranked(index, scores, flt, k)

    def drop_score_cache(self) -> None:
        """Forget cached scoring passes (benchmarks use it to time each retriever alone)."""
        with self._lock:
            self._scores.clear()

    def _scored(
        self,
        what: tuple[Any, ...],
        parts: list[PartKey],
        compute: Callable[[], dict[PartKey, np.ndarray]],
    ) -> dict[PartKey, np.ndarray]:
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
        self, index: RowIndex, scores: dict[PartKey, np.ndarray], flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``k`` best rows the filter admits: index masks first, then SQL for the rest."""
        window = Window(
            after=flt.event_after.timestamp() if flt.event_after else None,
            before=flt.event_before.timestamp() if flt.event_before else None,
            directive=flt.metadata.get("directive") is True,
        )
        first = max(k * 3, 32)
        keys, values, admitted = index.top(scores, first, window)
        survivors = self._admitted(keys, flt)
        if len(survivors) < k and admitted > len(keys):
            # The SQL re-check (status, versions, kinds, other metadata) rejected too many:
            # rank exactly the rows it admits instead.
            where, params = _where(flt)
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
        # Only the winners are read in full: building records is most of a search's Python time.
        rows = {r["rk"]: r for r in self._rows_by_key(np.array([key for key, _ in best]), flt)}
        return [(memory_from_row(rows[key], from_iso), score) for key, score in best if key in rows]

    def _admitted(self, keys: np.ndarray, flt: MemoryFilter) -> set[int]:
        if len(keys) == 0:
            return set()
        where, params = _where(flt, by_key=True)
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
        if self._index is None:
            self._index = RowIndex(self._dimension or 384)
        rows = self._db.execute(
            "SELECT m.rk, m.tenant, m.user_id, m.valid_from, "
            "json_extract(m.metadata, '$.\"directive\"'), v.vector "
            "FROM memories m LEFT JOIN vectors v USING (rk) WHERE m.rk > ? ORDER BY m.rk",
            (self._index.max_key,),
        ).fetchall()
        by_part: dict[PartKey, tuple[list[int], list[Any], list[Any], list[bool]]] = {}
        for rk, tenant, user_id, valid_from, directive, blob in rows:
            keys, vectors, when, flags = by_part.setdefault((tenant, user_id), ([], [], [], []))
            keys.append(rk)
            vectors.append(None if blob is None else np.frombuffer(blob, dtype=np.float32))
            when.append(from_iso(valid_from).timestamp() if valid_from else None)
            flags.append(directive == 1)
        for part, (keys, vectors, when, flags) in by_part.items():
            self._index.add(part, keys, vectors, when, flags)
        self._data_version = version
        return self._index

    def _rows_by_key(self, keys: np.ndarray, flt: MemoryFilter) -> list[sqlite3.Row]:
        if len(keys) == 0:
            return []
        where, params = _where(flt, by_key=True)
        marks = ",".join("?" * len(keys))
        return self._db.execute(
            f"SELECT m.rk, {_MEM_SELECT} FROM memories m WHERE m.rk IN ({marks}) AND {where}",
            [*keys.tolist(), *params],
        ).fetchall()

    def get_episodes(self, ids: Sequence[str], tenant: str) -> list[Episode]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM episodes WHERE id IN ({marks}) AND +tenant = ?", [*ids, tenant]
            ).fetchall()
        found = {r["id"]: episode_from_row(r, from_iso) for r in rows}
        return [found[i] for i in ids if i in found]

    def neighbours(self, episode: Episode, window: int) -> list[Episode]:
        s = episode.scope
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM episodes WHERE tenant = ? AND user_id IS ? AND agent_id IS ? "
                "AND session_id IS ? AND seq BETWEEN ? AND ? ORDER BY seq",
                (
                    s.tenant,
                    s.user_id,
                    s.agent_id,
                    s.session_id,
                    episode.seq - window,
                    episode.seq + window,
                ),
            ).fetchall()
        return [episode_from_row(r, from_iso) for r in rows]

    def events(
        self, tenant: str, memory_id: str | None = None, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Event]:
        sql = "SELECT * FROM events WHERE tenant = ? AND seq > ?"
        params: list[Any] = [tenant, after_seq]
        if memory_id is not None:
            sql += " AND memory_id = ?"
            params.append(memory_id)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq LIMIT ?", [*params, limit]).fetchall()
        return [event_from_row(r, from_iso) for r in rows]

    def stats(self, scope: Scope) -> dict[str, Any]:
        where = "tenant = ?" + (" AND user_id = ?" if scope.user_id else "")
        params = [scope.tenant, *([scope.user_id] if scope.user_id else [])]
        with self._lock:
            by = self._db.execute(
                f"SELECT kind, status, COUNT(*) FROM memories WHERE {where} GROUP BY kind, status",
                params,
            ).fetchall()
            episodes = self._db.execute(f"SELECT COUNT(*) FROM episodes WHERE {where}", params)
            events = self._db.execute(f"SELECT COUNT(*) FROM events WHERE {where}", params)
            n_episodes, n_events = episodes.fetchone()[0], events.fetchone()[0]
            n_entities = self._db.execute(
                f"SELECT COUNT(*) FROM entities WHERE {where}", params
            ).fetchone()[0]
            jobs = dict(
                self._db.execute(
                    f"SELECT status, COUNT(*) FROM extraction_jobs WHERE {where} GROUP BY status",
                    params,
                ).fetchall()
            )
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        counts: dict[str, dict[str, int]] = {}
        for kind, status, n in by:
            counts.setdefault(kind, {})[status] = n
        files = [self.path, self.path.with_name(self.path.name + "-wal")]
        return {
            "backend": "sqlite",
            "url": self.url,
            "bytes": sum(f.stat().st_size for f in files if f.exists()),
            "embedder": meta.get("embedder"),
            "dimension": int(meta["dimension"]) if "dimension" in meta else None,
            "episodes": n_episodes,
            "events": n_events,
            "memories": counts,
            "entities": n_entities,
            "extraction_queue": {
                "pending": jobs.get("pending", 0),
                "failed": jobs.get("failed", 0),
            },
        }

    # -- portability --------------------------------------------------------
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

    def load(self, items: Sequence[tuple[str, Any]]) -> None:
        dumped = Dumped.of(items)
        with self.transaction():
            taken = (
                self._existing("episodes", [e.id for e in dumped.episodes])
                + self._existing("memories", [m.id for m, _ in dumped.memories])
                + self._existing("entities", [e.id for e, _, _ in dumped.entities])
                + self._existing("extraction_jobs", [j.id for j in dumped.jobs])
            )
            if taken:
                raise InvalidInput(
                    f"import collides with {len(taken)} record(s) already stored "
                    f"(e.g. {', '.join(taken[:3])}); import into a fresh store"
                )
            self.insert_episodes(dumped.episodes)
            self.insert_memories(dumped.memories)
            self.append_events(dumped.events)
            self.save_entities(dumped.entities)
            for tenant, pairs in dumped.link_runs():
                self.link_entities(tenant, pairs)
            for job in dumped.jobs:
                self.save_job(job)

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

    def _existing(self, table: str, ids: Sequence[str]) -> list[str]:
        found: list[str] = []
        for start in range(0, len(ids), 500):
            chunk = list(dict.fromkeys(ids[start : start + 500]))
            marks = ",".join("?" * len(chunk))
            found += [
                r[0]
                for r in self._db.execute(
                    f"SELECT DISTINCT id FROM {table} WHERE id IN ({marks})", chunk
                )
            ]
        return found

    def close(self) -> None:
        self._checkpointer.close()
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
