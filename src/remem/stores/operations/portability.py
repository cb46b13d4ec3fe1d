"""Every record out (``dump``) and back in verbatim (``load``): export, import, migrate."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
