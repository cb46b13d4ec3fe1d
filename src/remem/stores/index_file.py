"""The SQLite store's search index saved beside its file, so a new process need not rebuild it.

Building the index from SQL means reading every vector row by row, tokenizing every text
for BM25 and, past the ANN threshold, building an HNSW graph (tens of seconds at 100k
rows). ``save`` writes all of it (vectors, times, flags, postings, graphs) to one file,
``<database>.index``, replaced only when whole; ``load`` reads it back in one pass.

The file is a cache, never the truth. It records the embedder, the last row key it holds
and that row's memory id: a file from another embedder, another database or an older
copy of this one (a restored backup) is ignored, and the store builds from SQL as before.
Rows written after the save are read from SQL on top of it; rows forgotten since are
found by comparing counts and marked removed; and every candidate is re-checked in SQL.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from remem._files import replacing
from remem.stores.ann import Ann
from remem.stores.row_index import Grow, Part, RowIndex

FORMAT = 1
#: Rows an index holds at least before it is worth a file (smaller ones build in milliseconds).
SAVE_FROM = 5_000
_COLUMNS = ("keys", "matrix", "has_vector", "when", "directive", "alive")


@dataclass(frozen=True)
class Stamp:
    """What ties a saved index to one database state: its embedder and its last row."""

    embedder: str | None
    dimension: int
    max_key: int
    last_id: str | None


def path_for(database: Path) -> Path:
    return database.with_name(database.name + ".index")


def save(index: RowIndex, stamp: Stamp, target: Path) -> None:
    """Write ``index`` (it must hold a partition) to ``target``, replacing it only when whole."""
    parts = list(index.parts.items())
    arrays: dict[str, Any] = {}
    for name in (*_COLUMNS, "lengths"):
        arrays[name] = np.concatenate([getattr(part, name).view for _, part in parts])
    words: list[str] = []
    counts: list[int] = []
    positions: list[np.ndarray] = []
    tfs: list[np.ndarray] = []
    for _, part in parts:
        for word, (where, tf) in part.postings.items():
            words.append(word)
            counts.append(where.size)
            positions.append(where.view)
            tfs.append(tf.view)
    arrays["words"] = np.array(words, dtype=str)
    arrays["word_rows"] = np.array(counts, dtype=np.int64)
    arrays["positions"] = np.concatenate(positions) if positions else np.empty(0, np.int32)
    arrays["tfs"] = np.concatenate(tfs) if tfs else np.empty(0, np.float32)
    for i, (_, part) in enumerate(parts):
        if part.ann is not None:
            arrays[f"ann{i}"] = part.ensure_ann().to_bytes()
    manifest = {
        "format": FORMAT,
        "stamp": stamp.__dict__,
        "parts": [[key[0], key[1]] for key, _ in parts],
        "rows": [p.size for _, p in parts],
        "tokenized": [p.tokenized for _, p in parts],
        "words": [len(p.postings) for _, p in parts],
        "total_length": [p.total_length for _, p in parts],
    }
    arrays["manifest"] = np.array(json.dumps(manifest))
    with replacing(target) as partial, partial.open("wb") as out:
        np.savez(out, **arrays)


def load(
    source: Path, accept: Callable[[Stamp], bool], ann_rows: int | None = None
) -> RowIndex | None:
    """The index saved at ``source`` if ``accept`` takes its stamp, else None."""
    try:
        with np.load(source) as saved:
            manifest = json.loads(str(saved["manifest"]))
            stamp = Stamp(**manifest["stamp"])
            if manifest["format"] != FORMAT or not accept(stamp):
                return None
            data = {name: saved[name] for name in saved.files if name != "manifest"}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError):
        return None  # missing, partial or from another remem: build from SQL instead
    index = RowIndex(stamp.dimension, ann_rows)
    row = tokenized = word = position = 0
    for i, (tenant, user_id) in enumerate(manifest["parts"]):
        part = Part(stamp.dimension)
        size = manifest["rows"][i]
        for name in _COLUMNS:
            setattr(part, name, Grow.wrap(data[name][row : row + size]))
        part.tokenized = manifest["tokenized"][i]
        part.lengths = Grow.wrap(data["lengths"][tokenized : tokenized + part.tokenized])
        part.total_length = manifest["total_length"][i]
        for _ in range(manifest["words"][i]):
            n = int(data["word_rows"][word])
            part.postings[str(data["words"][word])] = (
                Grow.wrap(data["positions"][position : position + n]),
                Grow.wrap(data["tfs"][position : position + n]),
            )
            word, position = word + 1, position + n
        if f"ann{i}" in data:
            part.ann = Ann.from_bytes(data[f"ann{i}"])
        index.parts[(tenant, user_id)] = part
        row, tokenized = row + size, tokenized + part.tokenized
    index.max_key = stamp.max_key
    return index
