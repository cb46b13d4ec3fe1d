"""The extraction queue: claiming jobs, running them, retries with backoff, and the worker.

An add with an LLM queues one job in its own transaction. Whoever runs a job (the add
itself, ``retry_extraction``, a worker thread here or any process on the same store)
claims it first, under a lease, so no two run the same one. LLM use is added up here.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from remem._checks import check_limit
from remem._ids import new_id
from remem.config import QueuePolicy
from remem.engine.background import ExtractionWorker
from remem.engine.core import Core
from remem.errors import Conflict, InvalidInput, ProviderError
from remem.model import Episode, Event, Extraction, ExtractionJob, LLMUsage, Scope
from remem.pipeline import knowledge
from remem.stores import JobClaim

if TYPE_CHECKING:
    from remem.providers.llm import Usage


class ExtractionQueue(Core):
    def extraction_jobs(self, *, limit: int = 100) -> list[ExtractionJob]:
        """This tenant's queued and failed extractions, oldest first, each with its attempts,
        last error and when it is next due: what ``retry_extraction`` would run."""
        return self.store.get_jobs(self.tenant, check_limit(limit))

    def retry_extraction(self, *, limit: int = 100) -> list[Extraction]:
        """Run the queued extractions now (failed, pending, backing off), oldest first.

        Each job is claimed first, so a background worker never runs the same one; a job
        kept with its extraction answer resumes at consolidation. One result per job run.
        """
        if self.llm is None:
            raise InvalidInput("retry_extraction needs an LLM: pass llm= or set REMEM_LLM_URL")
        self._bind()
        results = []
        after = None
        for _ in range(check_limit(limit)):
            job, owner = self._claim(statuses=("pending", "failed"), due_only=False, after=after)
            if job is None:
                break
            after = (job.created_at, job.id)
            result = self._run_claimed(job, owner, None)
            if result is not None:
                results.append(result)
        return results

    def drain_extraction_queue(self) -> int:
        """One pass over the due pending jobs, oldest first, as the background worker runs it.

        Failed attempts follow ``queue_policy`` (backoff, then "failed"). Returns how many
        jobs ran. Safe next to other workers, threads or processes on the same store.
        """
        if self.llm is None:
            raise InvalidInput("the extraction queue needs an LLM: pass llm= or set REMEM_LLM_URL")
        self._bind()
        ran = 0
        after = None
        while True:
            job, owner = self._claim(after=after)
            if job is None:
                return ran
            after = (job.created_at, job.id)
            self._run_claimed(job, owner, self.queue_policy)
            ran += 1

    def start_extraction_worker(self, interval_s: float | None = None) -> ExtractionWorker:
        """Start (or return) this Memory's daemon thread draining the extraction queue.

        It runs every due job now, then whenever an add queues one (``extraction=
        "background"``) or every ``interval_s`` seconds (default: ``queue_policy``).
        ``stop_extraction_worker()`` (or ``close()``) stops and joins it.
        """
        if self.llm is None:
            raise InvalidInput("the extraction worker needs an LLM: pass llm= or set REMEM_LLM_URL")
        if self._worker is None:
            every = interval_s or self.queue_policy.interval_s
            self._worker = ExtractionWorker(self.drain_extraction_queue, every).start()
        return self._worker

    def stop_extraction_worker(self, timeout: float | None = 30.0) -> None:
        """Stop the worker thread, letting the job under way finish, and join it."""
        if self._worker is not None:
            self._worker.stop(timeout)
            self._worker = None

    def _queue(
        self, scope: Scope, episode_ids: tuple[str, ...], now: datetime
    ) -> tuple[ExtractionJob, str | None]:
        """Queue the turns' extraction (inside the add's transaction: a crash during the LLM
        call loses nothing); the claim's owner token when this call runs it inline."""
        job = ExtractionJob(
            id=new_id("job"), scope=scope, episode_ids=episode_ids, created_at=now, updated_at=now
        )
        self.store.save_job(job)
        if self.extraction != "inline":
            return job, None
        claimed, token = self._claim(ids=(job.id,))  # ours until done; a worker elsewhere skips it
        return job, token if claimed is not None else None

    def _claim(
        self,
        *,
        statuses: tuple[str, ...] = ("pending",),
        due_only: bool = True,
        after: tuple[datetime, str] | None = None,
        ids: tuple[str, ...] | None = None,
    ) -> tuple[ExtractionJob | None, str]:
        """The oldest job ``claim_jobs`` gives under a fresh owner token (None: nothing to do)."""
        now = self.clock()
        owner = new_id("claim")
        claim = JobClaim(
            owner=owner,
            now=now,
            stale_before=now - self.queue_policy.lease,
            statuses=statuses,
            due_only=due_only,
            after=after,
            ids=ids,
        )
        found = self.store.claim_jobs(self.tenant, claim, limit=1)
        return (found[0] if found else None), owner

    def _run_claimed(
        self, job: ExtractionJob, owner: str, policy: QueuePolicy | None
    ) -> Extraction | None:
        """Run a claimed job; None when its turns were forgotten meanwhile (it is dropped)."""
        episodes = tuple(self.store.get_episodes(list(job.episode_ids), self.tenant))
        if not episodes:
            with self.store.transaction():
                self.store.delete_job(self.tenant, job.id, owner)
            return None
        return self._extract(job, owner, episodes, policy)

    def _extract(
        self,
        job: ExtractionJob,
        owner: str,
        episodes: tuple[Episode, ...],
        policy: QueuePolicy | None,
    ) -> Extraction:
        """Facts from committed turns; a failure is recorded on the job, never raised.

        Without ``policy`` (inline, ``retry_extraction``) a failed job is left "failed";
        a worker's ``policy`` keeps it pending, with backoff, until its attempts run out.
        """
        assert self.llm is not None
        before = self.llm.usage
        current = job
        try:
            current, spent = knowledge.extract(
                store=self.store,
                llm=self.llm,
                job=job,
                episodes=episodes,
                now=self.clock(),
                owner=owner,
            )
            return knowledge.build(
                store=self.store,
                embedder=self.embedder,
                llm=self.llm,
                job=current,
                episodes=episodes,
                now=self.clock(),
                event=Event.of,
                owner=owner,
                spent=spent,
            )
        except ProviderError as exc:
            self._failed(current, owner, exc, policy)
            return Extraction(
                status="failed",
                error=str(exc),
                job_id=job.id,
                usage=self._usage(before, job, current),
            )
        except Conflict as exc:  # another worker took the job over; it applies it
            return Extraction(
                status="queued",
                error=str(exc),
                job_id=job.id,
                usage=self._usage(before, job, current),
            )
        finally:
            with self._usage_lock:
                self.llm_usage = knowledge.add_usage(self.llm_usage, self.llm.usage - before)

    def _failed(
        self, job: ExtractionJob, owner: str, exc: ProviderError, policy: QueuePolicy | None
    ) -> None:
        """Record a failed attempt: pending again after a backoff while attempts remain."""
        now = self.clock()
        attempts = job.attempts + 1
        again = policy is not None and attempts < policy.max_attempts
        failed = job.model_copy(
            update={
                "status": "pending" if again else "failed",
                "attempts": attempts,
                "error": str(exc),
                "updated_at": now,
                "retry_at": now + policy.backoff(attempts) if policy and again else None,
            }
        )
        with self.store.transaction():
            self.store.update_job(failed, owner, release=True)

    def _usage(self, before: Usage, job: ExtractionJob, current: ExtractionJob) -> LLMUsage:
        """What a run that did not finish cost: its extraction call, and the consolidation
        call it failed at (the answer was kept, so extraction had succeeded)."""
        assert self.llm is not None
        return knowledge.usage_of(
            self.llm.usage - before, job.extracted is None, current.extracted is not None
        )
