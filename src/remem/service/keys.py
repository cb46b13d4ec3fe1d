"""API keys: each one bound to a tenant, stored only as a SHA-256 hash.

A key reads ``remem_<id>_<secret>``: the public ``id`` finds the row, the hash of
the whole key is compared in constant time. The secret has 192 random bits, so a
plain hash is enough (no slow KDF needed). Keys live in an ``api_keys`` table of
the same database as the memories (SQLite file or PostgreSQL), created on first
use; ``remem migrate`` does not copy them: create new keys on the target.

A key also says what its writes may claim (``remem.Writer``, docs/trust.md): its ``role``
("owner" by default: the application speaking for its users; "external": all it writes
is untrusted) and whether it may store ``role: "system"`` turns (``system_turns``, off
unless the key was created with it). Tables of earlier releases gain both columns, with
those defaults, when first opened.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from remem._time import from_iso, iso, utcnow
from remem.errors import InvalidInput, NotFound, StoreError
from remem.model import WRITER_ROLES, Scope, Writer

PREFIX = "remem"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT, hash TEXT NOT NULL,"
    " created_at TEXT NOT NULL, revoked_at TEXT)"
)
#: Columns added after the first release: (name, SQL definition).
_ADDED = (
    ("role", "TEXT NOT NULL DEFAULT 'owner'"),
    ("system_turns", "INTEGER NOT NULL DEFAULT 0"),
)
_COLUMNS = "id, tenant, name, created_at, revoked_at, role, system_turns"
#: How long a request waits for a PostgreSQL connection before it is answered with a 503.
POOL_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ApiKey:
    """What a key grants (its tenant) and its lifecycle; never the secret itself."""

    id: str
    tenant: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None = None
    role: str = "owner"
    system_turns: bool = False

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def writer(self) -> Writer:
        """What this key's writes may claim."""
        return Writer(role=self.role, system_turns=self.system_turns)  # type: ignore[arg-type]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(row: Sequence[Any]) -> ApiKey:
    created, revoked = from_iso(row[3]), from_iso(row[4])
    assert created is not None
    return ApiKey(
        id=row[0],
        tenant=row[1],
        name=row[2],
        created_at=created,
        revoked_at=revoked,
        role=row[5],
        system_turns=bool(row[6]),
    )


class KeyStore:
    """The ``api_keys`` table over a SQLite file or a PostgreSQL URL."""

    def __init__(self, location: str | Path) -> None:
        text = str(location)
        self._postgres = text.startswith(("postgresql://", "postgres://"))
        self._lock = threading.Lock()
        #: What the database may raise: answered as a StoreError (503).
        self._failures: tuple[type[Exception], ...] = (sqlite3.Error, OSError)
        if self._postgres:
            try:
                import psycopg
                from psycopg_pool import ConnectionPool, PoolTimeout
            except ImportError as exc:
                raise StoreError(
                    "API keys on PostgreSQL need: pip install 'remem[postgres]'"
                ) from exc
            self._failures = (psycopg.Error, PoolTimeout, OSError)
            # A connection the server dropped (a restart) is replaced before use; while the
            # server is down a request waits POOL_TIMEOUT_S, then is refused as unavailable.
            self._pool = ConnectionPool(
                text,
                min_size=1,
                max_size=4,
                timeout=POOL_TIMEOUT_S,
                check=ConnectionPool.check_connection,
                open=True,
            )
        else:
            path = Path(text.removeprefix("sqlite:///").removeprefix("sqlite://")).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 30000")
        self._create_table()

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        try:
            if self._postgres:
                with self._pool.connection() as conn, conn.cursor() as cur:
                    yield cur
            else:
                with self._lock:
                    yield self._db.cursor()
        except self._failures as exc:
            # PostgreSQL's messages name hosts and users: those stay in the server's log.
            detail = type(exc).__name__ if self._postgres else str(exc)
            raise StoreError(f"API key table unavailable: {detail}") from exc

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._postgres:
            sql = sql.replace("?", "%s")
        with self._cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def _create_table(self) -> None:
        if not self._postgres:
            self._run(_SCHEMA)
            have = {row[1] for row in self._run("PRAGMA table_info(api_keys)")}
            for column, definition in _ADDED:
                if column not in have:
                    self._run(f"ALTER TABLE api_keys ADD COLUMN {column} {definition}")
            return
        import psycopg

        # Another server may create it at the same moment: then it exists, which is all we need.
        with suppress(psycopg.errors.UniqueViolation):
            self._run(_SCHEMA)
        for column, definition in _ADDED:
            with suppress(psycopg.errors.UniqueViolation):
                self._run(f"ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS {column} {definition}")

    def create(
        self,
        tenant: str,
        name: str | None = None,
        *,
        role: str = "owner",
        system_turns: bool = False,
    ) -> tuple[ApiKey, str]:
        """A new key for ``tenant``; the token is returned once and never stored.

        ``role`` and ``system_turns`` are what its writes may claim (``ApiKey.writer``).
        """
        try:
            tenant = Scope(tenant=tenant).tenant
        except ValueError as exc:
            raise InvalidInput("tenant must be a non-empty string") from exc
        if role not in WRITER_ROLES:
            raise InvalidInput(f"role must be one of {', '.join(WRITER_ROLES)}, got {role!r}")
        key_id = secrets.token_hex(6)
        token = f"{PREFIX}_{key_id}_{secrets.token_hex(24)}"
        key = ApiKey(
            id=key_id,
            tenant=tenant,
            name=name,
            created_at=utcnow(),
            role=role,
            system_turns=system_turns,
        )
        self._run(
            "INSERT INTO api_keys (id, tenant, name, hash, created_at, role, system_turns)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key.id,
                key.tenant,
                key.name,
                _hash(token),
                iso(key.created_at),
                key.role,
                int(system_turns),
            ),
        )
        return key, token

    def authenticate(self, token: str | None) -> ApiKey | None:
        """The active key ``token`` names, or None (unknown, malformed or revoked)."""
        if not token:
            return None
        parts = token.split("_")
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        rows = self._run(f"SELECT {_COLUMNS}, hash FROM api_keys WHERE id = ?", (parts[1],))
        if not rows or not hmac.compare_digest(rows[0][7], _hash(token)):
            return None
        key = _key(rows[0])
        return key if key.active else None

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant else ("", ())
        return [
            _key(r)
            for r in self._run(
                f"SELECT {_COLUMNS} FROM api_keys {where} ORDER BY created_at", params
            )
        ]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke at once: the next request with this key is refused."""
        rows = self._run(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
        if not rows:
            raise NotFound(f"no API key {key_id}")
        if rows[0][4] is None:
            self._run("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (iso(utcnow()), key_id))
        return _key(self._run(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))[0])

    def close(self) -> None:
        if self._postgres:
            self._pool.close()
        else:
            with self._lock:
                self._db.close()
