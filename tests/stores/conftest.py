"""Backends for the conformance suite: every test here runs on SQLite, on PostgreSQL and on
a Citus cluster.

PostgreSQL comes from ``REMEM_TEST_POSTGRES_URL`` (scripts/test.sh exports it), else from
``.remem-pg/url`` when that server answers. Each test gets a fresh schema (``search_path`` set
in the URL), dropped afterwards. Without a server the PostgreSQL half is skipped loudly,
except under ``CI=true``, where it fails: CI must run it.

Citus is the same store on a coordinator with two workers (scripts/citus.sh), its schema
distributed by tenant (``remem.stores.postgres.citus``): ``REMEM_TEST_CITUS_URL``, else
``.remem-citus/url``. When the Citus sources are absent scripts/test.sh exports
``REMEM_TEST_CITUS_SKIP`` with the reason, and the Citus runs skip with it.
"""

from __future__ import annotations

import itertools
import os
import queue
import sqlite3
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from remem import Memory
from remem.stores import Store, open_store

REPO = Path(__file__).resolve().parents[2]
BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("citus", marks=pytest.mark.citus),
]
#: Shards per tenant table in test schemas: two per worker, so tenants spread (Citus's default
#: of 32 makes each schema cost ~4x as much DDL).
CITUS_SHARDS = 4


