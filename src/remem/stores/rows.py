"""Record <-> row mapping shared by every SQL backend (column names are the same everywhere).

Rows read back from our own tables are trusted, so they are built without
re-validation: ``_trusted`` sets the fields directly, as ``model_construct``
does but without its per-field bookkeeping, which was half of a search's time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from remem.model import Entity, EntityLink, Episode, Event, ExtractionJob, MemoryRecord, Scope

M = TypeVar("M", bound=BaseModel)


class Row(Protocol):
    """A row read back by column name: ``sqlite3.Row`` or psycopg's ``dict_row``."""

    def __getitem__(self, key: str, /) -> Any: ...


TimeOut = Callable[[datetime | None], Any]
TimeIn = Callable[[Any], datetime | None]

SCOPE_COLUMNS = ("tenant", "user_id", "agent_id", "session_id")
MEMORY_COLUMNS = (
    "id",
    "version",
    *SCOPE_COLUMNS,
    "kind",
    "text",
    "provenance",
    "valid_from",
    "valid_to",
    "recorded_at",
    "expired_at",
    "importance",
    "access_count",
    "last_accessed_at",
    "status",
    "metadata",
    "layer",
    "stability",
    "pinned",
    "origin",
    "trust",
)
EPISODE_COLUMNS = (
    "id",
    *SCOPE_COLUMNS,
    "seq",
    "role",
    "speaker",
    "content",
    "occurred_at",
    "recorded_at",
    "source",
    "metadata",
    "trust",
)
EVENT_COLUMNS = ("id", "at", "op", "memory_id", "version", *SCOPE_COLUMNS, "reason", "payload")


def _same(value: Any) -> Any:
    return value


def _trusted(cls: type[M]) -> Callable[..., M]:
    """A constructor for ``cls`` that trusts its values; unnamed fields take their defaults."""
    fields = cls.model_fields

    def default(name: str) -> Any:
        spec = fields[name]
        if spec.default_factory is not None:
            return spec.default_factory()  # type: ignore[call-arg]
        if spec.default is PydanticUndefined:
            raise TypeError(f"{cls.__name__}.{name} has no default and was not given")
        return spec.default

    def build(**values: Any) -> M:
        data = {n: values[n] if n in values else default(n) for n in fields}
        return _assembled(cls, data, set(values))

    return build


def _assembled(cls: type[M], data: dict[str, Any], given: set[str]) -> M:
    """A ``cls`` holding ``data`` as it is, unvalidated (``given``: the fields named)."""
    record = cls.__new__(cls)
    setter = object.__setattr__
    setter(record, "__dict__", data)
    setter(record, "__pydantic_fields_set__", given)
    setter(record, "__pydantic_extra__", None)
    setter(record, "__pydantic_private__", None)
    return record


_episode = _trusted(Episode)
_event = _trusted(Event)
_new_scope = _trusted(Scope)
_scopes: dict[tuple[Any, ...], Scope] = {}


def _scope(row: Row) -> Scope:
    return _scope_of((row["tenant"], row["user_id"], row["agent_id"], row["session_id"]))


def _scope_of(key: tuple[Any, ...]) -> Scope:
    found = _scopes.get(key)
    if found is None:
        found = _new_scope(tenant=key[0], user_id=key[1], agent_id=key[2], session_id=key[3])
        if len(_scopes) < 100_000:  # scopes are frozen, so sharing them is safe
            _scopes[key] = found
    return found


def _by_name(row: Row) -> Row:
    """The row as a dict when it is a ``sqlite3.Row``: that finds a column by comparing its
    name with each column's in turn, and the 24 lookups of a memory were half of building
    it (9 of 17 µs); a dict of the row costs about as much as two of them."""
    return dict(zip(row.keys(), row, strict=True)) if isinstance(row, sqlite3.Row) else row


