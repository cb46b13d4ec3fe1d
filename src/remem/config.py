"""Where things live by default; every default can be overridden by an argument or variable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path


def default_location() -> str:
    """REMEM_DATABASE_URL, else $REMEM_HOME/remem.db, else the user data dir (XDG)."""
    url = os.environ.get("REMEM_DATABASE_URL")
    if url:
        return url
    home = os.environ.get("REMEM_HOME")
    if home:
        return str(Path(home).expanduser() / "remem.db")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "remem" / "remem.db")


@dataclass(frozen=True)
class QueuePolicy:
    """How the extraction queue is worked.

    A job whose attempt fails waits ``backoff_s`` (doubling per failure, at most
    ``max_backoff_s``) before the worker tries again; after ``max_attempts`` failures it
    is left ``failed`` with its error (``stats()["extraction_queue"]``) until
    ``Memory.retry_extraction``. A claim older than ``lease_s`` belongs to a worker that
    died and is taken over; keep it well above the slowest extraction (with its retries).
    An idle worker looks at the queue every ``interval_s`` (an add wakes it at once).
    """

    max_attempts: int = 5
    backoff_s: float = 30.0
    max_backoff_s: float = 3600.0
    lease_s: float = 600.0
    interval_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.backoff_s, self.max_backoff_s) < 0 or self.lease_s <= 0:
            raise ValueError("backoff_s and max_backoff_s must be >= 0, lease_s > 0")
        if self.interval_s <= 0:
            raise ValueError("interval_s must be positive")

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failure."""
        return timedelta(seconds=min(self.backoff_s * 2 ** (attempts - 1), self.max_backoff_s))

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_s)


DEFAULT_QUEUE_POLICY = QueuePolicy()


@dataclass(frozen=True)
class GuardPolicy:
    """What ``remem.guard`` does beyond recording provenance (docs/trust.md).

    ``quarantine``: writes whose text the offline detector flags, or that come close to a
    lesson, are kept out of search and context until reviewed. ``consensus``: at search,
    a retrieved memory contradicting better-believed memories about the same thing is
    flagged and ranked down by ``consensus_penalty`` (its score is multiplied by it).
    ``lessons``: a write below the owner's trust whose meaning is within
    ``lesson_similarity`` (cosine) of a memory confirmed as poisoned goes to quarantine.
    ``llm_check``: with an LLM configured, one extra call per search judges the hits
    the offline check left unflagged (off by default: it costs a call per search).

    ``enabled=False`` turns the guard off whole (no quarantine, consensus or lessons, any
    user turn may become a directive, contexts carry no trust marks): remem as it was
    before the guard, for measuring what the guard does (``remem eval poisoning``), not
    for serving.
    """

    enabled: bool = True
    quarantine: bool = True
    consensus: bool = True
    consensus_penalty: float = 0.5
    lessons: bool = True
    lesson_similarity: float = 0.85
    llm_check: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.consensus_penalty <= 1.0:
            raise ValueError("consensus_penalty must be from 0 to 1")
        if not 0.0 < self.lesson_similarity <= 1.0:
            raise ValueError("lesson_similarity must be above 0 and at most 1")

    @classmethod
    def off(cls) -> GuardPolicy:
        """The guard off whole: for measuring it, never for serving."""
        return cls(enabled=False)


DEFAULT_GUARD_POLICY = GuardPolicy()
