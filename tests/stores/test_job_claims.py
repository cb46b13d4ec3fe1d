"""Claiming extraction jobs on every backend: oldest first, exclusive, stale claims taken over.

The engine's inline runs, ``retry_extraction`` and every background worker (threads or
processes on one database) take jobs through ``Store.claim_jobs``; these tests hold the
store to the promise that two claims never get the same job.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from remem.model import ExtractionJob, Scope
from remem.stores import JobClaim, open_store
from remem.stores.sqlite import SCHEMA_VERSION

if TYPE_CHECKING:
    from conftest import Backend

T0 = datetime(2026, 1, 1, tzinfo=UTC)
U = Scope(tenant="t1", user_id="u1")
LEASE = timedelta(minutes=10)


def job(jid: str, minute: int = 0, **extra: object) -> ExtractionJob:
    at = T0 + timedelta(minutes=minute)
    return ExtractionJob(
        id=jid, scope=U, episode_ids=(f"ep_{jid}",), created_at=at, updated_at=at, **extra
    )


def claim(owner: str, now: datetime = T0, **extra: object) -> JobClaim:
    return JobClaim(owner=owner, now=now, stale_before=now - LEASE, **extra)  # type: ignore[arg-type]


def test_claims_take_due_jobs_oldest_first_and_only_once(backend: Backend) -> None:
    store = backend.store()
    with store.transaction():
        store.save_job(job("c", 2))
        store.save_job(job("a", 0))
        store.save_job(job("b", 1, status="failed", attempts=3, error="HTTP 500"))
        store.save_job(job("d", 3, retry_at=T0 + timedelta(minutes=5)))
        store.save_job(job("e", 4, extracted={"facts": [], "entities": []}))
        store.save_job(job("x", 0).model_copy(update={"scope": Scope(tenant="t2")}))
    assert [j.id for j in store.claim_jobs("t1", claim("w1"), limit=2)] == ["a", "c"]
    # claimed and fresh: nobody else gets them; failed and backing-off jobs wait
    assert [j.id for j in store.claim_jobs("t1", claim("w2"), limit=10)] == ["e"]
    assert store.claim_jobs("t1", claim("w3"), limit=10) == []
    [kept] = store.get_jobs("t1", limit=10)[-1:]
    assert kept.extracted == {"facts": [], "entities": []}
    # retry time come: d is due; the explicit retry (failed too, no backoff) takes b
    later = T0 + timedelta(minutes=5)
    assert [j.id for j in store.claim_jobs("t1", claim("w4", later), limit=10)] == ["d"]
    failed = claim("w5", statuses=("pending", "failed"), due_only=False)
    assert [j.id for j in store.claim_jobs("t1", failed, limit=10)] == ["b"]
    # a claim older than the lease belongs to a dead worker: it is taken over, oldest first
    stale = claim("w6", T0 + LEASE + timedelta(seconds=1), statuses=("pending", "failed"))
    assert [j.id for j in store.claim_jobs("t1", stale, limit=2)] == ["a", "b"]
    assert [j.id for j in store.claim_jobs("t2", claim("w7"))] == ["x"]


def test_cursor_and_ids_narrow_a_claim(backend: Backend) -> None:
    store = backend.store()
    with store.transaction():
        for i, jid in enumerate(["j1", "j2", "j3"]):
            store.save_job(job(jid, 0 if i < 2 else 1))  # j1 and j2 share their time
    [first] = store.claim_jobs("t1", claim("w1", after=(T0, "j1")))
    assert first.id == "j2"
    assert store.claim_jobs("t1", claim("w2", ids=("j2", "j9"))) == []  # j2 is taken
    assert [j.id for j in store.claim_jobs("t1", claim("w3", ids=("j1",)))] == ["j1"]


def test_only_the_owner_of_a_claim_writes_or_deletes_the_job(backend: Backend) -> None:
    store = backend.store()
    with store.transaction():
        store.save_job(job("j1"))
    [mine] = store.claim_jobs("t1", claim("w1"))
    answer = {"facts": [{"text": "Ana lives in Porto"}], "entities": []}
    with store.transaction():
        assert store.update_job(mine.model_copy(update={"extracted": answer}), "w1")
        assert not store.update_job(mine.model_copy(update={"error": "not mine"}), "w2")
    # the worker died; after the lease another takes the job over, answer and all
    [taken] = store.claim_jobs("t1", claim("w2", T0 + LEASE + timedelta(seconds=1)))
    assert taken.extracted == answer and taken.error is None
    with store.transaction():
        assert not store.delete_job("t1", "j1", "w1")  # the first worker's late write loses
        failed = taken.model_copy(update={"status": "failed", "attempts": 1, "error": "HTTP 503"})
        assert store.update_job(failed, "w2", release=True)
        assert not store.delete_job("t1", "j1", "w2")  # released: w2 holds it no more
    assert store.get_jobs("t1") == [failed]
    retry = claim("w3", statuses=("failed",), due_only=False)
    assert [j.id for j in store.claim_jobs("t1", retry)] == ["j1"]  # released: free at once
    with store.transaction():
        assert store.delete_job("t1", "j1", "w3")
    assert store.get_jobs("t1") == []


def test_workers_on_two_connections_never_take_the_same_job(backend: Backend) -> None:
    """Four threads over two store objects (two connections, as two processes would have)
    race for 40 jobs: every job is taken exactly once."""
    setup = backend.store()
    with setup.transaction():
        for i in range(40):
            setup.save_job(job(f"j{i:02d}", i))
    stores = [setup, backend.store()]
    taken: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def work(n: int) -> None:
        store = stores[n % 2]
        start.wait()
        while True:
            owner = f"w{n}"
            found = store.claim_jobs("t1", claim(owner), limit=1 + n % 2)
            if not found:
                return
            for j in found:
                with store.transaction():
                    assert store.delete_job("t1", j.id, owner)
                with lock:
                    taken.append(j.id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert Counter(taken) == Counter(f"j{i:02d}" for i in range(40))
    assert setup.get_jobs("t1") == []


def test_a_schema_4_sqlite_queue_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    open_store(path).close()
    db = sqlite3.connect(path)
    with db:  # a schema-4 file, from before schema_migrations
        db.execute("DROP TABLE schema_migrations")
        db.execute("DROP TABLE extraction_jobs")
        db.execute(
            "CREATE TABLE extraction_jobs (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, "
            "user_id TEXT, agent_id TEXT, session_id TEXT, episode_ids TEXT NOT NULL, "
            "status TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT, "
            "created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO extraction_jobs VALUES ('j1', 't1', 'u1', NULL, NULL, '[\"e1\"]', "
            "'failed', 2, 'HTTP 500', '2026-01-01T00:00:00.000000Z', "
            "'2026-01-01T00:00:00.000000Z')"
        )
        db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    db.close()
    store = open_store(path)
    try:
        [old] = store.get_jobs("t1")
        assert (old.status, old.attempts, old.extracted, old.retry_at) == (
            "failed",
            2,
            None,
            None,
        )
        retry = claim("w1", statuses=("failed",), due_only=False)
        assert [j.id for j in store.claim_jobs("t1", retry)] == ["j1"]
    finally:
        store.close()
    check = sqlite3.connect(path)
    version = check.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    check.close()
    assert version == (str(SCHEMA_VERSION),)  # past the releases before steps: they refuse
