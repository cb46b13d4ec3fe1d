"""Mem0's REST payloads, read and written for ``remem serve --mem0-compat``.

Mem0 names its scopes ``user_id``, ``agent_id``, ``run_id`` and ``app_id``: the first two
are remem's, ``run_id`` is a remem session, and ``app_id`` (no remem scope) is kept in
metadata and matched there. Filters are the subset of Mem0's filter language that maps
onto remem exactly: those ids, ``metadata`` equality, and ``AND`` of them. Anything else
is refused with a message rather than silently widened.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from remem._time import to_utc
from remem.errors import InvalidInput
from remem.integrations.mem0 import APP_ID, CATEGORIES, MEM0_ID
from remem.model import Event, MemoryRecord

#: Where a Mem0 expiration date is kept (remem's own ``valid_to`` is event time, not this).
EXPIRES = "mem0_expiration_date"
#: Mem0 scope names and the remem keyword each becomes.
SCOPES = {"user_id": "user_id", "agent_id": "agent_id", "run_id": "session_id"}


class Where:
    """A Mem0 filter as remem arguments: scope keywords and a metadata equality filter."""

    def __init__(self) -> None:
        self.scope: dict[str, str] = {}
        self.metadata: dict[str, Any] = {}

    def set_scope(self, name: str, value: Any) -> None:
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"mem0 filter {name} must be a non-empty string")
        if name == "app_id":
            self._set(self.metadata, APP_ID, value)
        else:
            self._set(self.scope, SCOPES[name], value)

    def _set(self, into: dict[str, Any], key: str, value: Any) -> None:
        if into.get(key, value) != value:
            raise InvalidInput(
                f"mem0 filter names two values for {key}: an AND that matches nothing"
            )
        into[key] = value


def read_filters(*sources: Mapping[str, Any] | None) -> Where:
    """The scope and metadata named by Mem0 ``filters`` (and top-level ids), merged."""
    where = Where()
    for source in sources:
        _read(source or {}, where)
    return where


def _read(flt: Mapping[str, Any], where: Where) -> None:
    if not isinstance(flt, Mapping):
        raise InvalidInput("mem0 filters must be an object")
    for key, value in flt.items():
        if key == "AND":
            if not isinstance(value, list):
                raise InvalidInput("mem0 filter AND must be a list of filters")
            for part in value:
                _read(part, where)
        elif key in (*SCOPES, "app_id"):
            if value in (None, "*"):
                continue  # Mem0's wildcard: any value, which an absent filter already is
            where.set_scope(key, value)
        elif key == "metadata":
            if not isinstance(value, Mapping):
                raise InvalidInput("mem0 filter metadata must be an object of key/value pairs")
            for name, wanted in value.items():
                where._set(where.metadata, name, wanted)
        else:
            raise InvalidInput(
                f"mem0 filter {key!r} is not supported by remem's Mem0 compatibility: filters "
                "may name user_id, agent_id, run_id, app_id and metadata, combined with AND "
                "(docs/migrating-from-mem0.md)"
            )


def mem0_metadata(record: MemoryRecord) -> dict[str, Any]:
    """The metadata a Mem0 client set: remem's own keys (role, speaker...) left out."""
    own = {"role", "speaker", "directive", APP_ID, EXPIRES, CATEGORIES}
    return {k: v for k, v in record.metadata.items() if k not in own}


def memory_out(record: MemoryRecord, score: float | None = None) -> dict[str, Any]:
    """A remem memory as Mem0 returns one."""
    out: dict[str, Any] = {
        "id": record.id,
        "memory": record.text,
        "user_id": record.scope.user_id,
        "agent_id": record.scope.agent_id,
        "run_id": record.scope.session_id,
        "app_id": record.metadata.get(APP_ID),
        "metadata": mem0_metadata(record) or None,
        "categories": record.metadata.get(CATEGORIES, []),
        "mem0_id": record.metadata.get(MEM0_ID),
        "immutable": False,
        "expiration_date": record.metadata.get(EXPIRES),
        "created_at": _iso(record.valid_from or record.recorded_at),
        "updated_at": _iso(record.recorded_at),
    }
    if score is not None:
        out["score"] = score
    return out


def history_out(events: list[Event]) -> list[dict[str, Any]]:
    """A memory's remem events as Mem0's history: one entry per add, update and delete."""
    entries: list[dict[str, Any]] = []
    previous: str | None = None
    for event in events:
        if event.op not in ("add", "update", "delete"):
            continue
        text = event.payload.get("text")
        entries.append(
            {
                "id": event.id,
                "memory_id": event.memory_id,
                "input": [],
                "old_memory": previous if event.op != "add" else None,
                "new_memory": text if event.op != "delete" else None,
                "user_id": event.scope.user_id,
                "event": event.op.upper(),
                "metadata": event.payload.get("metadata") or None,
                "created_at": _iso(event.at),
                "updated_at": _iso(event.at),
            }
        )
        previous = text
    return entries


def expired(record: MemoryRecord, today: date) -> bool:
    """Whether a Mem0 expiration date set on the memory has passed."""
    until = record.metadata.get(EXPIRES)
    return isinstance(until, str) and until < today.isoformat()


def expiration(value: Any) -> str | None:
    """A Mem0 expiration date (YYYY-MM-DD), checked."""
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InvalidInput(f"expiration_date must be YYYY-MM-DD, got {value!r}") from None


def when(value: Any) -> datetime | None:
    """A Mem0 timestamp (Unix seconds, or ISO 8601) as a UTC time."""
    return to_utc(value, field="timestamp")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
