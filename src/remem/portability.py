"""JSONL export/import: one self-describing line per record, so a store can move anywhere losslessly.

The first line is a header naming the embedder. Vectors travel as base64
float32; when the target store embeds with another model they are dropped and
recomputed from the text, so exports also migrate between embedders.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
from pydantic import ValidationError

from remem._time import iso, utcnow
from remem.errors import InvalidInput
from remem.model import Episode, Event, MemoryRecord
from remem.providers.embedder import Embedder

FORMAT = "remem-export"
FORMAT_VERSION = 1
_EMBED_BATCH = 256


@contextmanager
def _open(target: str | Path | IO[str], mode: str) -> Iterator[IO[str]]:
    if isinstance(target, str | Path):
        try:
            with open(target, mode, encoding="utf-8") as handle:
                yield handle
        except OSError as exc:
            raise InvalidInput(f"cannot open {target}: {exc.strerror}") from exc
    else:
        yield target


def export_jsonl(
    items: Iterable[tuple[str, Any]], destination: str | Path | IO[str], embedder: str | None = None
) -> dict[str, int]:
    counts: Counter[str] = Counter()
    with _open(destination, "w") as out:
        header = {
            "type": "header",
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "embedder": embedder,
            "exported_at": iso(utcnow()),
        }
        out.write(json.dumps(header) + "\n")
        for kind, item in items:
            if kind == "memory":
                memory, vector = item
                line = memory.model_dump(mode="json")
                line["vector"] = (
                    base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
                    if vector is not None
                    else None
                )
            else:
                line = item.model_dump(mode="json")
            line["type"] = kind
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            counts[kind] += 1
    return dict(counts)


def read_jsonl(
    source: str | Path | IO[str], *, tenant: str
) -> tuple[str | None, list[tuple[str, Any]]]:
    """Parse and validate a whole export before anything is written; records move to ``tenant``."""
    items: list[tuple[str, Any]] = []
    embedder = None
    with _open(source, "r") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                if not isinstance(line, dict):
                    raise TypeError(f"expected a JSON object, got {type(line).__name__}")
                if _holds_nul(line):
                    raise ValueError("it holds a NUL character, which no backend can store")
                kind = line.pop("type")
                if kind == "header":
                    if line.get("format") != FORMAT or line.get("version", 0) > FORMAT_VERSION:
                        raise InvalidInput(f"not a {FORMAT} v{FORMAT_VERSION} file")
                    embedder = line.get("embedder")
                    continue
                if isinstance(line.get("scope"), dict):
                    line["scope"] = {**line["scope"], "tenant": tenant}
                items.append(_record(kind, line))
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                raise InvalidInput(
                    f"line {number} of the import is not a valid record: {exc}"
                ) from exc
    return embedder, items


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _record(kind: str, line: dict[str, Any]) -> tuple[str, Any]:
    if kind == "episode":
        return kind, Episode.model_validate(line)
    if kind == "memory":
        encoded = line.pop("vector", None)
        vector = (
            np.frombuffer(base64.b64decode(encoded), dtype="<f4").astype(np.float32)
            if encoded
            else None
        )
        return kind, (MemoryRecord.model_validate(line), vector)
    if kind == "event":
        line.pop("seq", None)
        return kind, Event.model_validate(line)
    raise ValueError(f"unknown record type {kind!r}")


def fill_vectors(
    items: list[tuple[str, Any]], embedder: Embedder, reuse: bool
) -> list[tuple[str, Any]]:
    """Keep exported vectors when they come from our embedder; compute the missing ones."""
    memories = [i for i, (kind, _) in enumerate(items) if kind == "memory"]
    todo = [
        i
        for i in memories
        if not reuse or items[i][1][1] is None or items[i][1][1].shape != (embedder.dimension,)
    ]
    for start in range(0, len(todo), _EMBED_BATCH):
        chunk = todo[start : start + _EMBED_BATCH]
        vectors = embedder.embed([items[i][1][0].text for i in chunk])
        for i, vector in zip(chunk, vectors, strict=True):
            items[i] = ("memory", (items[i][1][0], vector))
    return items


def count(items: Iterable[tuple[str, Any]]) -> dict[str, int]:
    return dict(Counter(kind for kind, _ in items))
