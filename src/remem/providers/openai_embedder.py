"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint (OpenAI, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import numpy as np

from remem.errors import ProviderError
from remem.providers.embedder import normalise


class OpenAIEmbedder:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dimension: int | None = None,
        timeout: float = 30.0,
        batch_size: int = 128,
    ) -> None:
        self._model = model
        self._dimension = dimension
        self._batch = batch_size
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    @property
    def model_id(self) -> str:
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.embed(["dimension probe"]).shape[1])
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        texts = list(texts)
        for start in range(0, len(texts), self._batch):
            chunk = texts[start : start + self._batch]
            try:
                response = self._client.post(
                    "/embeddings", json={"model": self._model, "input": chunk}
                )
                response.raise_for_status()
                data = sorted(response.json()["data"], key=lambda d: d["index"])
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                raise ProviderError(
                    f"embeddings request to {self._client.base_url} failed: {exc}"
                ) from exc
            if len(data) != len(chunk):
                raise ProviderError(
                    f"embeddings API returned {len(data)} vectors for {len(chunk)} texts"
                )
            rows.extend(d["embedding"] for d in data)
        if not rows:
            return np.empty((0, self._dimension or 0), dtype=np.float32)
        vectors = normalise(np.array(rows, dtype=np.float32))
        if self._dimension is None:
            self._dimension = vectors.shape[1]
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
