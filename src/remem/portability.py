"""JSONL export/import: one self-describing line per record, so a store can move anywhere losslessly.

The first line is a header naming the embedder. Then episodes, memories, events and
(format 2) the knowledge graph: entities with their alias-index ``keys`` (an entity's own
``type`` travels as ``entity_type``: ``type`` names the record), entity links, and the
extraction jobs still pending or failed (format 3: with the extraction answer a job
kept, so an imported job resumes at consolidation, and its retry time). Vectors (of memories, and the name
vectors of entities) travel as base64 float32; when the target store embeds with another
model they are dropped and recomputed from the text or the name, so exports also migrate
between embedders. Format 1 files (no graph lines) and format 2 files (jobs without an
answer) still import.
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
from remem.model import Entity, EntityLink, Episode, Event, ExtractionJob, MemoryRecord
from remem.pipeline.entities import index_keys
from remem.pipeline.prompts import ExtractionAnswer
from remem.providers.embedder import Embedder

FORMAT = "remem-export"
#: 2: entities, entity links and extraction jobs.
#: 3: extraction jobs carry their kept extraction answer (``extracted``) and ``retry_at``.
FORMAT_VERSION = 3
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
                line["vector"] = _encode(vector)
            elif kind == "entity":
                entity, vector, keys = item
                line = entity.model_dump(mode="json")
                line["entity_type"] = line.pop("type")  # "type" names the record
                line["vector"] = _encode(vector)
                line["keys"] = list(keys)
            else:
                line = item.model_dump(mode="json")
            line["type"] = kind
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            counts[kind] += 1
    return dict(counts)


def _encode(vector: np.ndarray | None) -> str | None:
    if vector is None:
        return None
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def _decode(encoded: Any) -> np.ndarray | None:
    if not encoded:
        return None
    return np.frombuffer(base64.b64decode(encoded), dtype="<f4").astype(np.float32)


def read_jsonl(
    source: str | Path | IO[str], *, tenant: str
) -> tuple[str | None, list[tuple[str, Any]]]:
    """Parse and validate a whole export before anything is written; records move to ``tenant``."""
    items: list[tuple[str, Any]] = []
    embedder = None
    seen: set[tuple[str, str]] = set()  # (kind, id) of entities and jobs read so far
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
                        raise InvalidInput(
                            f"not a {FORMAT} file of version {FORMAT_VERSION} or older"
                        )
                    embedder = line.get("embedder")
                    continue
                if isinstance(line.get("scope"), dict):
                    line["scope"] = {**line["scope"], "tenant": tenant}
                record = _record(kind, line)
                _check_graph(kind, record[1], seen)
                items.append(record)
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
        vector = _decode(line.pop("vector", None))
        return kind, (MemoryRecord.model_validate(line), vector)
    if kind == "event":
        line.pop("seq", None)
        return kind, Event.model_validate(line)
    if kind == "entity":
        vector = _decode(line.pop("vector", None))
        keys = line.pop("keys", None)
        if "entity_type" in line:
            line["type"] = line.pop("entity_type")
        entity = Entity.model_validate(line)
        if keys is None:  # a hand-written line: the keys the resolver would have indexed
            keys = index_keys(entity)
        if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            raise ValueError("keys must be a list of non-empty strings")
        return kind, (entity, vector, keys)
    if kind == "entity_link":
        return kind, EntityLink.model_validate(line)
    if kind == "extraction_job":
        job = ExtractionJob.model_validate(line)
        if job.extracted is not None:  # resumed without a second look: it must parse now
            ExtractionAnswer.model_validate(job.extracted)
        return kind, job
    raise ValueError(f"unknown record type {kind!r}")


def _check_graph(kind: str, item: Any, seen: set[tuple[str, str]]) -> None:
    """An entity or job id once per file; a link only to an entity of a line before it."""
    if kind == "entity_link":
        if ("entity", item.entity_id) not in seen:
            raise ValueError(
                f"it links entity {item.entity_id}, which no entity line before it holds"
            )
        return
    if kind in ("entity", "extraction_job"):
        key = (kind, (item[0] if kind == "entity" else item).id)
        if key in seen:
            raise ValueError(f"{kind} {key[1]} appears twice in the file")
        seen.add(key)


def fill_vectors(
    items: list[tuple[str, Any]], embedder: Embedder, reuse: bool
) -> list[tuple[str, Any]]:
    """Keep exported vectors when they come from our embedder; compute the others.

    Every memory gets a vector (from its text). An entity gets one (from its name) only if
    it had one: entities resolved offline never had a name vector, and must not gain one.
    """

    def fits(vector: np.ndarray | None) -> bool:
        return reuse and vector is not None and vector.shape == (embedder.dimension,)

    todo = [
        i
        for i, (kind, item) in enumerate(items)
        if (kind == "memory" or (kind == "entity" and item[1] is not None)) and not fits(item[1])
    ]
    for start in range(0, len(todo), _EMBED_BATCH):
        chunk = todo[start : start + _EMBED_BATCH]
        vectors = embedder.embed([_embedded_text(*items[i]) for i in chunk])
        for i, vector in zip(chunk, vectors, strict=True):
            kind, item = items[i]
            items[i] = (kind, (item[0], vector, *item[2:]))
    return items


def _embedded_text(kind: str, item: Any) -> str:
    return item[0].text if kind == "memory" else item[0].name


def count(items: Iterable[tuple[str, Any]]) -> dict[str, int]:
    return dict(Counter(kind for kind, _ in items))