def _json_in(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


_flat_objects: dict[str, dict[str, Any]] = {}


def _metadata_in(value: Any) -> dict[str, Any]:
    """Metadata repeats a lot ({"role": "user"}): flat objects are parsed once, then copied."""
    if not isinstance(value, str):
        return _json_in(value)
    found = _flat_objects.get(value)
    if found is None:
        found = json.loads(value)
        if len(value) > 512 or any(isinstance(v, dict | list) for v in found.values()):
            return found
        if len(_flat_objects) < 10_000:
            _flat_objects[value] = found
    return dict(found)


def _required(t: TimeIn, value: Any) -> datetime:
    """A time from a NOT NULL column."""
    found = t(value)
    if found is None:
        raise ValueError("a NOT NULL time column held NULL")
    return found


def scope_values(scope: Scope) -> tuple[Any, ...]:
    return (scope.tenant, scope.user_id, scope.agent_id, scope.session_id)


def memory_row(m: MemoryRecord, t: TimeOut = _same) -> tuple[Any, ...]:
    return (
        m.id,
        m.version,
        *scope_values(m.scope),
        m.kind,
        m.text,
        json.dumps(list(m.provenance)),
        t(m.valid_from),
        t(m.valid_to),
        t(m.recorded_at),
        t(m.expired_at),
        m.importance,
        m.access_count,
        t(m.last_accessed_at),
        m.status,
        json.dumps(m.metadata),
        m.layer,
        m.stability,
        m.pinned,
        m.origin,
        m.trust,
    )


def memory_from_row(row: Row, t: TimeIn = _same) -> MemoryRecord:
    row = _by_name(row)
    return memory_from_values([row[c] for c in MEMORY_COLUMNS], t)


_MEMORY_FIELDS = frozenset(MemoryRecord.model_fields)
assert {"scope", *MEMORY_COLUMNS} - set(SCOPE_COLUMNS) == _MEMORY_FIELDS


def memory_from_values(values: Sequence[Any], t: TimeIn = _same) -> MemoryRecord:
    """A record from its ``MEMORY_COLUMNS`` in order (a plain tuple row: no lookups by name).

    Every field comes from a column, so the record's dict is written in one go: a search
    builds one per candidate it returns, and this is a third of ``_trusted``'s generic path.
    """
    (
        id_, version, tenant, user_id, agent_id, session_id, kind, text, provenance,
        valid_from, valid_to, recorded_at, expired_at, importance, access_count,
        last_accessed_at, status, metadata, layer, stability, pinned, origin, trust,
    ) = values  # fmt: skip
    scope = _scope_of((tenant, user_id, agent_id, session_id))
    data = {
        "id": id_, "version": version, "scope": scope, "kind": kind, "text": text,
        "provenance": tuple(_json_in(provenance)), "valid_from": t(valid_from),
        "valid_to": t(valid_to), "recorded_at": t(recorded_at), "expired_at": t(expired_at),
        "importance": importance, "access_count": access_count,
        "last_accessed_at": t(last_accessed_at), "status": status,
        "metadata": _metadata_in(metadata), "layer": layer, "stability": stability,
        "pinned": bool(pinned), "origin": origin, "trust": trust,
    }  # fmt: skip
    return _assembled(MemoryRecord, data, set(_MEMORY_FIELDS))


def episode_row(e: Episode, t: TimeOut = _same) -> tuple[Any, ...]:
    return (
        e.id,
        *scope_values(e.scope),
        e.seq,
        e.role,
        e.speaker,
        e.content,
        t(e.occurred_at),
        t(e.recorded_at),
        e.source,
        json.dumps(e.metadata),
        e.trust,
    )


def episode_from_row(row: Row, t: TimeIn = _same) -> Episode:
    row = _by_name(row)
    return _episode(
        id=row["id"],
        scope=_scope(row),
        seq=row["seq"],
        role=row["role"],
        speaker=row["speaker"],
        content=row["content"],
        occurred_at=t(row["occurred_at"]),
        recorded_at=t(row["recorded_at"]),
        source=row["source"],
        metadata=_metadata_in(row["metadata"]),
        trust=row["trust"],
    )


def event_row(e: Event, t: TimeOut = _same) -> tuple[Any, ...]:
    return (
        e.id,
        t(e.at),
        e.op,
        e.memory_id,
        e.version,
        *scope_values(e.scope),
        e.reason,
        json.dumps(e.payload),
    )


def event_from_row(row: Row, t: TimeIn = _same) -> Event:
    return _event(
        id=row["id"],
        seq=row["seq"],
        at=t(row["at"]),
        op=row["op"],
        memory_id=row["memory_id"],
        version=row["version"],
        scope=_scope(row),
        reason=row["reason"],
        payload=_json_in(row["payload"]),
    )


ENTITY_COLUMNS = (
    "id",
    "tenant",
    "user_id",
    "name",
    "type",
    "aliases",
    "created_at",
    "updated_at",
    "metadata",
)
JOB_COLUMNS = (
    "id",
    *SCOPE_COLUMNS,
    "episode_ids",
    "status",
    "attempts",
    "error",
    "created_at",
    "updated_at",
    "extracted",
    "retry_at",
)


def entity_row(e: Entity, t: TimeOut = _same) -> tuple[Any, ...]:
    return (
        e.id,
        e.scope.tenant,
        e.scope.user_id,
        e.name,
        e.type,
        json.dumps(list(e.aliases)),
        t(e.created_at),
        t(e.updated_at),
        json.dumps(e.metadata),
    )


def entity_from_row(row: Row, t: TimeIn = _same) -> Entity:
    return Entity(
        id=row["id"],
        scope=Scope(tenant=row["tenant"], user_id=row["user_id"]),
        name=row["name"],
        type=row["type"],
        aliases=tuple(_json_in(row["aliases"])),
        created_at=_required(t, row["created_at"]),
        updated_at=_required(t, row["updated_at"]),
        metadata=_json_in(row["metadata"]),
    )


def job_row(j: ExtractionJob, t: TimeOut = _same) -> tuple[Any, ...]:
    return (
        j.id,
        *scope_values(j.scope),
        json.dumps(list(j.episode_ids)),
        j.status,
        j.attempts,
        j.error,
        t(j.created_at),
        t(j.updated_at),
        None if j.extracted is None else json.dumps(j.extracted),
        t(j.retry_at),
    )


def job_from_row(row: Row, t: TimeIn = _same) -> ExtractionJob:
    return ExtractionJob(
        id=row["id"],
        scope=_scope(row),
        episode_ids=tuple(_json_in(row["episode_ids"])),
        status=row["status"],
        attempts=row["attempts"],
        error=row["error"],
        created_at=_required(t, row["created_at"]),
        updated_at=_required(t, row["updated_at"]),
        extracted=_json_in(row["extracted"]),
        retry_at=t(row["retry_at"]),
    )


def link_from_row(tenant: str, memory_id: str, entity_id: str) -> EntityLink:
    return EntityLink(scope=Scope(tenant=tenant), memory_id=memory_id, entity_id=entity_id)
