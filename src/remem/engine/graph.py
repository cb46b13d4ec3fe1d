"""Facts and the knowledge graph: the facts true at a time, entities, and what mentions them."""

from __future__ import annotations

from datetime import datetime

from remem._checks import check_id, check_limit, check_offset, check_text
from remem._time import to_utc
from remem.engine.core import Core, as_seen
from remem.errors import InvalidInput
from remem.model import Entity, MemoryRecord
from remem.stores import MemoryFilter
from remem.text.names import normalise


class FactsAndGraph(Core):
    def facts(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        valid_at: datetime | str | None = None,
        as_of: datetime | str | None = None,
        current: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[MemoryRecord]:
        """Extracted facts, newest first: all of them, or those true at ``valid_at`` (event time).

        ``current=True`` is ``valid_at=now``: what is true today. ``as_of`` shows the facts
        as they were believed at that system time (before later corrections).
        """
        if current and valid_at is not None:
            raise InvalidInput("give either current=True or valid_at, not both")
        check_offset(offset)
        when = to_utc(as_of, field="as_of")
        flt = MemoryFilter(
            scope=self._scope(user_id, agent_id),
            kinds=("fact",),
            as_of=when,
            valid_at=self.clock() if current else to_utc(valid_at, field="valid_at"),
        )
        found = self.store.list_memories(flt, limit=check_limit(limit), offset=offset)
        return [as_seen(m, when) for m in found]

    def entities(self, *, user_id: str | None = None, name: str | None = None) -> list[Entity]:
        """The user's knowledge-graph entities, oldest first; ``name`` finds one by any alias."""
        scope = self._scope(user_id)
        if name is None:
            return [e for e, _ in self.store.get_entities(scope.tenant, scope.user_id)]
        key = normalise(check_text(name, "name"))
        ids = self.store.entities_by_alias(scope.tenant, scope.user_id, [key]).get(key, [])
        return [e for e, _ in self.store.get_entities(scope.tenant, scope.user_id, ids)]

    def related(
        self, entity_id: str, *, user_id: str | None = None, limit: int = 50
    ) -> list[MemoryRecord]:
        """Current memories that mention an entity (its edges in the graph), newest first."""
        scope = self._scope(user_id)
        check_id(entity_id, "entity id")
        links = self.store.entity_links(scope.tenant, entity_ids=[entity_id], limit=5000)
        ids = tuple(dict.fromkeys(m for m, _ in links))
        if not ids:
            return []
        flt = MemoryFilter(scope=scope, ids=ids)
        return self.store.list_memories(flt, limit=check_limit(limit), offset=0)
