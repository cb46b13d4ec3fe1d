"""The SQLite store's search index saved beside its file, so a new process need not rebuild it.

Building the index from SQL means reading every vector row by row, tokenizing every text
for BM25 and, past the ANN threshold, building an HNSW graph (tens of seconds at 100k
rows). ``save`` writes all of it to a folder beside the database, ``<database>.index``:
one ``.npy`` file per column (vectors, times, flags, postings) and one faiss file per
graph. ``load`` maps the columns into memory (copy-on-write: nothing is read until a
search touches it, and the file never changes under a reader) and reads the graphs.
A save writes a new folder and swaps it in whole; a reader that finds none builds from SQL.

The folder is a cache, never the truth. It records the embedder, the last row key it
holds and that row's memory id: a folder from another embedder, another database or an
older copy of this one (a restored backup) is ignored, and the store builds from SQL as
before. Rows written after the save are read from SQL on top of it; rows forgotten since
are found by comparing counts and marked removed; and every candidate is re-checked in SQL.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from remem.stores.ann import Ann
from remem.stores.grow import Grow
from remem.stores.row_index import Part, RowIndex

FORMAT = 2
#: Rows an index holds at least before it is worth a file (smaller ones build in milliseconds).
SAVE_FROM = 5_000
_COLUMNS = ("keys", "matrix", "has_vector", "when", "directive", "alive")
_MANIFEST = "manifest.json"
#: Columns a search over a large partition reads at random (rescored rows, BM25 postings):
#: from a cold disk a page at a time, so the graph's reader reads them ahead (``page_in``).
_READ_AHEAD = ("matrix", "positions", "tfs")


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
    """Write ``index`` (it must hold a partition) to the folder ``target``, swapped in whole."""
    parts = list(index.parts.items())
    arrays: dict[str, np.ndarray] = {}
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
    arrays["word_rows"] = np.array(counts, dtype=np.int64)
    arrays["positions"] = np.concatenate(positions) if positions else np.empty(0, np.int32)
    arrays["tfs"] = np.concatenate(tfs) if tfs else np.empty(0, np.float32)
    graphs = [i for i, (_, p) in enumerate(parts) if p.ann is not None]
    manifest = {
        "format": FORMAT,
        "stamp": stamp.__dict__,
        "parts": [[key[0], key[1]] for key, _ in parts],
        "rows": [p.size for _, p in parts],
        "tokenized": [p.tokenized for _, p in parts],
        "words": [len(p.postings) for _, p in parts],
        "total_length": [p.total_length for _, p in parts],
        "graphs": graphs,
        "vocabulary": words,
    }
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    partial.mkdir()
    try:
        for name, values in arrays.items():
            np.save(partial / f"{name}.npy", values)
        for i in graphs:
            graph = parts[i][1].ensure_ann()
            graph.save(partial / f"graph{i}.faiss")
            np.save(partial / f"rows{i}.npy", graph.rows)
            np.save(partial / f"twins{i}.npy", graph.twins)
        (partial / _MANIFEST).write_text(
            json.dumps(manifest)
        )  # last: a folder without it is partial
        stale = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
        if target.exists():
            target.rename(stale)
        partial.rename(target)
    finally:
        for leftover in (partial, *target.parent.glob(f".{target.name}.*.old")):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def load(
    source: Path, accept: Callable[[Stamp], bool], ann_rows: int | None = None
) -> RowIndex | None:
    """The index saved in the folder ``source`` if ``accept`` takes its stamp, else None."""
    try:
        manifest = json.loads((source / _MANIFEST).read_text())
        stamp = Stamp(**manifest["stamp"])
        if manifest["format"] != FORMAT or not accept(stamp):
            return None
        data = {  # plain views of the maps: slicing an np.memmap costs 20x more
            name: np.load(source / f"{name}.npy", mmap_mode="c").view(np.ndarray)
            for name in (*_COLUMNS, "lengths", "word_rows", "positions", "tfs")
        }
        graphs = {
            i: Ann.load(
                source / f"graph{i}.faiss",
                np.load(source / f"rows{i}.npy", mmap_mode="r"),
                np.load(source / f"twins{i}.npy"),
                # the columns a search over a graph reads next, read ahead after the first
                then=[source / f"{name}.npy" for name in _READ_AHEAD] if n == 0 else (),
            )
            for n, i in enumerate(manifest["graphs"])
        }
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, json.JSONDecodeError):
        return None  # missing, partial or from another remem: build from SQL instead
    index = RowIndex(stamp.dimension, ann_rows)
    vocabulary: list[str] = manifest["vocabulary"]
    offsets = np.concatenate([[0], np.cumsum(data["word_rows"])]).tolist()
    row = tokenized = word = 0
    for i, (tenant, user_id) in enumerate(manifest["parts"]):
        part = Part(stamp.dimension)
        size = manifest["rows"][i]
        for name in _COLUMNS:
            setattr(part, name, Grow.wrap(data[name][row : row + size]))
        part.tokenized = manifest["tokenized"][i]
        part.lengths = Grow.wrap(data["lengths"][tokenized : tokenized + part.tokenized])
        part.total_length = manifest["total_length"][i]
        for w in range(word, word + manifest["words"][i]):
            begin, end = offsets[w], offsets[w + 1]
            part.postings[vocabulary[w]] = (
                Grow.wrap(data["positions"][begin:end]),
                Grow.wrap(data["tfs"][begin:end]),
            )
        word += manifest["words"][i]
        part.ann = graphs.get(i)
        index.parts[(tenant, user_id)] = part
        row, tokenized = row + size, tokenized + part.tokenized
    index.max_key = stamp.max_key
    return index
