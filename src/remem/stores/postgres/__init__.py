"""The server backend: PostgreSQL with pgvector (HNSW) and a generated tsvector column (GIN)."""

from remem.stores.postgres.schema import migrate
from remem.stores.postgres.store import PostgresStore, redact

__all__ = ["PostgresStore", "migrate", "redact"]
