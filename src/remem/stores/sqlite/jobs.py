"""The extraction queue in SQLite: claims serialised by the database's single writer."""

from __future__ import annotations

from typing import Any

from remem._time import from_iso, iso
from remem.model import ExtractionJob
from remem.stores import statements as sql
from remem.stores.operations import JobStore
from remem.stores.records import JobClaim
from remem.stores.rows import JOB_COLUMNS, job_from_row, job_row
from remem.stores.sqlite.connection import SQLiteConnection
from remem.stores.sqlite.dialect import SQLITE


class SQLiteJobs(SQLiteConnection, JobStore):
    def save_job(self, job: ExtractionJob) -> None:
        self._write()
        self._db.execute(
            sql.upsert(SQLITE, "extraction_jobs", JOB_COLUMNS, key=("id",)), job_row(job, iso)
        )

    def get_jobs(self, tenant: str, limit: int = 100) -> list[ExtractionJob]:
        with self._lock:
            rows = self._db.execute(sql.get_jobs(SQLITE), (tenant, limit)).fetchall()
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
        statement, columns = sql.update_job(SQLITE, release)
        values = dict(zip(JOB_COLUMNS, job_row(job, iso), strict=True))
        done = self._db.execute(
            statement, [*(values[c] for c in columns), job.scope.tenant, job.id, owner]
        )
        return done.rowcount == 1

    def delete_job(self, tenant: str, job_id: str, owner: str | None = None) -> bool:
        self._write()
        return self._db.execute(*sql.delete_job(SQLITE, tenant, job_id, owner)).rowcount == 1