def _answers(url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed ({exc})"
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"{url} does not answer: {str(exc).strip()}"
    return None


@cache
def _postgres_url() -> tuple[str | None, str]:
    url = os.environ.get("REMEM_TEST_POSTGRES_URL")
    if url:
        problem = _answers(url)
        return (None, f"REMEM_TEST_POSTGRES_URL: {problem}") if problem else (url, "")
    url_file = REPO / ".remem-pg" / "url"
    if url_file.exists():
        url = url_file.read_text().strip()
        problem = _answers(url)
        return (None, f".remem-pg/url: {problem}") if problem else (url, "")
    return None, "REMEM_TEST_POSTGRES_URL is not set and .remem-pg/url does not exist"


@cache
def _citus_url() -> tuple[str | None, str]:
    skip = os.environ.get("REMEM_TEST_CITUS_SKIP")
    if skip:
        return None, skip
    url = os.environ.get("REMEM_TEST_CITUS_URL")
    url_file = REPO / ".remem-citus" / "url"
    if not url and url_file.exists():
        url = url_file.read_text().strip()
    if not url:
        return None, "REMEM_TEST_CITUS_URL is not set and .remem-citus/url does not exist"
    problem = _answers(url)
    return (None, f"Citus coordinator: {problem}") if problem else (url, "")


@pytest.fixture(scope="session")
def citus_url() -> str:
    url, why = _citus_url()
    if url is None:
        message = f"Citus conformance tests NOT RUN: {why}."
        if os.environ.get("CI") == "true" and not os.environ.get("REMEM_TEST_CITUS_SKIP"):
            pytest.fail(message + " CI must run the Citus suite (scripts/citus.sh).", pytrace=False)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url, why = _postgres_url()
    if url is None:
        message = (
            f"PostgreSQL conformance tests NOT RUN: {why}. "
            "Start a server with scripts/postgres.sh (or run scripts/test.sh)."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + " CI must run the PostgreSQL suite.", pytrace=False)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    return url


def with_options(url: str, *settings: str) -> str:
    """``url`` with server settings (``name=value``) added to its libpq ``options``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    old = dict(parse_qsl(parts.query)).get("options", "")
    options = " ".join([old, *(f"-c{s}" for s in settings)]).strip()
    # libpq decodes %XX in URLs but not "+" as a space
    encoded = urlencode([*query, ("options", options)], quote_via=quote)
    return urlunsplit(parts._replace(query=encoded))


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose sessions use ``schema`` first (``public`` keeps the vector extension)."""
    return with_options(url, f"search_path={schema},public")


class SchemaPool:
    """Fresh, already migrated schemas made ahead in a thread, and used ones dropped in it.

    Creating a schema and its tables costs ~0.2 s of DDL here; doing it (and the drop) off
    the test's critical path keeps the suite fast. Tests that need an empty, unmigrated schema
    (migration tests) ask for one with ``fresh=True``.

    A distributed schema costs ~2.5 s to make and drop on the test cluster, so a used one is
    emptied instead (rows, the embedding column, sequences: ~0.2 s) and handed out again, but
    only when its tables, columns, indexes and constraints are still exactly those of a new
    one; any other change (a re-embedding's) and it is dropped.
    """

    AHEAD = 2

    def __init__(self, url: str, distributed: bool = False) -> None:
        self.url = url
        self.distributed = distributed
        self.ready: queue.Queue[str | BaseException] = queue.Queue()
        self.spare: list[str] = []
        self.pristine: list[tuple[Any, ...]] | None = None
        # drops first: a used schema emptied for reuse saves making a new one
        self.jobs: queue.PriorityQueue[tuple[int, int, str, str]] = queue.PriorityQueue()
        self.order = itertools.count()
        self._job("make")
        self.thread = threading.Thread(target=self._work, name="schema-pool", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as admin:
            while True:
                _, _, job, schema = self.jobs.get()
                if job == "stop":  # drop what was made ahead and never used
                    while not self.ready.empty():
                        left = self.ready.get()
                        if isinstance(left, str):
                            self.spare.append(left)
                    for left in self.spare:
                        admin.execute(f"DROP SCHEMA IF EXISTS {left} CASCADE")
                    return
                if job == "drop":
                    try:
                        emptied = self.distributed and self._emptied(schema)
                    except psycopg.Error:
                        emptied = False
                    if emptied:
                        self.spare.append(schema)
                    else:
                        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                    continue
                while self.ready.qsize() < self.AHEAD and self.spare:
                    self.ready.put(self.spare.pop())
                if self.ready.qsize() < self.AHEAD and self._make(admin):
                    self._job("make")  # the next one after any drop that came meanwhile

    def _make(self, admin: Any) -> bool:
        import psycopg

        from remem.stores.postgres import migrate
        from remem.stores.postgres.citus import distribute_schema

        try:
            schema = self.create(admin)
            with psycopg.connect(with_search_path(self.url, schema)) as conn:
                conn.autocommit = True
                migrate(conn)
                if self.distributed:
                    distribute_schema(conn, shard_count=CITUS_SHARDS)
                    if self.pristine is None:
                        self.pristine = self._layout(conn, schema)
            self.ready.put(schema)
            return True
        except BaseException as exc:
            self.ready.put(exc)
            return False

    @staticmethod
    def _layout(conn: Any, schema: str) -> list[tuple[Any, ...]]:
        """Tables, columns, indexes and constraints of ``schema``, named without it."""
        rows = conn.execute(
            "SELECT 'c', table_name, column_name, data_type, column_default "
            "FROM information_schema.columns WHERE table_schema = %(s)s UNION ALL "
            "SELECT 'i', tablename, indexname, replace(indexdef, %(s)s || '.', ''), NULL "
            "FROM pg_indexes WHERE schemaname = %(s)s UNION ALL "
            "SELECT 'k', conrelid::regclass::text, conname, pg_get_constraintdef(oid), NULL "
            "FROM pg_constraint WHERE conrelid IN (SELECT to_regclass(%(s)s || '.' || tablename) "
            "FROM pg_tables WHERE schemaname = %(s)s) UNION ALL "  # not the shards
            # how each table is spread: a schema migrated but never distributed (a migration
            # test's fresh one) has the same tables and must not come back as a distributed one
            "SELECT 'd', c.relname, p.partmethod::text, NULL, NULL FROM pg_dist_partition p "
            "JOIN pg_class c ON c.oid = p.logicalrelid JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %(s)s ORDER BY 1, 2, 3",
            {"s": schema},
        ).fetchall()
        return [tuple(str(v).replace(f"{schema}.", "") for v in row) for row in rows]

    def _emptied(self, schema: str) -> bool:
        """Empty a used distributed schema; False (nothing changed) if its layout changed."""
        import psycopg

        from remem.stores.postgres.citus import SEQUENTIAL

        with psycopg.connect(with_search_path(self.url, schema), autocommit=True) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s "
                    "AND tablename <> 'schema_migrations'",
                    (schema,),
                )
            ]
            changed = False
            with conn.transaction():
                conn.execute(SEQUENTIAL)
                for table in tables:
                    conn.execute(f"DELETE FROM {schema}.{table}")
                conn.execute(f"ALTER TABLE {schema}.memories DROP COLUMN IF EXISTS embedding")
                for (sequence,) in conn.execute(
                    "SELECT sequencename FROM pg_sequences WHERE schemaname = %s", (schema,)
                ).fetchall():
                    conn.execute("SELECT setval(%s, 1, false)", (f"{schema}.{sequence}",))
                if self._layout(conn, schema) != self.pristine:
                    changed = True
                    raise psycopg.Rollback()
        return not changed

    @staticmethod
    def create(admin: Any) -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin.execute(f"CREATE SCHEMA {schema}")
        return schema

    def _job(self, job: str, schema: str = "") -> None:
        priority = {"drop": 0, "make": 1, "stop": 2}[job]
        self.jobs.put((priority, next(self.order), job, schema))

    def take(self) -> str:
        self._job("make")
        schema = self.ready.get(timeout=60)
        if isinstance(schema, BaseException):
            raise schema
        return schema

    def drop(self, schema: str) -> None:
        self._job("drop", schema)

    def close(self) -> None:
        self._job("stop")
        self.thread.join(timeout=120)


