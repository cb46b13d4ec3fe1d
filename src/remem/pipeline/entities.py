"""Entity resolution: "Ana", "ana" and "Ana Silva" become one node when they are one person.

Three tests, cheapest first, against the user's known entities:

1. a normalised name or alias is already known (casefold, accents and punctuation
   folded, a leading "the" dropped);
2. a person's name is a part of exactly one known person's full name or the other
   way round ("Ana" / "Ana Silva", never "Ana Costa" / "Ana Silva"); a part that
   fits two known people merges into neither;
3. the name's embedding is very close to a known entity's of a compatible type
   (only when an embedder is given: the LLM path; the offline path stays cheap).

A merge adds the new spelling as an alias, so the next mention is test 1.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from remem._ids import new_id
from remem.model import Entity, Scope
from remem.providers.embedder import Embedder
from remem.stores.base import Store
from remem.text.names import normalise

#: Cosine between name embeddings above which two names of compatible type are one entity.
SAME_NAME_COSINE = 0.92


def _part_of(words: set[str], full: set[str]) -> bool:
    """One name is a strict part of the other: "ana" and "ana silva" (not "ana costa")."""
    return words < full or full < words


def _compatible(a: str, b: str) -> bool:
    return a == b or "other" in (a, b)


@dataclass(frozen=True)
class Mention:
    """An entity as an extractor saw it."""

    name: str
    type: str = "other"
    aliases: tuple[str, ...] = ()


def index_keys(entity: Entity) -> list[str]:
    """What the alias index holds for an entity: its aliases, and a person's name parts.

    Parts are kept as ``~word`` so "Ana" finds "Ana Silva" as a candidate without
    becoming one of its aliases (two Anas must stay ambiguous).
    """
    keys = list(entity.aliases)
    if entity.type == "person":
        keys += [f"~{word}" for alias in entity.aliases for word in alias.split()]
    return list(dict.fromkeys(keys))


def _lookup_keys(mention: Mention) -> list[str]:
    names = [normalise(n) for n in (mention.name, *mention.aliases)]
    words = [w for n in names for w in n.split()]
    return [k for k in dict.fromkeys([*names, *words, *(f"~{w}" for w in words)]) if k]


class EntityResolver:
    """Resolves mentions for one user inside one write transaction; ``changed`` is what to save.

    Only the entities a mention could be are read (through the alias index), unless an
    embedder is given: then every entity of the user is a candidate for test 3.
    """

    def __init__(
        self, store: Store, scope: Scope, now: datetime, embedder: Embedder | None = None
    ) -> None:
        self.store = store
        self.scope = Scope(tenant=scope.tenant, user_id=scope.user_id)
        self.now = now
        self.embedder = embedder
        self.changed: dict[str, tuple[Entity, np.ndarray | None]] = {}
        self._by_id: dict[str, tuple[Entity, np.ndarray | None]] = {}
        self._alias: dict[str, set[str]] = {}

    def named_in(self, grams: Collection[str]) -> list[str]:
        """Ids of entities created or changed here with an alias among ``grams`` (a text's
        ``alias_grams``).

        The store cannot know them yet: they are saved at the end of the transaction.
        """
        grams = set(grams)
        return [e.id for e, _ in self.changed.values() if any(a in grams for a in e.aliases)]

    def rows(self) -> list[tuple[Entity, np.ndarray | None, list[str]]]:
        """The changed entities as ``Store.save_entities`` takes them."""
        return [(e, v, index_keys(e)) for e, v in self.changed.values()]

    def resolve(self, mentions: Sequence[Mention]) -> dict[str, Entity]:
        """Mention name -> entity (found or created), for every mention with a usable name."""
        wanted = [m for m in mentions if normalise(m.name)]
        if not wanted:
            return {}
        self._load(wanted)
        vectors = self._name_vectors(wanted)
        resolved: dict[str, Entity] = {}
        for mention, vector in zip(wanted, vectors, strict=True):
            entity = self._find(mention, vector)
            entity = self._merge(entity, mention) if entity else self._create(mention, vector)
            resolved[mention.name] = entity
        return resolved

    def _load(self, mentions: Sequence[Mention]) -> None:
        tenant, user = self.scope.tenant, self.scope.user_id
        if self.embedder is not None:
            known = self.store.get_entities(tenant, user)
        else:
            keys = [k for m in mentions for k in _lookup_keys(m)]
            ids = {
                i
                for found in self.store.entities_by_alias(tenant, user, keys).values()
                for i in found
            }
            known = self.store.get_entities(tenant, user, sorted(ids - set(self._by_id)))
        for entity, vector in known:
            self._remember(entity, vector)

    def _remember(self, entity: Entity, vector: np.ndarray | None) -> None:
        self._by_id[entity.id] = (entity, vector)
        for alias in entity.aliases:
            self._alias.setdefault(alias, set()).add(entity.id)

    def _name_vectors(self, mentions: Sequence[Mention]) -> list[np.ndarray | None]:
        if self.embedder is None:
            return [None] * len(mentions)
        return list(self.embedder.embed([m.name for m in mentions]))

    def _find(self, mention: Mention, vector: np.ndarray | None) -> Entity | None:
        keys = {normalise(n) for n in (mention.name, *mention.aliases)} - {""}
        hits = {eid for key in keys for eid in self._alias.get(key, ())}
        typed = [eid for eid in hits if _compatible(self._by_id[eid][0].type, mention.type)]
        if len(typed) == 1:
            return self._by_id[typed[0]][0]
        if len(typed) > 1:  # the same alias names two entities: the exact type decides, else first
            exact = [eid for eid in typed if self._by_id[eid][0].type == mention.type]
            return self._by_id[(exact or sorted(typed))[0]][0]
        if mention.type in ("person", "other"):
            words = set(normalise(mention.name).split())
            parts = {
                entity.id
                for entity, _ in self._by_id.values()
                if entity.type == "person" and _part_of(words, set(normalise(entity.name).split()))
            }
            if len(parts) == 1:
                return self._by_id[parts.pop()][0]
            if parts:
                return None
        if vector is not None:
            best, best_score = None, SAME_NAME_COSINE
            for entity, known in self._by_id.values():
                if known is None or not _compatible(entity.type, mention.type):
                    continue
                score = float(np.dot(vector, known))
                if score >= best_score:
                    best, best_score = entity, score
            return best
        return None

    def _merge(self, entity: Entity, mention: Mention) -> Entity:
        keys = [normalise(n) for n in (mention.name, *mention.aliases)]
        aliases = tuple(dict.fromkeys([*entity.aliases, *(k for k in keys if k)]))
        name = entity.name
        if entity.type in ("person", "other") and len(mention.name.split()) > len(name.split()):
            name = mention.name.strip()  # the fullest name is the one to show
        kind = entity.type if entity.type != "other" else mention.type
        if aliases == entity.aliases and name == entity.name and kind == entity.type:
            return entity
        merged = entity.model_copy(
            update={"aliases": aliases, "name": name, "type": kind, "updated_at": self.now}
        )
        self._put(merged, self._by_id[entity.id][1])
        return merged

    def _create(self, mention: Mention, vector: np.ndarray | None) -> Entity:
        keys = [normalise(n) for n in (mention.name, *mention.aliases)]
        entity = Entity(
            id=new_id("ent"),
            scope=self.scope,
            name=mention.name.strip(),
            type=mention.type,
            aliases=tuple(dict.fromkeys(k for k in keys if k)),
            created_at=self.now,
            updated_at=self.now,
        )
        self._put(entity, vector)
        return entity

    def _put(self, entity: Entity, vector: np.ndarray | None) -> None:
        self._remember(entity, vector)
        self.changed[entity.id] = (entity, vector)
