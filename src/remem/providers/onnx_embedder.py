"""Any local sentence-embedding model exported to ONNX, from a folder, on onnxruntime.

A folder holds ``model.onnx`` (or ``onnx/model.onnx``, as Hugging Face repositories lay
it out) and ``tokenizer.json``. How its token states become one vector is the model's
own recipe, so it is read from the folder, not guessed from the name:

- ``remem-embedder.json``, when present: ``pooling`` ("mean" or "cls"), ``normalize``,
  ``max_tokens``, ``query_prefix``, ``document_prefix`` (e5 wants "query: " and
  "passage: ", bge and arctic an instruction before queries), ``model_file`` and
  ``model_id``;
- otherwise what sentence-transformers saves beside the model: ``1_Pooling/config.json``
  (the pooling), ``config_sentence_transformers.json`` (the query prompt),
  ``tokenizer_config.json`` (the longest input).

Arguments to ``OnnxEmbedder`` win over both. Nothing is downloaded: the folder is the
model. Batches are sorted by length so padding stays small, which is most of the speed
on two cores.

Cores are used by data parallelism, not inside the model: each session runs one thread,
and the batches of a many-text ``embed`` run side by side on ``threads`` workers over
that one session (``InferenceSession.run`` is thread-safe and releases the GIL). On
two cores the model's small matrix products gain little from a second intra-op thread
(it is woken for each operator), while two batches at once keep both cores busy; a
single text (a query) runs on the caller's thread, where a second thread only widens
its tail. The vectors are the same either way: a batch is computed the same whatever
thread runs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from remem.errors import InvalidInput, ProviderError

#: The folder's own settings, written by the user (every key optional).
CONFIG_FILE = "remem-embedder.json"
POOLINGS = ("mean", "cls")
#: A batch's padded size (texts x longest, in tokens) and its most texts (``batches``).
BATCH_TOKENS = 512
BATCH_TEXTS = 32
_QUERY_CACHE = 2048
#: A long text is first tokenized from its first ``max_tokens`` x this many characters.
PREFIX_CHARS_PER_TOKEN = 8
#: Where a prefix is cut: a space or a line break, a word boundary for every tokenizer.
_SPACE = re.compile(r"[ \n]")
_PAD_TOKENS = ("[PAD]", "<pad>", "<|endoftext|>")


@dataclass(frozen=True)
class OnnxSettings:
    """How a model's token states become one vector, and what its inputs look like."""

    pooling: str = "mean"
    normalize: bool = True
    max_tokens: int = 512
    query_prefix: str = ""
    document_prefix: str = ""
    model_file: str = "model.onnx"
    model_id: str | None = None

    def check(self, where: str) -> OnnxSettings:
        if self.pooling not in POOLINGS:
            raise InvalidInput(
                f"{where}: pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}"
            )
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise InvalidInput(f"{where}: max_tokens must be a positive integer")
        return self


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(f"{path} must hold a JSON object")
    return value


def _sentence_transformers(folder: Path) -> dict[str, Any]:
    """The settings a sentence-transformers save implies (pooling, query prompt, length)."""
    found: dict[str, Any] = {}
    pooling = _read_json(folder / "1_Pooling" / "config.json")
    if pooling.get("pooling_mode_cls_token"):
        found["pooling"] = "cls"
    elif pooling.get("pooling_mode_mean_tokens"):
        found["pooling"] = "mean"
    prompts = _read_json(folder / "config_sentence_transformers.json").get("prompts") or {}
    if isinstance(prompts.get("query"), str):
        found["query_prefix"] = prompts["query"]
    for name in ("document", "passage"):
        if isinstance(prompts.get(name), str):
            found["document_prefix"] = prompts[name]
    longest = _read_json(folder / "tokenizer_config.json").get("model_max_length")
    if isinstance(longest, int) and 0 < longest <= 8192:
        found["max_tokens"] = longest
    return found


def folder_settings(folder: Path, overrides: dict[str, Any]) -> OnnxSettings:
    """Arguments over ``remem-embedder.json`` over sentence-transformers' files over defaults."""
    own = _read_json(folder / CONFIG_FILE)
    known = {f.name for f in fields(OnnxSettings)}
    unknown = set(own) - known
    if unknown:
        raise InvalidInput(
            f"{folder / CONFIG_FILE}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"expected {', '.join(sorted(known))}"
        )
    chosen = {**_sentence_transformers(folder), **own}
    chosen.update({k: v for k, v in overrides.items() if v is not None})
    return OnnxSettings(**chosen).check(str(folder))


