"""Mem0's exported memories as a remem export, so they load through remem's own import:
all or nothing, checked by the guard, embedded with this store's model.

    remem import --from mem0 memories.json
    memory.import_(io.StringIO("".join(mem0_export(Path("memories.json")))))

What it reads: the JSON Mem0 gives for its memories, as ``MemoryClient.get_all`` or the
open-source ``Memory.get_all`` return it (``{"results": [...]}``), a plain list of those
memories, or JSON Lines of them. Each memory keeps its text, user/agent/run ids, metadata,
categories and timestamps; its Mem0 id stays in ``metadata["mem0_id"]`` (remem gives it
an id of its own) and its ``app_id`` in ``metadata["mem0_app_id"]``. A ``history`` list on
a memory (Mem0's ``history(memory_id)`` entries) becomes its remem versions and events:
each ADD and UPDATE a version, a final DELETE a deleted memory. Mem0 memories are
extracted facts, so they land as remem facts. No Mem0 package is needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from remem._checks import check_metadata
from remem._ids import new_id
from remem._json import loads
from remem._time import to_utc, utcnow
from remem.errors import InvalidInput
from remem.model import Event, MemoryRecord, Scope
from remem.portability import Export

#: Where Mem0's fields with no remem counterpart are kept (the compat server uses them too).
MEM0_ID = "mem0_id"
APP_ID = "mem0_app_id"
CATEGORIES = "mem0_categories"
REASON = "imported from Mem0"


def mem0_export(source: str | Path | IO[str]) -> Iterator[str]:
    """The lines of a remem export (header, records, trailer) holding ``source``'s memories."""
    items: list[tuple[str, Any]] = []
    for position, raw in enumerate(read_mem0(source)):
        versions, events = _convert(raw, f"memory {position}")
        items += [("memory", (v, None)) for v in versions]
        items += [("event", e) for e in events]
    if not items:
        raise InvalidInput("the Mem0 export holds no memories; nothing was imported")
    # Memories first, then events, as remem's own exports order them.
    items.sort(key=lambda item: item[0] != "memory")
    return iter(Export(items, embedder=None))


def read_mem0(source: str | Path | IO[str]) -> list[dict[str, Any]]:
    """The memory objects of a Mem0 export file (JSON or JSON Lines)."""
    if isinstance(source, str | Path):
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {source}: {exc}") from exc
    else:
        text = source.read()
    try:
        data: Any = loads(text)
    except json.JSONDecodeError:
        try:
            data = [loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"not a Mem0 export: neither JSON nor JSON Lines ({exc.msg}, line {exc.lineno})"
            ) from None
    if isinstance(data, Mapping):
        data = data.get("results", data.get("memories"))
    if not isinstance(data, list) or not all(isinstance(m, Mapping) for m in data):
        raise InvalidInput(
            "not a Mem0 export: expected a list of memories, or an object with 'results'"
        )
    return [dict(m) for m in data]


def _convert(raw: dict[str, Any], where: str) -> tuple[list[MemoryRecord], list[Event]]:
    text = raw.get("memory", raw.get("text"))
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{where}: a Mem0 memory needs its text ('memory')")
    scope = Scope(
        user_id=_id(raw, "user_id", where),
        agent_id=_id(raw, "agent_id", where),
        session_id=_id(raw, "run_id", where),
    )
    created = to_utc(raw.get("created_at"), field=f"{where} created_at") or utcnow()
    updated = to_utc(raw.get("updated_at"), field=f"{where} updated_at") or created
    metadata = _metadata(raw, where)
    first = MemoryRecord(
        id=new_id("mem"),
        scope=scope,
        kind="fact",
        text=text,
        valid_from=created,
        recorded_at=created,
        metadata=metadata,
        layer="long",
        origin="import",
    )
    steps = _steps(raw.get("history"), text, created, updated, where)
    versions: list[MemoryRecord] = []
    events: list[Event] = []
    for number, (op, at, said) in enumerate(steps, start=1):
        if op == "delete":
            gone = versions[-1].model_copy(update={"status": "deleted", "expired_at": at})
            versions[-1] = gone
            events.append(Event.of("delete", gone, REASON, at))
            continue
        if versions:
            versions[-1] = versions[-1].model_copy(
                update={"status": "superseded", "expired_at": at}
            )
        version = first.model_copy(update={"text": said, "version": number, "recorded_at": at})
        versions.append(version)
        events.append(Event.of(op, version, REASON, at))
    return versions, events


def _steps(
    history: Any, text: str, created: Any, updated: Any, where: str
) -> list[tuple[str, Any, str]]:
    """(op, time, text) of each version, oldest first, ending at the memory as exported."""
    if history is None:
        return [("add", updated, text)]  # the version exported was recorded when last updated
    if not isinstance(history, list) or not all(isinstance(h, Mapping) for h in history):
        raise InvalidInput(f"{where}: 'history' must be a list of Mem0 history entries")
    steps: list[tuple[str, Any, str]] = []
    for n, entry in enumerate(history):
        event = str(entry.get("event", "")).upper()
        at = to_utc(entry.get("created_at"), field=f"{where} history {n} created_at") or created
        said = entry.get("new_memory")
        if event == "DELETE":
            if steps:
                steps.append(("delete", at, steps[-1][2]))
            continue
        if event not in ("ADD", "UPDATE") or not isinstance(said, str) or not said.strip():
            continue  # NONE and entries without text change nothing
        steps.append(("add" if not steps else "update", at, said))
    if not steps:
        return [("add", created, text)]
    if steps[-1][0] != "delete" and steps[-1][2] != text:
        steps.append(("update", max(updated, steps[-1][1]), text))
    return steps


def _id(raw: Mapping[str, Any], name: str, where: str) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: {name} must be a string, got {type(value).__name__}")
    return value


def _metadata(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    given = raw.get("metadata") or {}
    if not isinstance(given, Mapping):
        raise InvalidInput(f"{where}: metadata must be an object")
    kept: dict[str, Any] = dict(given)
    if raw.get("id") is not None:
        kept[MEM0_ID] = str(raw["id"])
    if raw.get("app_id"):
        kept[APP_ID] = str(raw["app_id"])
    if raw.get("categories"):
        kept[CATEGORIES] = list(raw["categories"])
    return check_metadata(kept, f"{where} metadata")