@pytest.fixture(scope="session")
def schema_pool(postgres_url: str) -> Iterator[SchemaPool]:
    pool = SchemaPool(postgres_url)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def citus_schema_pool(citus_url: str) -> Iterator[SchemaPool]:
    pool = SchemaPool(citus_url, distributed=True)
    yield pool
    pool.close()


POOLS = {"postgres": "schema_pool", "citus": "citus_schema_pool"}


@dataclass
class Backend:
    """One store location plus raw access to it, for assertions below the Store protocol."""

    name: str
    target: str
    schema: str | None = None
    _opened: list[Any] = field(default_factory=list)

    @property
    def family(self) -> str:
        """The store class behind it: a Citus cluster is PostgreSQL to remem."""
        return "sqlite" if self.name == "sqlite" else "postgres"

    def store(self) -> Store:
        store = open_store(self.target)
        self._opened.append(store)
        return store

    def memory(self, **kwargs: Any) -> Memory:
        memory = Memory(self.target, **kwargs)
        self._opened.append(memory)
        return memory

    def raw(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.name == "sqlite":
            db = sqlite3.connect(self.target)
            try:
                with db:
                    return db.execute(sql, params).fetchall()
            finally:
                db.close()
        import psycopg

        with psycopg.connect(self.target, autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def tables(self) -> list[str]:
        if self.name == "sqlite":
            return [
                r[0]
                for r in self.raw(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            ]
        return [
            r[0]
            for r in self.raw(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,)
            )
        ]

    def rows_mentioning(self, needle: str) -> dict[str, int]:
        """Every table, every column (whole row as text): how many rows contain ``needle``."""
        found = {}
        for table in self.tables():
            if self.name == "sqlite":
                columns = [r[1] for r in self.raw(f"PRAGMA table_info({table})")]
                text = " || ".join(f"COALESCE(CAST({c} AS TEXT), '')" for c in columns)
                n = self.raw(
                    f"SELECT COUNT(*) FROM {table} WHERE ({text}) LIKE ?", (f"%{needle}%",)
                )
            else:
                n = self.raw(
                    f"SELECT COUNT(*) FROM {self.schema}.{table} t WHERE t::text LIKE %s",
                    (f"%{needle}%",),
                )
            if n[0][0]:
                found[table] = n[0][0]
        return found

    def close(self) -> None:
        for thing in reversed(self._opened):
            thing.close()
        self._opened.clear()


def make_backend(
    name: str, tmp_path: Path, request: pytest.FixtureRequest, fresh: bool = False
) -> Backend:
    if name == "sqlite":
        return Backend("sqlite", str(tmp_path / f"{uuid.uuid4().hex[:8]}.db"))
    pool: SchemaPool = request.getfixturevalue(POOLS[name])
    if fresh:
        import psycopg

        with psycopg.connect(pool.url, autocommit=True) as admin:
            schema = SchemaPool.create(admin)
    else:
        schema = pool.take()
    return Backend(name, with_search_path(pool.url, schema), schema=schema)


def drop_backend(backend: Backend, request: pytest.FixtureRequest) -> None:
    backend.close()
    if backend.schema:
        request.getfixturevalue(POOLS[backend.name]).drop(backend.schema)


@pytest.fixture
def new_backend(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Backend]]:
    """Make any number of fresh backends by name; all are dropped after the test.

    PostgreSQL ones come migrated from the schema pool; ``fresh=True`` gives an empty schema.
    """
    made: list[Backend] = []

    def make(name: str, fresh: bool = False) -> Backend:
        made.append(make_backend(name, tmp_path, request, fresh))
        return made[-1]

    yield make
    for backend in made:
        drop_backend(backend, request)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, new_backend: Callable[[str], Backend]) -> Backend:
    return new_backend(request.param)
