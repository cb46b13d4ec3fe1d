"""Record <-> row mapping shared by every SQL backend (column names are the same everywhere).

Rows read back from our own tables are trusted, so they are built without
re-validation (``model_construct``): that is most of a search's Python time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from remem.model import Episode, Event, MemoryRecord, Scope

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
)
EVENT_COLUMNS = ("id", "at", "op", "memory_id", "version", *SCOPE_COLUMNS, "reason", "payload")


def _same(value: Any) -> Any:
    return value


def _scope(row: Mapping[str, Any]) -> Scope:
    return Scope.model_construct(
        tenant=row["tenant"],
        user_id=row["user_id"],
        agent_id=row["agent_id"],
        session_id=row["session_id"],
    )


def _json_in(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


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
    )


def memory_from_row(row: Mapping[str, Any], t: TimeIn = _same) -> MemoryRecord:
    return MemoryRecord.model_construct(
        id=row["id"],
        version=row["version"],
        scope=_scope(row),
        kind=row["kind"],
        text=row["text"],
        provenance=tuple(_json_in(row["provenance"])),
        valid_from=t(row["valid_from"]),
        valid_to=t(row["valid_to"]),
        recorded_at=t(row["recorded_at"]),
        expired_at=t(row["expired_at"]),
        importance=row["importance"],
        access_count=row["access_count"],
        last_accessed_at=t(row["last_accessed_at"]),
        status=row["status"],
        metadata=_json_in(row["metadata"]),
        layer=row["layer"],
        stability=row["stability"],
        pinned=bool(row["pinned"]),
    )


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
    )


def episode_from_row(row: Mapping[str, Any], t: TimeIn = _same) -> Episode:
    return Episode.model_construct(
        id=row["id"],
        scope=_scope(row),
        seq=row["seq"],
        role=row["role"],
        speaker=row["speaker"],
        content=row["content"],
        occurred_at=t(row["occurred_at"]),
        recorded_at=t(row["recorded_at"]),
        source=row["source"],
        metadata=_json_in(row["metadata"]),
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


def event_from_row(row: Mapping[str, Any], t: TimeIn = _same) -> Event:
    return Event.model_construct(
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
