"""The Embedder protocol and how one is chosen: an object, a model folder, a name, the default."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
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


class WrappedEmbedder:
    """The Embedder protocol forwarded to ``inner``: a wrapper (metering, caching) overrides
    only the calls it changes."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


#: The packaged model by name (``remem eval --embedder local``, ``REMEM_EMBEDDER=local``).
LOCAL_NAMES = ("local", "all-MiniLM-L6-v2-onnx-int8")

#: What ``Memory(embedder=...)`` takes: an Embedder, a model folder's path, or "local".
EmbedderChoice = Embedder | str | Path | None


def embedder_from(choice: EmbedderChoice) -> Embedder:
    """The embedder ``choice`` names.

    An ``Embedder`` is used as it is; None is ``default_embedder()``; "local" is the
    packaged model; any other string or path is a local model folder (``model.onnx`` and
    ``tokenizer.json``, read by ``remem.providers.onnx_embedder.OnnxEmbedder``).
    """
    if choice is None:
        return default_embedder()
    if isinstance(choice, Embedder):
        return choice
    if isinstance(choice, str) and choice in LOCAL_NAMES:
        from remem.providers.local_embedder import LocalEmbedder

        return LocalEmbedder.shared()
    from remem.providers.onnx_embedder import OnnxEmbedder

    return OnnxEmbedder(choice)


def default_embedder() -> Embedder:
    """REMEM_EMBEDDER (a model folder, or "local") if set; else an OpenAI-compatible API if
    REMEM_EMBEDDINGS_URL points at one; else the local packaged model."""
    chosen = os.environ.get("REMEM_EMBEDDER")
    if chosen:
        return embedder_from(chosen)
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
