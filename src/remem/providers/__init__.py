"""Replaceable model providers: each a Protocol with one real default."""

from remem.providers.embedder import Embedder, default_embedder

__all__ = ["Embedder", "default_embedder"]
