"""Answers kept per request key in SQLite: the single writer orders concurrent keepers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from remem._time import from_iso, iso
from remem.stores.operations import IdempotencyStore
from remem.stores.records import KeptAnswer
from remem.stores.sqlite.connection import SQLiteConnection


class SQLiteIdempotency(SQLiteConnection, IdempotencyStore):
    def keep_answer(
        self, tenant: str, key: str, fingerprint: str, answer: Mapping[str, Any], at: datetime
    ) -> bool:
        self._write()
        cursor = self._db.execute(
            "INSERT INTO idempotency_keys (tenant, key, fingerprint, answer, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, key) DO NOTHING",
            (tenant, key, fingerprint, json.dumps(dict(answer)), iso(at)),
        )
        return cursor.rowcount == 1

    def kept_answer(self, tenant: str, key: str) -> KeptAnswer | None:
        with self._lock:
            row = self._db.execute(
                "SELECT fingerprint, answer, created_at FROM idempotency_keys "
                "WHERE tenant = ? AND key = ?",
                (tenant, key),
            ).fetchone()
        if row is None:
            return None
        created = from_iso(row["created_at"])
        assert created is not None
        return KeptAnswer(row["fingerprint"], json.loads(row["answer"]), created)

    def replace_answer(self, tenant: str, key: str, answer: Mapping[str, Any]) -> None:
        self._write()
        self._db.execute(
            "UPDATE idempotency_keys SET answer = ? WHERE tenant = ? AND key = ?",
            (json.dumps(dict(answer)), tenant, key),
        )

    def drop_answers(self, before: datetime) -> int:
        with self.transaction():
            cursor = self._db.execute(
                "DELETE FROM idempotency_keys WHERE created_at < ?", (iso(before),)
            )
        return cursor.rowcount
