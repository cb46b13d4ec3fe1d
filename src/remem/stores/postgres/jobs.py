"""The extraction queue in PostgreSQL: claims taken with ``FOR UPDATE SKIP LOCKED``."""

from __future__ import annotations

from typing import Any

from remem.model import ExtractionJob
from remem.stores import statements as sql
from remem.stores.operations import JobStore
from remem.stores.postgres.connection import PostgresConnection
from remem.stores.postgres.dialect import POSTGRES
from remem.stores.records import JobClaim
from remem.stores.rows import JOB_COLUMNS, job_from_row, job_row


class PostgresJobs(PostgresConnection, JobStore):
    def save_job(self, job: ExtractionJob) -> None:
        conn = self._write()
        with self._translate():
            conn.execute(
                sql.upsert(POSTGRES, "extraction_jobs", JOB_COLUMNS, key=("tenant", "id")),
                job_row(job),
            )

    def get_jobs(self, tenant: str, limit: int = 100) -> list[ExtractionJob]:
        with self._conn() as conn:
            rows = conn.execute(sql.get_jobs(POSTGRES), (tenant, limit)).fetchall()
        return [job_from_row(r) for r in rows]

    def claim_jobs(self, tenant: str, claim: JobClaim, limit: int = 1) -> list[ExtractionJob]:
        clauses = [
            "tenant = %s",
            "status = ANY(%s::text[])",
            "(claimed_at IS NULL OR claimed_at < %s)",
        ]
        params: list[Any] = [tenant, list(claim.statuses), claim.stale_before]
        if claim.due_only:
            clauses.append("(retry_at IS NULL OR retry_at <= %s)")
            params.append(claim.now)
        if claim.after is not None:
            clauses.append('(created_at > %s OR (created_at = %s AND id COLLATE "C" > %s))')
            params += [claim.after[0], claim.after[0], claim.after[1]]
        if claim.ids is not None:
            clauses.append("id = ANY(%s::text[])")
            params.append(list(claim.ids))
        # SKIP LOCKED: a row another transaction is claiming (or finishing) is passed over,
        # never waited for; a row claimed and committed meanwhile fails the re-checked WHERE.
        with self.transaction(), self._conn() as conn:
            rows = conn.execute(
                "UPDATE extraction_jobs j SET claimed_by = %s, claimed_at = %s "
                f"FROM (SELECT tenant, id FROM extraction_jobs WHERE {' AND '.join(clauses)} "
                'ORDER BY created_at, id COLLATE "C" LIMIT %s FOR UPDATE SKIP LOCKED) c '
                "WHERE j.tenant = c.tenant AND j.id = c.id "
                f"RETURNING {', '.join(f'j.{c}' for c in JOB_COLUMNS)}",
                [claim.owner, claim.now, *params, limit],
            ).fetchall()
        jobs = [job_from_row(r) for r in rows]
        return sorted(jobs, key=lambda j: (j.created_at, j.id))

    def update_job(self, job: ExtractionJob, owner: str, release: bool = False) -> bool:
        conn = self._write()
        statement, columns = sql.update_job(POSTGRES, release)
        values = dict(zip(JOB_COLUMNS, job_row(job), strict=True))
        with self._translate():
            done = conn.execute(
                statement, [*(values[c] for c in columns), job.scope.tenant, job.id, owner]
            )
        return done.rowcount == 1

    def delete_job(self, tenant: str, job_id: str, owner: str | None = None) -> bool:
        conn = self._write()
        with self._translate():
            return conn.execute(*sql.delete_job(POSTGRES, tenant, job_id, owner)).rowcount == 1
