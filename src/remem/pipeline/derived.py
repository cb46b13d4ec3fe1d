"""Write memories derived from other memories (summaries, profile, insights), citing them.

A derived memory's ``provenance`` is the union of its sources' turns, and
``metadata["sources"]`` names the source memories, so every derived line can be traced to
what was said. Its trust is the lowest of its sources': nothing gains trust by being
summarized. Re-deriving the same thing writes a new version only when the text changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from remem._ids import new_id
from remem.model import Event, MemoryRecord, Scope, lowest_trust
from remem.providers.embedder import Embedder
from remem.stores.base import MemoryFilter, Store

SUMMARY_IMPORTANCE = 0.6


def find(
    store: Store, scope: Scope, kind: str, metadata: Mapping[str, Any] | None = None
) -> MemoryRecord | None:
    """The current derived memory of ``kind`` for exactly this scope (unset fields must be unset)."""
    flt = MemoryFilter(
        scope=scope, kinds=(kind,), statuses=("active", "archived"), metadata=dict(metadata or {})
    )
    for m in store.list_memories(flt, limit=100, offset=0):
        if m.scope == scope:
            return m
    return None


def _provenance(sources: Sequence[MemoryRecord]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(e for m in sources for e in m.provenance))


def upsert(
    store: Store,
    embedder: Embedder,
    *,
    scope: Scope,
    kind: str,
    text: str,
    sources: Sequence[MemoryRecord],
    key: Mapping[str, Any],
    metadata: Mapping[str, Any],
    now: datetime,
    valid_from: datetime | None = None,
    pinned: bool = False,
    reason: str,
) -> tuple[MemoryRecord, bool]:
    """Add the derived memory, or version the existing one for ``key``; returns (record, written).

    ``key`` is the metadata that identifies it (e.g. ``{"summary": "session"}``) within scope.
    """
    meta = {**metadata, **key, "sources": [m.id for m in sources]}

    trust = lowest_trust(m.trust for m in sources)

    def unchanged(old: MemoryRecord) -> bool:
        return old.text == text and old.metadata == meta and old.trust == trust

    seen = find(store, scope, kind, key)
    if seen is not None and unchanged(seen):  # the common case on a re-run: no embedding
        return seen, False
    vector = embedder.embed([text])[0]
    with store.transaction():
        old = find(store, scope, kind, key)  # again inside the write: it may have moved since
        if old is not None and unchanged(old):
            return old, False
        fields: dict[str, Any] = {
            "text": text,
            "provenance": _provenance(sources),
            "metadata": meta,
            "recorded_at": now,
            "valid_from": valid_from,
            "pinned": pinned or (old.pinned if old else False),
            "origin": "derived",
            "trust": trust,
        }
        if old is None:
            new = MemoryRecord(
                id=new_id("mem"),
                scope=scope,
                kind=kind,  # type: ignore[arg-type]
                importance=SUMMARY_IMPORTANCE,
                layer="long",
                **fields,
            )
        else:
            new = old.model_copy(
                update={
                    **fields,
                    "version": old.version + 1,
                    "expired_at": None,
                    "status": "active",
                }
            )
            store.end_version(old.id, old.version, "superseded", now, scope.tenant)
        store.insert_memories([(new, vector)])
        store.append_events([Event.of("add" if old is None else "update", new, reason, now)])
    return new, True
