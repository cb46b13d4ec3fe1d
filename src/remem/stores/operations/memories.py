"""Memories (every version of each) and the episodes (conversation turns) they come from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import numpy as np

from remem.model import Episode, MemoryRecord, Scope
from remem.stores.operations.transactional import Transactional
from remem.stores.records import LifecycleChange, MemoryFilter


class MemoryStore(Transactional, Protocol):
    # writes ---------------------------------------------------------------
    def insert_episodes(self, episodes: Sequence[Episode]) -> None: ...

    def insert_memories(self, rows: Sequence[tuple[MemoryRecord, np.ndarray | None]]) -> None: ...

    def end_version(
        self, memory_id: str, version: int, status: str, at: datetime, tenant: str
    ) -> None:
        """Close the current row of a memory (superseded or deleted) at system time ``at``."""
        ...

    def set_status(self, memory_id: str, version: int, status: str, tenant: str) -> None:
        """Change the lifecycle status of a row without closing it (archive / restore)."""
        ...

    def set_lifecycle(self, tenant: str, changes: Sequence[LifecycleChange]) -> int:
        """Apply ``changes`` to current rows in one batch; returns how many rows changed.

        Rows that are no longer current (updated or deleted meanwhile) are skipped.
        """
        ...

    def next_seq(self, scope: Scope) -> int:
        """The next turn position in the session of ``scope``."""
        ...

    def forget(self, memory_id: str, tenant: str) -> int:
        """Erase every version, index entry, orphaned episode and event payload; returns rows gone."""
        ...

    # reads ----------------------------------------------------------------
    def get_memory(
        self,
        memory_id: str,
        tenant: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> MemoryRecord | None: ...

    def versions(self, memory_id: str, tenant: str) -> list[MemoryRecord]: ...

    def list_memories(
        self, flt: MemoryFilter, *, limit: int, offset: int
    ) -> list[MemoryRecord]: ...

    def count_memories(self, flt: MemoryFilter) -> int: ...

    def get_episodes(self, ids: Sequence[str], tenant: str) -> list[Episode]: ...

    def neighbours(self, episode: Episode, window: int) -> list[Episode]:
        """Turns of the same session within ``window`` positions, in order, the episode included."""
        ...
