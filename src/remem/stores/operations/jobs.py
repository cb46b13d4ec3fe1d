"""The extraction queue: jobs waiting for (or failed at) LLM extraction, claimed by workers."""

from __future__ import annotations

from typing import Protocol

from remem.model import ExtractionJob
from remem.stores.operations.transactional import Transactional
from remem.stores.records import JobClaim


class JobStore(Transactional, Protocol):
    def save_job(self, job: ExtractionJob) -> None:
        """Insert an extraction job, or overwrite its fields (by id); a claim on it stays."""
        ...

    def get_jobs(self, tenant: str, limit: int = 100) -> list[ExtractionJob]:
        """Jobs waiting or failed, oldest first."""
        ...

    def claim_jobs(self, tenant: str, claim: JobClaim, limit: int = 1) -> list[ExtractionJob]:
        """Take up to ``limit`` jobs for ``claim.owner`` atomically, oldest first.

        Runs in its own transaction (or joins the caller's). Two claims, from any threads
        or processes on one database, never get the same job while its claim is fresh.
        """
        ...

    def update_job(self, job: ExtractionJob, owner: str, release: bool = False) -> bool:
        """Write ``job``'s fields if ``owner`` still holds its claim (``release``: and drop
        the claim). False, with nothing written, when the claim was lost."""
        ...

    def delete_job(self, tenant: str, job_id: str, owner: str | None = None) -> bool:
        """Delete a job (only if ``owner`` holds its claim, when given); True if deleted."""
        ...
