"""JSONL export/import: one self-describing line per record, so a store can move anywhere losslessly.

The first line is a header naming the embedder. Then episodes, memories, events and
(format 2) the knowledge graph: entities with their alias-index ``keys`` (an entity's own
``type`` travels as ``entity_type``: ``type`` names the record), entity links, and the
extraction jobs still pending or failed (format 3: with the extraction answer a job
kept, so an imported job resumes at consolidation, and its retry time). Vectors (of memories, and the name
vectors of entities) travel as base64 float32; when the target store embeds with another
model they are dropped and recomputed from the text or the name, so exports also migrate
between embedders.

Format 4 ends with a trailer: the count of each record type and the SHA-256 of the
record lines, every byte between the header and the trailer (the header's only free
field is the export's time, so the same records always get the same trailer)::

    {"type": "trailer", "counts": {"episode": 2, ...}, "sha256": "9f2c..."}

An import reads the whole file, checks the trailer, and only then writes (in one
transaction), so a truncated or altered file writes nothing. Files of formats 1 to 3
have no trailer: nothing tells a truncated one from a whole one, so they are refused
unless the caller says ``unverified=True``. No line may be longer than
``MAX_LINE_BYTES``; exports never write one (a record holds at most 1,000,000
characters of text and 100,000 of metadata, see ``remem._checks``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from pydantic import ValidationError

from remem._checks import MAX_METADATA_DEPTH, check_id, check_json, check_metadata
from remem._files import replacing
from remem._json import loads
from remem._time import iso, utcnow
from remem.errors import InvalidInput, StoreError
from remem.model import Entity, EntityLink, Episode, Event, ExtractionJob, MemoryRecord
from remem.pipeline.entities import index_keys
from remem.pipeline.prompts import ExtractionAnswer
from remem.providers.embedder import Embedder

FORMAT = "remem-export"
#: 2: entities, entity links and extraction jobs.
#: 3: extraction jobs carry their kept extraction answer (``extracted``) and ``retry_at``.
#: 4: a trailer with counts and a checksum ends the file.
FORMAT_VERSION = 4
TRAILER_SINCE = 4
#: The longest line an import reads (and an export writes), newline included.
MAX_LINE_BYTES = 16 << 20
#: Nesting of one line: the record, an event's payload, then the metadata inside.
_LINE_DEPTH = MAX_METADATA_DEPTH + 3
_EMBED_BATCH = 256


class Export:
    """The export of ``items`` as JSONL lines, header first and trailer last.

    Iterate it once; ``counts`` (records per type) is complete when the trailer has gone by.
    """

    def __init__(self, items: Iterable[tuple[str, Any]], embedder: str | None) -> None:
        self.items, self.embedder = items, embedder
        self.counts: dict[str, int] = {}

    def __iter__(self) -> Iterator[str]:
        digest, counts = hashlib.sha256(), Counter[str]()
        # The first record opens the store's snapshot: a store that cannot be read fails
        # here, before the header goes out (an HTTP response can still be an error).
        records = iter(self.items)
        first = next(records, None)
        rest = records if first is None else itertools.chain([first], records)
        header = {
            "type": "header",
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "embedder": self.embedder,
            "exported_at": iso(utcnow()),
        }
        lines = ((k, _line(k, i)) for k, i in rest)  # a generator: one record at a time
        for kind, line in itertools.chain([("header", header)], lines):
            text = json.dumps(line, ensure_ascii=False) + "\n"
            data = text.encode("utf-8")
            if len(data) > MAX_LINE_BYTES:
                raise StoreError(
                    f"{kind} {line.get('id', '')} takes {len(data)} bytes as JSON, over the "
                    f"{MAX_LINE_BYTES}-byte line limit of imports; nothing was exported"
                )
            if kind != "header":
                digest.update(data)
                counts[kind] += 1
            yield text
        self.counts = dict(counts)
        trailer = {"type": "trailer", "counts": self.counts, "sha256": digest.hexdigest()}
        yield json.dumps(trailer) + "\n"


def _line(kind: str, item: Any) -> dict[str, Any]:
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
    return line


def write_export(export: Export, destination: str | Path | IO[str]) -> dict[str, int]:
    """Write ``export`` to a stream as it goes, or to a file that is replaced only when whole."""
    if not isinstance(destination, str | Path):
        for text in export:
            destination.write(text)
        return export.counts
    target = Path(destination)
    try:
        with replacing(target) as partial:
            # O_EXCL on a fresh name; mode 0o666 less the umask, as open() would give it.
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            with os.fdopen(os.open(partial, flags, 0o666), "wb") as out:
                for text in export:
                    out.write(text.encode("utf-8"))
    except OSError as exc:
        raise InvalidInput(
            f"cannot write {target}: {exc.strerror}; nothing was exported"
            + (" and the file there is unchanged" if target.exists() else "")
        ) from exc
    return export.counts


def _encode(vector: np.ndarray | None) -> str | None:
    if vector is None:
        return None
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def _decode(encoded: Any) -> np.ndarray | None:
    if not encoded:
        return None
    if not isinstance(encoded, str):
        raise ValueError("a vector must be base64 text")
    try:
        vector = np.frombuffer(base64.b64decode(encoded, validate=True), dtype="<f4")
    except binascii.Error as exc:
        raise ValueError(f"a vector is not base64: {exc}") from exc
    if not np.isfinite(vector).all():
        raise ValueError("a vector holds NaN or infinite values")
    return vector.astype(np.float32)


def _lines(source: str | Path | IO[str]) -> Iterator[bytes]:
    """The raw lines of ``source`` (newline kept), none longer than ``MAX_LINE_BYTES``."""
    if isinstance(source, str | Path):
        try:
            handle: IO[Any] = open(source, "rb")  # noqa: SIM115 (closed below, after the yields)
        except OSError as exc:
            raise InvalidInput(f"cannot open {source}: {exc.strerror}") from exc
    else:
        handle = source
    try:
        for number in itertools.count(1):
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if isinstance(raw, str):
                try:
                    raw = raw.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise InvalidInput(f"line {number} of the import is not UTF-8") from exc
            if len(raw) > MAX_LINE_BYTES:
                raise InvalidInput(
                    f"line {number} of the import is longer than {MAX_LINE_BYTES} bytes, the "
                    "limit: this is not a remem export"
                )
            yield raw
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the import is not UTF-8 text: {exc.reason}") from exc
    finally:
        if handle is not source:
            handle.close()


def read_jsonl(
    source: str | Path | IO[str], *, tenant: str, unverified: bool = False
) -> tuple[str | None, list[tuple[str, Any]]]:
    """Parse, check and verify a whole export before anything is written.

    Records move to ``tenant``. Returns the embedder that made the vectors and the records.
    """
    items: list[tuple[str, Any]] = []
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    digest = hashlib.sha256()
    seen: set[tuple[str, str]] = set()  # (kind, id) of the records read so far
    for number, raw in enumerate(_lines(source), start=1):
        if trailer is not None:
            if raw.strip():
                raise InvalidInput(f"line {number} of the import follows the trailer")
            continue
        try:
            line = _parse(raw)
            kind = None if line is None else line.pop("type", None)
            if line is None:  # a blank line
                pass
            elif header is None:
                header = _header(kind, line)
            elif kind == "trailer":
                trailer = line
            else:
                if isinstance(line.get("scope"), dict):
                    line["scope"] = {**line["scope"], "tenant": tenant}
                record = _record(kind, line)
                _check_once(record[0], record[1], seen)
                items.append(record)
        except (ValueError, KeyError, TypeError, ValidationError, RecursionError) as exc:
            raise InvalidInput(f"line {number} of the import is not a valid record: {exc}") from exc
        if header is not None and kind not in ("header", "trailer"):
            digest.update(raw)  # the record lines, blank ones included
    if header is None:
        raise InvalidInput("the import is empty: it has no remem-export header")
    _verify(header, trailer, digest.hexdigest(), count(items), unverified)
    return header.get("embedder"), items


def _parse(raw: bytes) -> dict[str, Any] | None:
    text = raw.decode("utf-8")
    if not text.strip():
        return None
    line = loads(text)
    if not isinstance(line, dict):
        raise TypeError(f"expected a JSON object, got {type(line).__name__}")
    # Every string, number and nesting level as the engine accepts them from callers.
    checked: dict[str, Any] = check_json(line, "record", _LINE_DEPTH)
    return checked


def _header(kind: Any, line: dict[str, Any]) -> dict[str, Any]:
    if kind != "header" or line.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file: its first line must be the header")
    version = line.get("version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(f"not a {FORMAT} file of version {FORMAT_VERSION} or older")
    return line


def _verify(
    header: dict[str, Any],
    trailer: dict[str, Any] | None,
    sha256: str,
    counts: dict[str, int],
    unverified: bool,
) -> None:
    """The trailer matches what was read, or the file is refused whole."""
    if trailer is None:
        if header["version"] >= TRAILER_SINCE:
            raise InvalidInput(
                f"the import ends after {sum(counts.values())} records without its trailer: "
                "the file is truncated; nothing was imported. Export again from the source"
            )
        if not unverified:
            raise InvalidInput(
                f"the import is a format {header['version']} export, which has no trailer: "
                "a truncated copy cannot be told from a whole one, so nothing was imported. "
                "If you trust it is whole, import it with unverified=True "
                "(remem import --unverified)"
            )
        return
    if trailer.get("sha256") != sha256:
        raise InvalidInput(
            "the import does not match its trailer's checksum: the file was altered or "
            "damaged after export; nothing was imported"
        )
    if trailer.get("counts") != counts:
        raise InvalidInput(
            f"the import holds {counts} records, its trailer says {trailer.get('counts')}; "
            "nothing was imported"
        )


def _record(kind: Any, line: dict[str, Any]) -> tuple[str, Any]:
    if kind == "episode":
        episode = Episode.model_validate(line)
        check_metadata(episode.metadata)
        return kind, episode
    if kind == "memory":
        vector = _decode(line.pop("vector", None))
        memory = MemoryRecord.model_validate(line)
        check_metadata(memory.metadata)
        _check_ids(memory.id, *memory.provenance)
        return kind, (memory, vector)
    if kind == "event":
        line.pop("seq", None)
        event = Event.model_validate(line)
        _check_ids(event.id, event.memory_id)
        return kind, event
    if kind == "entity":
        vector = _decode(line.pop("vector", None))
        keys = line.pop("keys", None)
        if "entity_type" in line:
            line["type"] = line.pop("entity_type")
        entity = Entity.model_validate(line)
        check_metadata(entity.metadata)
        if keys is None:  # a hand-written line: the keys the resolver would have indexed
            keys = index_keys(entity)
        if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            raise ValueError("keys must be a list of non-empty strings")
        return kind, (entity, vector, keys)
    if kind == "entity_link":
        link = EntityLink.model_validate(line)
        _check_ids(link.memory_id, link.entity_id)
        return kind, link
    if kind == "extraction_job":
        job = ExtractionJob.model_validate(line)
        _check_ids(job.id, *job.episode_ids)
        if job.extracted is not None:  # resumed without a second look: it must parse now
            ExtractionAnswer.model_validate(job.extracted)
        return kind, job
    raise ValueError(f"unknown record type {kind!r}")


def _check_ids(*ids: str) -> None:
    for value in ids:
        check_id(value)


def check_record(kind: str, item: Any) -> None:
    """A record read from a store (``migrate``) is what the engine would accept from a caller."""
    record = item[0] if kind in ("memory", "entity") else item
    check_json(record.model_dump(mode="json"), kind, _LINE_DEPTH)
    scope = record.scope
    for value in (scope.tenant, scope.user_id, scope.agent_id, scope.session_id):
        if value is not None:
            check_id(value, "scope")
    if kind in ("episode", "memory", "entity"):
        check_metadata(record.metadata)


def _check_once(kind: str, item: Any, seen: set[tuple[str, str]]) -> None:
    """Each record once per file (a memory version, an entity...); a link only to an
    entity of a line before it."""
    if kind == "entity_link":
        if ("entity", item.entity_id) not in seen:
            raise ValueError(
                f"it links entity {item.entity_id}, which no entity line before it holds"
            )
        return
    record = item[0] if kind in ("memory", "entity") else item
    name = f"{record.id} version {record.version}" if kind == "memory" else record.id
    if (kind, name) in seen:
        raise ValueError(f"{kind} {name} appears twice in the file")
    seen.add((kind, name))


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
