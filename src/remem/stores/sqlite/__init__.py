"""The embedded default backend: one SQLite file, searched through an in-memory index."""

from remem.stores.sqlite.schema import SCHEMA_VERSION
from remem.stores.sqlite.store import SQLiteStore

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]
