"""The append-only log of what happened to each memory (add, update, delete, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from remem.model import Event
from remem.stores.operations.transactional import Transactional


class EventStore(Transactional, Protocol):
    def append_events(self, events: Sequence[Event]) -> list[Event]:
        """Store ``events``; returns them with the ``seq`` each was given."""
        ...

    def events(
        self, tenant: str, memory_id: str | None = None, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Event]:
        """The tenant's events (of one memory, when given) after ``after_seq``, oldest first."""
        ...
