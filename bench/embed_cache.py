"""Corpus vectors computed once by the real model and cached on disk, and an embedder serving them.

The cache is split in chunks of ``CHUNK`` turns, each file named by a hash of
the model id and the chunk's texts, so any corpus prefix reuses it and an
interrupted first run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from remem.providers.embedder import Embedder

CHUNK = 10_000
_PROGRESS = 1_000


def _chunk_path(cache: Path, model_id: str, texts: Sequence[str]) -> Path:
    digest = hashlib.sha256("\x1e".join([model_id, *texts]).encode()).hexdigest()[:24]
    return cache / f"{model_id}-{len(texts)}-{digest}.npy"


def _embed_chunk(embedder: Embedder, texts: Sequence[str], label: str) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), _PROGRESS):
        parts.append(embedder.embed(texts[start : start + _PROGRESS]))
        print(f"  embedding {label}: {start + len(parts[-1])}/{len(texts)}", file=sys.stderr)
    return np.concatenate(parts).astype(np.float32)


def corpus_vectors(
    texts: Sequence[str], embedder: Embedder, cache: Path
) -> tuple[np.ndarray, dict[str, float]]:
    """Vectors for ``texts`` (cached or computed now) and how many were computed, at what rate."""
    cache.mkdir(parents=True, exist_ok=True)
    out = np.empty((len(texts), embedder.dimension), dtype=np.float32)
    computed, seconds = 0, 0.0
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        path = _chunk_path(cache, embedder.model_id, chunk)
        if path.exists():
            out[start : start + len(chunk)] = np.load(path)
            continue
        began = time.perf_counter()
        vectors = _embed_chunk(embedder, chunk, f"turns {start}-{start + len(chunk)}")
        seconds += time.perf_counter() - began
        computed += len(chunk)
        partial = path.with_suffix(".tmp.npy")
        np.save(partial, vectors)
        os.replace(partial, path)
        out[start : start + len(chunk)] = vectors
    rate = computed / seconds if seconds else 0.0
    return out, {"computed": computed, "seconds": seconds, "turns_per_s": rate}


class CachedEmbedder:
    """The Embedder protocol over cached corpus vectors, falling back to the real model.

    ``live = True`` sends every text to the real model, for ingest numbers that
    include embedding. Queries always go to the real model's ``embed_query``.
    ``stored`` keeps every array handed to the store, in order, so a baseline
    can search exactly the vectors remem holds.
    """

    def __init__(self, real: Embedder, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.real = real
        self.live = False
        self.stored: list[np.ndarray] = []
        self.embed_seconds = 0.0
        self.live_texts: list[
            str
        ] = []  # what the real model embedded while live (callers clear it)
        self._vectors = vectors
        self._row: dict[str, int] = {}
        for i, text in enumerate(texts):
            self._row.setdefault(text, i)

    @property
    def model_id(self) -> str:
        return self.real.model_id

    @property
    def dimension(self) -> int:
        return self.real.dimension

    def _real(self, texts: Sequence[str]) -> np.ndarray:
        began = time.perf_counter()
        vectors = self.real.embed(texts)
        self.embed_seconds += time.perf_counter() - began
        return vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        rows = [self._row.get(t, -1) for t in texts]
        missing = self.live or min(rows, default=0) < 0
        if self.live:
            self.live_texts.extend(texts)
        out = self._real(texts) if missing else self._vectors[rows]
        self.stored.append(out)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.real.embed_query(text)

    def drop_cache(self) -> None:
        """Release the cached corpus matrix (before reading the process's memory use)."""
        self._vectors = np.empty((0, self.dimension), dtype=np.float32)
        self._row.clear()
