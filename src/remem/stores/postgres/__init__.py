"""The server backend: PostgreSQL with pgvector (HNSW) and a generated tsvector column (GIN)."""

from remem.stores.postgres.connection import redact
from remem.stores.postgres.schema import migrate
from remem.stores.postgres.store import PostgresStore

__all__ = ["PostgresStore", "migrate", "redact"]
