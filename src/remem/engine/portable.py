"""Portability: JSONL export and import, and copying a whole store to another backend."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from remem import portability
from remem.engine.core import Core
from remem.engine.trust import guard_import
from remem.stores import open_store


class Portability(Core):
    def export(self, destination: str | Path | IO[str]) -> dict[str, int]:
        """Write every record of this tenant as JSONL (vectors included); returns counts per type."""
        return portability.export_jsonl(
            self.store.dump(self.tenant), destination, embedder=self.embedder.model_id
        )

    def import_(self, source: str | Path | IO[str]) -> dict[str, int]:
        """Load a JSONL export verbatim in one transaction; ids that already exist abort it whole.

        Records land in this Memory's tenant. Vectors made by another embedder are recomputed.
        An export is data (docs/trust.md): records keep their trust only as far as this
        Memory's writer could have given it, and current memories the guard flags land in
        quarantine.
        """
        exported_by, items = portability.read_jsonl(source, tenant=self.tenant)
        items = guard_import(items, self.writer, self.guard, self.clock())
        self._bind()
        items = portability.fill_vectors(
            items, self.embedder, reuse=exported_by == self.embedder.model_id
        )
        self.store.load(items)
        return portability.count(items)

    def migrate_to(self, target: str | Path) -> dict[str, int]:
        """Copy every tenant of this store into another store (e.g. SQLite -> PostgreSQL)."""
        destination = open_store(target)
        try:
            destination.bind_embedder(self.embedder.model_id, self.embedder.dimension)
            items = list(self.store.dump(None))
            destination.load(items)
        finally:
            destination.close()
        return portability.count(items)
