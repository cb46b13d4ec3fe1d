"""The Embedder protocol and how the default one is chosen."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors (cosine = dot product)."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, dimension) float32 array, one unit-length row per text."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One query vector; separate so providers may cache or use a query prefix."""
        ...


def default_embedder() -> Embedder:
    """The local packaged model, unless REMEM_EMBEDDINGS_URL points at an OpenAI-compatible API."""
    url = os.environ.get("REMEM_EMBEDDINGS_URL")
    if url:
        from remem.providers.openai_embedder import OpenAIEmbedder

        return OpenAIEmbedder(
            base_url=url,
            model=os.environ.get("REMEM_EMBEDDINGS_MODEL", "text-embedding-3-small"),
            api_key=os.environ.get("REMEM_EMBEDDINGS_API_KEY") or os.environ.get("OPENAI_API_KEY"),
        )
    from remem.providers.local_embedder import LocalEmbedder

    return LocalEmbedder.shared()


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.clip(norms, 1e-12, None)
