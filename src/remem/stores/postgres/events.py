"""The event log in PostgreSQL: ``seq`` comes from a sequence, per database, not per tenant."""

from __future__ import annotations

from collections.abc import Sequence

from remem.errors import InvalidInput
from remem.model import Event
from remem.stores import statements as sql
from remem.stores.operations import EventStore
from remem.stores.postgres.connection import PostgresConnection
from remem.stores.postgres.dialect import POSTGRES
from remem.stores.rows import EVENT_COLUMNS, event_from_row, event_row


class PostgresEvents(PostgresConnection, EventStore):
    def append_events(self, events: Sequence[Event]) -> list[Event]:
        conn = self._write()
        if not events:
            return []
        stored = []
        with self._translate(), conn.cursor() as cur:
            cur.executemany(
                sql.insert(POSTGRES, "events", EVENT_COLUMNS)
                + " ON CONFLICT (tenant, id) DO NOTHING RETURNING seq",
                [event_row(e) for e in events],
                returning=True,
            )
            for event in events:
                row = cur.fetchone()
                if row is None:
                    raise InvalidInput(f"event {event.id} already exists")
                stored.append(event.model_copy(update={"seq": row["seq"]}))
                cur.nextset()
        return stored

    def events(
        self, tenant: str, memory_id: str | None = None, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Event]:
        with self._conn() as conn:
            rows = conn.execute(*sql.events(POSTGRES, tenant, memory_id, after_seq, limit))
            return [event_from_row(r) for r in rows.fetchall()]
