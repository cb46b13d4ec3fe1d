"""The knowledge graph: entities, the keys they are known by, and the memories mentioning them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from remem.model import Entity
from remem.stores.operations.transactional import Transactional
from remem.stores.records import EntityRow


class GraphStore(Transactional, Protocol):
    def save_entities(self, rows: Sequence[EntityRow]) -> None:
        """Insert or replace entities (by id) with their name vectors and lookup keys.

        ``keys`` (normalised aliases and name parts) replace the entity's previous keys;
        ``entities_by_alias`` answers from them.
        """
        ...

    def get_entities(
        self, tenant: str, user_id: str | None, ids: Sequence[str] | None = None
    ) -> list[tuple[Entity, np.ndarray | None]]:
        """The user's entities (all of them, or those in ``ids``), oldest first."""
        ...

    def entities_by_alias(
        self, tenant: str, user_id: str | None, aliases: Sequence[str]
    ) -> dict[str, list[str]]:
        """Normalised alias -> ids of the user's entities known by it."""
        ...

    def link_entities(self, tenant: str, links: Sequence[tuple[str, str]]) -> None:
        """Record that memory ``links[i][0]`` mentions entity ``links[i][1]`` (idempotent)."""
        ...

    def entity_links(
        self,
        tenant: str,
        *,
        entity_ids: Sequence[str] | None = None,
        memory_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 10_000,
    ) -> list[tuple[str, str]]:
        """(memory id, entity id) pairs touching the given entities or memories, newest first.

        ``kinds`` keeps links to memories of those kinds (a hub entity's facts among its
        many turns); per entity only its ``LINK_SCAN`` newest links are looked at then.
        """
        ...
