"""Every record out (``dump``) and back in verbatim (``load``): export, import, migrate;
and the whole database as a file (``backup``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol


class PortableStore(Protocol):
    def dump(self, tenant: str | None = None) -> Iterator[tuple[str, Any]]:
        """Every record, in this order, from one consistent snapshot.

        ("episode", Episode), ("memory", (MemoryRecord, vector)), ("event", Event),
        ("entity", (Entity, vector, keys)) with its alias-index keys sorted,
        ("entity_link", EntityLink) oldest first, ("extraction_job", ExtractionJob).
        """
        ...

    def load(self, items: Sequence[tuple[str, Any]]) -> None:
        """Insert dumped records verbatim (ids, versions and times kept) in one transaction.

        An episode, memory, entity or job id already stored refuses the whole load.
        """
        ...

    def backup(self, destination: Path) -> dict[str, Any]:
        """A consistent copy of the whole database (every tenant, API keys included) at
        ``destination``, taken while the store serves; written beside it and renamed into
        place once whole. Returns what was written (``path``, ``bytes``).

        A backend whose server has its own tool for this (PostgreSQL: pg_dump) refuses with
        ``InvalidInput`` naming it.
        """
        ...
