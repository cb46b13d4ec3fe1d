"""Storage backends behind one protocol; ``open_store`` picks one from a path or URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from remem.errors import InvalidInput, StoreError
from remem.stores.base import (
    EventStore,
    GraphStore,
    IdempotencyStore,
    JobClaim,
    JobStore,
    KeptAnswer,
    LifecycleChange,
    MemoryFilter,
    MemoryStore,
    PortableStore,
    Reembedding,
    ReembedStore,
    SearchStore,
    Store,
    Unembedded,
    list_all,
)

if TYPE_CHECKING:
    from remem.stores.postgres.citus import Distribution

__all__ = [
    "EventStore",
    "GraphStore",
    "IdempotencyStore",
    "JobClaim",
    "JobStore",
    "KeptAnswer",
    "LifecycleChange",
    "MemoryFilter",
    "MemoryStore",
    "PortableStore",
    "ReembedStore",
    "Reembedding",
    "SearchStore",
    "Store",
    "Unembedded",
    "distribute",
    "list_all",
    "open_store",
]


def open_store(target: str | Path) -> Store:
    text = str(target)
    if "\x00" in text:  # no file name or URL holds one; sqlite3 and libpq would raise ValueError
        raise InvalidInput("the database path or URL contains a NUL character")
    if text.startswith(("postgresql://", "postgres://")):
        with _postgres_packages():
            from remem.stores.postgres import PostgresStore
        return PostgresStore(text)
    from remem.stores.sqlite import SQLiteStore

    return SQLiteStore(Path(text.removeprefix("sqlite:///").removeprefix("sqlite://")))


def distribute(url: str, shard_count: int | None = None) -> Distribution:
    """Spread the remem schema at ``url``, a Citus coordinator, by tenant (docs/postgres.md)."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise StoreError(
            f"only a postgresql:// URL of a Citus coordinator can be distributed, not {url!r}"
        )
    with _postgres_packages():
        from remem.stores.postgres.citus import distribute as spread
    return spread(url, shard_count)


@contextmanager
def _postgres_packages() -> Iterator[None]:
    """An import of the PostgreSQL backend; a missing package is a StoreError saying which."""
    try:
        yield
    except ImportError as exc:
        raise StoreError(
            f"the PostgreSQL backend needs extra packages ({exc.name} is missing): "
            "pip install 'remem[postgres]'"
        ) from exc
