"""Portability: JSONL export and import, and copying a whole store to another backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from remem import portability
from remem.engine.core import Core
from remem.engine.trust import guard_import
from remem.errors import InvalidInput
from remem.stores import open_store


class Portability(Core):
    def export(self, destination: str | Path | IO[str]) -> dict[str, int]:
        """Write every record of this tenant as JSONL (vectors included); returns counts per type.

        A file is written beside its destination and renamed into place once whole, so a
        failed export leaves the file that was there unchanged. The last line is a trailer
        (counts and a checksum) that ``import_`` checks.
        """
        return portability.write_export(self._export(), destination)

    def export_lines(self) -> Iterator[str]:
        """The export, line by line (header, records, trailer), read from one snapshot.

        For sending it on as it is read (an HTTP response): memory stays flat whatever the
        tenant's size. A consumer that stops early has no trailer, so the copy cannot import.
        """
        return iter(self._export())

    def _export(self) -> portability.Export:
        return portability.Export(self.store.dump(self.tenant), self.embedder.model_id)

    def import_(self, source: str | Path | IO[str], *, unverified: bool = False) -> dict[str, int]:
        """Load a JSONL export verbatim in one transaction; ids that already exist abort it whole.

        Records land in this Memory's tenant. Vectors made by another embedder are recomputed.
        An export is data (docs/trust.md): records keep their trust only as far as this
        Memory's writer could have given it, and current memories the guard flags land in
        quarantine. The file must end with its trailer, whose counts and checksum must
        match: a truncated or altered file writes nothing. ``unverified=True`` also reads
        exports of formats 1 to 3, which have no trailer (nothing can tell a truncated one
        from a whole one).
        """
        exported_by, items = portability.read_jsonl(
            source, tenant=self.tenant, unverified=unverified
        )
        items = guard_import(items, self.writer, self.guard, self.clock())
        self._bind()
        items = portability.fill_vectors(
            items, self.embedder, reuse=exported_by == self.embedder.model_id
        )
        self.store.load(items)
        return portability.count(items)

    def backup(self, destination: str | Path) -> dict[str, Any]:
        """A consistent copy of the whole store (every tenant, API keys too), taken while it
        serves: SQLite's online backup, written beside ``destination`` and renamed into
        place once whole and checked. Returns ``path`` and ``bytes``.

        PostgreSQL refuses (``InvalidInput``): its server's pg_dump does this (docs/postgres.md).
        """
        return self.store.backup(Path(destination))

    def migrate_to(self, target: str | Path) -> dict[str, int]:
        """Copy every tenant of this store into another store (e.g. SQLite -> PostgreSQL).

        Every record is checked as an import checks it first: a record the target could not
        take (written by an older remem) is named, and nothing is copied.
        """
        items = list(self.store.dump(None))
        for kind, item in items:
            _checked(kind, item)
        destination = open_store(target)
        try:
            destination.bind_embedder(self.embedder.model_id, self.embedder.dimension)
            destination.load(items)
        finally:
            destination.close()
        return portability.count(items)


def _checked(kind: str, item: Any) -> None:
    try:
        portability.check_record(kind, item)
    except InvalidInput as exc:
        record = item[0] if kind in ("memory", "entity") else item
        name = repr(getattr(record, "id", None) or getattr(record, "memory_id", "?"))
        raise InvalidInput(
            f"cannot migrate {kind} {name} (tenant {record.scope.tenant}): {exc}; "
            "correct or forget it, then migrate again (nothing was copied)"
        ) from exc
