"""The event log in SQLite: ``seq`` is the row id, so appending gives each event its place."""

from __future__ import annotations

from collections.abc import Sequence

from remem._time import from_iso, iso
from remem.model import Event
from remem.stores import statements as sql
from remem.stores.operations import EventStore
from remem.stores.rows import EVENT_COLUMNS, event_from_row, event_row
from remem.stores.sqlite.connection import SQLiteConnection
from remem.stores.sqlite.dialect import SQLITE


class SQLiteEvents(SQLiteConnection, EventStore):
    def append_events(self, events: Sequence[Event]) -> list[Event]:
        self._write()
        stored = []
        statement = sql.insert(SQLITE, "events", EVENT_COLUMNS)
        for event in events:
            seq = self._db.execute(statement, event_row(event, iso)).lastrowid
            stored.append(event.model_copy(update={"seq": seq}))
        return stored

    def events(
        self, tenant: str, memory_id: str | None = None, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Event]:
        with self._lock:
            rows = self._db.execute(*sql.events(SQLITE, tenant, memory_id, after_seq, limit))
            return [event_from_row(r, from_iso) for r in rows.fetchall()]
