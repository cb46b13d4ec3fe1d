"""``RememStore``: remem as LangGraph's long-term memory store (``BaseStore``).

    store = RememStore(Memory(), user_at=1)        # namespaces like ("memories", user_id)
    graph = builder.compile(store=store)

Each item is one remem memory. Its namespace maps to a remem scope: the session
``"a.b.c"`` (LangGraph labels never hold a period), inside the user ``namespace[user_at]``
(or the store's ``user_id``), so remem's isolation, history and ageing apply to it. The
value is kept verbatim in the memory's metadata; its text (the ``index`` fields, by
default every scalar in it) is what remem embeds and ranks, so ``search(query=...)`` is
remem's hybrid retrieval, and each ``SearchItem`` carries why it was chosen (``why``).

What LangGraph documents, and how it is kept here:
- put upserts: a new value is a new version of the same memory (``Memory.history``
  shows every one); ``value=None`` deletes it (soft: the history stays).
- ``filter`` matches values exactly or with ``$eq $ne $gt $gte $lt $lte``; ``limit`` and
  ``offset`` page the results, best first with a query, newest first without.
- TTL in minutes counts from the item's last write or read; a read refreshes it (a remem
  recall) unless ``refresh_ttl=False`` (a search with a query always refreshes what it
  returns). Expired items are never returned; ``sweep_ttl`` deletes them.
- Items remem's guard holds back (an injected instruction in a value) are not returned:
  see docs/trust.md.

Needs ``pip install 'remem[langgraph]'``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    get_text_at_path,
    validate_op_namespace,
)

from remem._checks import MAX_LIMIT
from remem.engine import Memory
from remem.errors import InvalidInput, NotFound
from remem.integrations.langgraph_values import matches, scalar_lines
from remem.model import MemoryRecord
from remem.recipes import SearchRecipe

#: Metadata keys of an item's memory (prefixed: other memories share the scope).
MARK = "langgraph"
NS = "langgraph_ns"
KEY = "langgraph_key"
VALUE = "langgraph_value"
TTL = "langgraph_ttl"
INDEXED = "langgraph_indexed"
#: Statuses a read sees: remem's ageing may archive an item; it is still the store's.
READABLE = ("active", "archived")
#: A put also finds the held-back version of a key, so it replaces it instead of adding.
WRITABLE = (*READABLE, "quarantined")


def level(depth: int) -> str:
    """The metadata key holding one namespace label: prefix searches match on these."""
    return f"langgraph_ns_{depth}"


class RememSearchItem(SearchItem):
    """A ``SearchItem`` that also says why remem ranked it there (``SearchHit.explain``)."""

    __slots__ = ("why",)

    def __init__(self, *args: Any, why: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.why = why

    def dict(self) -> dict[str, Any]:
        return {**super().dict(), "why": self.why}


class RememStore(BaseStore):
    """LangGraph's ``BaseStore`` over a ``remem.Memory``: sync ``batch`` and async ``abatch``.

    ``user_at``: which namespace label names the remem user (``("memories", "ana")`` with
    ``user_at=1`` is Ana's); otherwise every item lives in ``user_id``/``agent_id``.
    ``index``: LangGraph's index config; only its ``fields`` are used (remem embeds with its
    own model). ``ttl``: LangGraph's TTL config (``default_ttl``, ``refresh_on_read``).
    ``recipe``: the remem search recipe a query runs (``hybrid`` abstains when nothing
    stored is close: an empty result, not a weak guess).
    """

    supports_ttl = True
    __slots__ = ("agent_id", "fields", "memory", "recipe", "ttl_config", "user_at", "user_id")

    def __init__(
        self,
        memory: Memory,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        user_at: int | None = None,
        index: dict[str, Any] | None = None,
        ttl: TTLConfig | None = None,
        recipe: str | SearchRecipe = "hybrid",
    ) -> None:
        if user_at is not None and (isinstance(user_at, bool) or user_at < 0):
            raise InvalidInput(f"user_at must be a namespace position (0, 1, ...), got {user_at}")
        self.memory = memory
        self.user_id = user_id
        self.agent_id = agent_id
        self.user_at = user_at
        self.fields: list[str] | None = list((index or {}).get("fields") or []) or None
        self.ttl_config = ttl
        self.recipe = recipe

    # -- the two entry points LangGraph calls --------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order; each result at its op's position."""
        return [self._run(op) for op in ops]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """``batch`` off the event loop (the engine is synchronous)."""
        return await asyncio.to_thread(self.batch, list(ops))

    def sweep_ttl(self) -> int:
        """Delete every expired item; returns how many."""
        expired = [r for r in self._records({}, None, statuses=WRITABLE) if self._expired(r)]
        for record in expired:
            self._delete(record, "expired (LangGraph TTL)")
        return len(expired)

    # -- one op ------------------------------------------------------------------------
    def _run(self, op: Op) -> Result:
        validate_op_namespace(op)
        if isinstance(op, GetOp):
            return self._get(op)
        if isinstance(op, PutOp):
            self._put(op)
            return None
        if isinstance(op, SearchOp):
            return self._search(op)
        if isinstance(op, ListNamespacesOp):
            return self._list_namespaces(op)
        raise InvalidInput(f"unknown LangGraph store operation {type(op).__name__}")

    def _get(self, op: GetOp) -> Item | None:
        found = self._find(op.namespace, op.key, READABLE)
        if found is None or self._expired(found):
            return None
        return _item(self._touched(found, op.refresh_ttl), Item)

    def _put(self, op: PutOp) -> None:
        if not op.namespace:
            raise InvalidNamespaceError("Namespace cannot be empty.")
        if op.namespace[0] == "langgraph":
            raise InvalidNamespaceError(f'Root label cannot be "langgraph": {op.namespace}')
        old = self._find(op.namespace, op.key, WRITABLE)
        if op.value is None:
            if old is not None:
                self._delete(old, "deleted through the LangGraph store")
            return
        value = dict(op.value)
        text = self._text(op, value)
        ttl = self._ttl(op.ttl)
        meta = {VALUE: value, TTL: ttl, INDEXED: text is not None}
        if old is None:
            self.memory.add(
                text or f"{'.'.join(op.namespace)}/{op.key}",
                **self._scope(op.namespace),
                session_id=".".join(op.namespace),
                metadata={**self._place(op.namespace, op.key), **meta},
                source="langgraph",
            )
        else:
            changed = text if text is not None and text != old.text else None
            self.memory.update(
                old.id,
                changed,
                metadata=meta,
                user_id=old.scope.user_id,
                agent_id=old.scope.agent_id,
                reason="put through the LangGraph store",
            )

    def _search(self, op: SearchOp) -> list[SearchItem]:
        prefix = {level(i): label for i, label in enumerate(op.namespace_prefix)}
        refresh = self._refresh(op.refresh_ttl)
        if op.query:
            return self._ranked(op, prefix)
        wanted = op.offset + op.limit
        kept = [
            r
            for r in self._records(prefix, op.namespace_prefix)
            if not self._expired(r) and matches(r.metadata[VALUE], op.filter)
        ][op.offset : wanted]
        return [_item(self._touched(r, refresh), SearchItem) for r in kept]

    def _ranked(self, op: SearchOp, prefix: dict[str, Any]) -> list[SearchItem]:
        """remem's retrieval; what it returns counts as recalled, which refreshes the TTL of
        each hit whatever ``refresh_ttl`` says (remem has no search that does not count)."""
        # Filters remem cannot push down are applied here, so ask for enough candidates.
        pool = min(MAX_LIMIT, (op.offset + op.limit) * (4 if op.filter else 1))
        results = self.memory.search(
            op.query or "",
            **self._scope(op.namespace_prefix),
            metadata={**prefix, MARK: True, INDEXED: True},
            limit=max(pool, 1),
            archived=True,
            recipe=self.recipe,
        )
        hits = [
            h
            for h in results.hits
            if not self._expired(h.memory) and matches(h.memory.metadata[VALUE], op.filter)
        ][op.offset : op.offset + op.limit]
        return [_item(h.memory, RememSearchItem, score=h.score, why=h.explain()) for h in hits]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        found = {
            tuple(r.metadata[NS])
            for r in self._records({}, None)
            if not self._expired(r)
            and all(_namespace_matches(c, tuple(r.metadata[NS])) for c in op.match_conditions or ())
        }
        if op.max_depth is not None:
            found = {ns[: op.max_depth] for ns in found}
        return sorted(found)[op.offset : op.offset + op.limit]

    # -- remem side --------------------------------------------------------------------
    def _scope(self, namespace: tuple[str, ...] | None) -> dict[str, Any]:
        """The remem user and agent of a namespace (a prefix too short to name a user
        spans every user of the tenant: its labels still narrow the search)."""
        user = self.user_id
        if self.user_at is not None:
            known = namespace is not None and len(namespace) > self.user_at
            user = namespace[self.user_at] if known and namespace else None
        return {"user_id": user, "agent_id": self.agent_id}

    def _place(self, namespace: tuple[str, ...], key: str) -> dict[str, Any]:
        return {
            MARK: True,
            NS: list(namespace),
            KEY: key,
            **{level(i): label for i, label in enumerate(namespace)},
        }

    def _find(
        self, namespace: tuple[str, ...], key: str, statuses: tuple[str, ...]
    ) -> MemoryRecord | None:
        where = {level(i): label for i, label in enumerate(namespace)}
        where[KEY] = key
        # A longer namespace shares this one's labels: the depth tells them apart.
        candidates = self._records(where, namespace, statuses=statuses)
        exact = [r for r in candidates if tuple(r.metadata[NS]) == namespace]
        return exact[0] if exact else None

    def _records(
        self,
        where: dict[str, Any],
        namespace: tuple[str, ...] | None,
        statuses: tuple[str, ...] = READABLE,
    ) -> Iterator[MemoryRecord]:
        """Every item matching ``where``, newest first, a page at a time."""
        offset = 0
        while True:
            page = self.memory.list(
                **self._scope(namespace),
                metadata={MARK: True, **where},
                status=statuses,
                limit=MAX_LIMIT,
                offset=offset,
            )
            yield from page.items
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    def _delete(self, record: MemoryRecord, reason: str) -> None:
        with suppress(NotFound):  # deleted meanwhile: the outcome is the same
            self.memory.delete(
                record.id,
                user_id=record.scope.user_id,
                agent_id=record.scope.agent_id,
                reason=reason,
            )

    def _touched(self, record: MemoryRecord, refresh: bool | None) -> MemoryRecord:
        """The record after a read that refreshes its TTL (a remem recall), if it should."""
        if not self._refresh(refresh):
            return record
        return self.memory.get(
            record.id, user_id=record.scope.user_id, agent_id=record.scope.agent_id
        )

    # -- LangGraph side ------------------------------------------------------------------
    def _text(self, op: PutOp, value: dict[str, Any]) -> str | None:
        """What remem embeds and ranks for this value; None when it is not indexed."""
        if op.index is False:
            return None
        fields = op.index or self.fields
        if fields is None or fields == ["$"]:
            parts = scalar_lines(value)
        else:
            parts = [t for f in fields for t in get_text_at_path(value, f)]
        text = "\n".join(p for p in parts if p.strip())
        return text or None

    def _ttl(self, ttl: float | None) -> float | None:
        """``BaseStore.put`` has already put the configured ``default_ttl`` in its op."""
        if ttl is not None and (isinstance(ttl, bool) or not ttl > 0):
            raise InvalidInput(f"ttl must be a positive number of minutes, got {ttl!r}")
        return float(ttl) if ttl is not None else None

    def _refresh(self, asked: bool | None) -> bool:
        if asked is not None:
            return asked
        return bool((self.ttl_config or {}).get("refresh_on_read", True))

    def _expired(self, record: MemoryRecord) -> bool:
        minutes = record.metadata.get(TTL)
        if minutes is None:
            return False
        touched = max(record.last_accessed_at or record.recorded_at, record.recorded_at)
        return bool(self.memory.clock() >= touched + timedelta(minutes=float(minutes)))


def _item(record: MemoryRecord, kind: type[Item], **extra: Any) -> Any:
    created: datetime = record.valid_from or record.recorded_at
    return kind(
        namespace=tuple(record.metadata[NS]),
        key=record.metadata[KEY],
        value=json.loads(json.dumps(record.metadata[VALUE])),
        created_at=created,
        updated_at=record.recorded_at,
        **extra,
    )


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = condition.path
    if len(namespace) < len(path):
        return False
    pairs = (
        zip(namespace, path, strict=False)
        if condition.match_type == "prefix"
        else zip(reversed(namespace), reversed(path), strict=False)
    )
    return all(want in ("*", have) for have, want in pairs)