def _model_file(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / "onnx" / name):
        if candidate.is_file():
            return candidate
    raise InvalidInput(
        f"{folder} holds no ONNX model: expected {name} (or onnx/{name}) beside tokenizer.json"
    )


def _fingerprint(model: Path, tokenizer: Path, settings: OnnxSettings) -> str:
    """A short digest of the files and the settings: a store binds to the vectors they make.

    The model is read at its ends only (its size is in the digest), so a large file costs
    nothing to name.
    """
    digest = hashlib.sha256()
    size = model.stat().st_size
    with model.open("rb") as f:
        digest.update(f.read(1 << 20))
        f.seek(max(0, size - (1 << 20)))
        digest.update(f.read())
    digest.update(str(size).encode())
    digest.update(tokenizer.read_bytes())
    described = replace(settings, model_id=None, model_file="")
    digest.update(repr(described).encode())
    return digest.hexdigest()[:12]


class OnnxModel:
    """A sentence encoder on onnxruntime: its files, its settings, its name; lazy (nothing
    loads until the first text). ``OnnxEmbedder`` reads them from a folder,
    ``LocalEmbedder`` from the packages that ship remem's default model. ``threads``: how
    many batches run side by side (default: the cores, at most 4; 1 runs them in turn)."""

    def __init__(
        self,
        files: Callable[[], tuple[Path, Path]],
        settings: OnnxSettings,
        model_id: str,
        *,
        dimension: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.settings = settings
        self._files = files
        self._model_id = model_id
        self._dimension = dimension
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._session: Any = None  # onnxruntime.InferenceSession, loaded on first use
        self._tokenizer: Any = None  # tokenizers.Tokenizer
        self._needs_type_ids = False
        self._pad_id = 0
        self._lock = threading.Lock()
        # The workers that run a many-text embed's batches side by side; started with the
        # model. Their threads end when the model is collected or the interpreter exits.
        self._pool: ThreadPoolExecutor | None = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._load()
            if self._dimension is None:
                self._dimension = int(self._embed(["dimension probe"]).shape[1])
        return self._dimension

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model_path, tokenizer_path = self._files()
            if not model_path.is_file() or not tokenizer_path.is_file():
                raise ProviderError(f"embedding model files not found: {model_path}")
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            tokenizer.enable_truncation(max_length=self.settings.max_tokens)
            self._pad_id = _pad_id(tokenizer)
            tokenizer.no_padding()  # batches are padded in _run, each to its own longest
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # One thread per run: cores go to batches side by side (module docs).
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            try:
                session = ort.InferenceSession(
                    str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise ProviderError(f"cannot load the ONNX model {model_path}: {exc}") from exc
            names = {i.name for i in session.get_inputs()}
            if not {"input_ids", "attention_mask"} <= names:
                raise ProviderError(
                    f"{model_path} is not a sentence encoder: it takes {sorted(names)}, "
                    "expected input_ids and attention_mask"
                )
            self._needs_type_ids = "token_type_ids" in names
            width = session.get_outputs()[0].shape[-1]
            if isinstance(width, int) and self._dimension is None:
                self._dimension = width
            self._tokenizer = tokenizer
            if self._threads > 1:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="remem-embed")
            self._session = session

    def _run(self, encodings: Sequence[Any]) -> np.ndarray:
        """Vectors of tokenized texts, padded here to the longest of them."""
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._needs_type_ids:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        if hidden.ndim == 2:  # the export pools already
            pooled = hidden
        elif self.settings.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if self.settings.normalize:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = pooled / np.clip(norms, 1e-12, None)
        return np.asarray(pooled, dtype=np.float32)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        self._load()
        encodings = self._encode(texts)
        groups = batches([len(e.ids) for e in encodings])

        def run(batch: list[int]) -> np.ndarray:
            return self._run([encodings[i] for i in batch])

        parts = (
            self._pool.map(run, groups)
            if self._pool is not None and len(groups) > 1
            else map(run, groups)
        )
        out: np.ndarray | None = None
        for batch, vectors in zip(groups, parts, strict=True):
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[batch] = vectors
        assert out is not None
        return out

    def _encode(self, texts: list[str]) -> list[Any]:
        """The tokens of each text, truncated to the model's window.

        A long text is tokenized from a prefix cut at a space: its tokens are the text's first
        tokens (the tokenizer splits words at spaces and normalises each character alone), so
        when the prefix alone overflows the window, what the model sees is the same. Only the
        texts whose prefix falls short are tokenized whole. A 2,500-word turn costs a tenth.
        """
        longest = self.settings.max_tokens * PREFIX_CHARS_PER_TOKEN
        cut = [_prefix(t, longest) for t in texts]
        encodings = self._tokenizer.encode_batch(cut)
        short = [i for i, e in enumerate(encodings) if cut[i] is not texts[i] and not e.overflowing]
        if short:
            whole = self._tokenizer.encode_batch([texts[i] for i in short])
            for i, e in zip(short, whole, strict=True):
                encodings[i] = e
        return list(encodings)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        prefix = self.settings.document_prefix
        return self._embed([prefix + t for t in texts] if prefix else list(texts))

    def embed_query(self, text: str) -> np.ndarray:
        with self._cache_lock:  # the HTTP service asks from several threads
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
        vector = self._embed([self.settings.query_prefix + text])[0]
        with self._cache_lock:
            self._cache[text] = vector
            if len(self._cache) > _QUERY_CACHE:
                self._cache.popitem(last=False)
        return vector


class OnnxEmbedder(OnnxModel):
    """A model folder (module docs); keyword arguments override the folder's settings.

    ``OnnxEmbedder("models/bge-small-en-v1.5")``. ``model_id`` (what a store binds to)
    defaults to the folder's name and a digest of its files and settings, so another
    model, or the same one pooled differently, is another embedding space.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        pooling: str | None = None,
        normalize: bool | None = None,
        max_tokens: int | None = None,
        query_prefix: str | None = None,
        document_prefix: str | None = None,
        model_id: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise InvalidInput(f"embedder folder {self.folder} does not exist")
        settings = folder_settings(
            self.folder,
            {
                "pooling": pooling,
                "normalize": normalize,
                "max_tokens": max_tokens,
                "query_prefix": query_prefix,
                "document_prefix": document_prefix,
                "model_id": model_id,
            },
        )
        tokenizer = self.folder / "tokenizer.json"
        if not tokenizer.is_file():
            raise InvalidInput(f"{self.folder} holds no tokenizer.json")
        files = (_model_file(self.folder, settings.model_file), tokenizer)
        name = settings.model_id or (
            f"onnx:{self.folder.resolve().name}@{_fingerprint(*files, settings)}"
        )
        super().__init__(lambda: files, settings, name, threads=threads)

    def __repr__(self) -> str:
        return f"OnnxEmbedder({str(self.folder)!r}, model_id={self.model_id!r})"


def _prefix(text: str, chars: int) -> str:
    """``text`` up to the first space or line break at or after ``chars`` (``text`` itself if
    shorter, or if there is none)."""
    if len(text) <= chars:
        return text
    found = _SPACE.search(text, chars)
    return text if found is None else text[: found.start()]


def _pad_id(tokenizer: Any) -> int:
    """The tokenizer's own pad token, else the first of the usual ones it knows, else id 0.

    Which id pads does not change a vector (the attention mask hides it), only the work.
    """
    configured = tokenizer.padding
    if configured and "pad_id" in configured:
        return int(configured["pad_id"])
    for token in _PAD_TOKENS:
        found = tokenizer.token_to_id(token)
        if found is not None:
            return int(found)
    return 0


def batches(lengths: Sequence[int]) -> list[list[int]]:
    """Positions grouped for the model, shortest texts first: a batch grows while its
    padded size (texts x longest) stays within ``BATCH_TOKENS``, up to ``BATCH_TEXTS``.

    Padding is work thrown away, and attention grows with the square of the length: on
    two cores, conversational turns (20-60 tokens) run ~2x faster in batches of similar
    length than in fixed batches of 32, with the same vectors (each row is computed alone).
    """
    out: list[list[int]] = []
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batch and ((len(batch) + 1) * lengths[i] > BATCH_TOKENS or len(batch) == BATCH_TEXTS):
            out.append(batch)
            batch = []
        batch.append(i)
    if batch:
        out.append(batch)
    return out
