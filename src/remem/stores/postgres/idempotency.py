"""Answers kept per request key in PostgreSQL: a second keeper of one key waits on the
first's row (``ON CONFLICT``), then keeps nothing if the first committed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from remem.stores.operations import IdempotencyStore
from remem.stores.postgres.connection import PostgresConnection
from remem.stores.records import KeptAnswer


class PostgresIdempotency(PostgresConnection, IdempotencyStore):
    def keep_answer(
        self, tenant: str, key: str, fingerprint: str, answer: Mapping[str, Any], at: datetime
    ) -> bool:
        conn = self._write()
        with self._translate():
            cursor = conn.execute(
                "INSERT INTO idempotency_keys (tenant, key, fingerprint, answer, created_at) "
                "VALUES (%s, %s, %s, %s::jsonb, %s) ON CONFLICT (tenant, key) DO NOTHING",
                (tenant, key, fingerprint, json.dumps(dict(answer)), at),
            )
        return cursor.rowcount == 1

    def kept_answer(self, tenant: str, key: str) -> KeptAnswer | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT fingerprint, answer, created_at FROM idempotency_keys "
                "WHERE tenant = %s AND key = %s",
                (tenant, key),
            ).fetchone()
        if row is None:
            return None
        return KeptAnswer(row["fingerprint"], row["answer"], row["created_at"])

    def replace_answer(self, tenant: str, key: str, answer: Mapping[str, Any]) -> None:
        conn = self._write()
        with self._translate():
            conn.execute(
                "UPDATE idempotency_keys SET answer = %s::jsonb WHERE tenant = %s AND key = %s",
                (json.dumps(dict(answer)), tenant, key),
            )

    def drop_answers(self, before: datetime) -> int:
        with self.transaction(), self._conn() as conn:
            cursor = conn.execute("DELETE FROM idempotency_keys WHERE created_at < %s", (before,))
        return cursor.rowcount
