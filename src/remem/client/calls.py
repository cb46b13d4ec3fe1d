"""What each ``Memory`` method sends over HTTP, and how it reads the answer.

``_Facade`` has every method the clients share, with ``Memory``'s parameters; each
builds a ``Call[R]``: a request and the function turning its response into ``R``
(the type ``Memory``'s method returns). ``Client`` sends calls with a blocking httpx
client, ``AsyncClient`` with an async one; neither writes a method out again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import httpx

from remem.client.review import ReviewCalls
from remem.client.wire import (
    ENTITIES,
    EPISODES,
    EVENTS,
    RECORDS,
    Call,
    When,
    drop_none,
    keywords,
    kinds_list,
    list_of,
    maintenance,
    messages_body,
    model,
    page,
    recipe_name,
    segment,
    when,
)
from remem.errors import InvalidInput, StoreError
from remem.model import (
    AddResult,
    Context,
    Entity,
    Episode,
    Event,
    MaintenanceReport,
    MemoryRecord,
    Page,
    SearchResults,
)
from remem.query import CONTEXT_OPTIONS, SearchQuery, as_query, only
from remem.recipes import SearchRecipe


class _Facade(ReviewCalls):
    """The ``Memory`` methods as HTTP calls; ``Client`` and ``AsyncClient`` send them."""

    # -- writes ---------------------------------------------------------------
    def add(
        self,
        messages: str | Mapping[str, Any] | Iterable[Mapping[str, Any]],
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        timestamp: When = None,
        metadata: Mapping[str, Any] | None = None,
        kind: str = "episode",
        importance: float = 0.5,
        source: str = "api",
    ) -> Call[AddResult]:
        """Store a conversation (every turn kept) or one text; returns what was written.

        ``source`` is accepted for parity with ``Memory.add``; the service records "http".
        Each add carries an ``Idempotency-Key`` of its own, so sending it again after a
        failure stores it once.
        """
        body = {
            **messages_body(messages),
            **drop_none(
                {
                    "user_id": user_id,
                    "agent_id": agent_id,
                    "session_id": session_id,
                    "timestamp": when(timestamp),
                    "metadata": dict(metadata) if metadata is not None else None,
                }
            ),
            "kind": kind,
            "importance": importance,
        }
        key = {"Idempotency-Key": uuid.uuid4().hex}
        return Call(
            "POST", "/v1/memories", model(AddResult), json=body, headers=key, idempotent=True
        )

    def update(
        self,
        memory_id: str,
        text: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        importance: float | None = None,
        valid_from: When = None,
        valid_to: When = None,
        reason: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> Call[MemoryRecord]:
        """Write a new version; the old one stays, marked superseded."""
        body = drop_none(
            {
                "text": text,
                "metadata": dict(metadata) if metadata is not None else None,
                "importance": importance,
                "valid_from": when(valid_from),
                "valid_to": when(valid_to),
                "reason": reason,
                "user_id": user_id,
                "agent_id": agent_id,
            }
        )
        path = f"/v1/memories/{segment(memory_id)}"
        return Call("PATCH", path, model(MemoryRecord), json=body)

    def delete(
        self,
        memory_id: str,
        *,
        reason: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> Call[MemoryRecord]:
        """Soft delete: hidden from search and list, still in history."""
        params = drop_none({"reason": reason, "user_id": user_id, "agent_id": agent_id})
        return Call("DELETE", f"/v1/memories/{segment(memory_id)}", model(MemoryRecord), params)

    def delete_all(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        reason: str | None = None,
    ) -> Call[int]:
        """Soft-delete every current memory of one explicit scope; returns how many."""
        params = drop_none(
            {"user_id": user_id, "agent_id": agent_id, "session_id": session_id, "reason": reason}
        )
        return Call("DELETE", "/v1/memories", lambda r: int(r.json()["deleted"]), params)

    def forget(
        self, memory_id: str, *, user_id: str | None = None, agent_id: str | None = None
    ) -> Call[int]:
        """Hard delete: every version and its index entries are erased."""
        params = drop_none({"user_id": user_id, "agent_id": agent_id})
        path = f"/v1/memories/{segment(memory_id)}/forget"
        return Call("POST", path, lambda r: int(r.json()["erased"]), params)

    # -- reads ----------------------------------------------------------------
    def search(
        self,
        query: str | SearchQuery,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        limit: int = 10,
        kinds: str | Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        after: When = None,
        before: When = None,
        as_of: When = None,
        context_window: int = 0,
        recipe: str | SearchRecipe = "hybrid",
        asked_at: When = None,
        layers: str | Iterable[str] | None = None,
        archived: bool = False,
        valid_at: When = None,
        include_quarantined: bool = False,
        min_trust: str | None = None,
    ) -> Call[SearchResults]:
        """Ranked memories for ``query`` (a text, or a ``remem.SearchQuery``)."""
        options = {
            "user_id": user_id,
            "agent_id": agent_id,
            "session_id": session_id,
            "limit": limit,
            "kinds": kinds,
            "metadata": metadata,
            "after": after,
            "before": before,
            "as_of": as_of,
            "context_window": context_window,
            "recipe": recipe,
            "asked_at": asked_at,
            "layers": layers,
            "archived": archived,
            "valid_at": valid_at,
            "include_quarantined": include_quarantined,
            "min_trust": min_trust,
        }
        if isinstance(query, SearchQuery):  # sent as its keywords: one body for both forms
            defaults = _Facade.search.__kwdefaults__
            chosen = as_query(query, defaults, **options)
            return self.search(chosen.text, **keywords(chosen, options, defaults))
        body = {
            "query": query,
            "limit": limit,
            "context_window": context_window,
            "recipe": recipe_name(recipe),
            "archived": archived,
            "include_quarantined": include_quarantined,
            **drop_none(
                {
                    "user_id": user_id,
                    "agent_id": agent_id,
                    "session_id": session_id,
                    "kinds": kinds_list(kinds),
                    "metadata": dict(metadata) if metadata is not None else None,
                    "after": when(after),
                    "before": when(before),
                    "as_of": when(as_of),
                    "asked_at": when(asked_at),
                    "layers": kinds_list(layers),
                    "valid_at": when(valid_at),
                    "min_trust": min_trust,
                }
            ),
        }
        return Call("POST", "/v1/search", model(SearchResults), json=body, idempotent=True)

    def context(
        self,
        query: str | SearchQuery,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        budget_tokens: int = 1000,
        limit: int = 30,
        recipe: str | SearchRecipe = "hybrid",
        asked_at: When = None,
        after: When = None,
        before: When = None,
        profile: bool = True,
    ) -> Call[Context]:
        """A prompt-ready block for ``query``, never longer than ``budget_tokens``."""
        options = {
            "user_id": user_id,
            "agent_id": agent_id,
            "session_id": session_id,
            "limit": limit,
            "recipe": recipe,
            "asked_at": asked_at,
            "after": after,
            "before": before,
        }
        if isinstance(query, SearchQuery):  # sent as its keywords: one body for both forms
            defaults = _Facade.context.__kwdefaults__
            chosen = only(as_query(query, defaults, **options), CONTEXT_OPTIONS, "context")
            asked = keywords(chosen, options, defaults)
            return self.context(chosen.text, budget_tokens=budget_tokens, profile=profile, **asked)
        body = {
            "query": query,
            "budget_tokens": budget_tokens,
            "limit": limit,
            "recipe": recipe_name(recipe),
            "profile": profile,
            **drop_none(
                {
                    "user_id": user_id,
                    "agent_id": agent_id,
                    "session_id": session_id,
                    "asked_at": when(asked_at),
                    "after": when(after),
                    "before": when(before),
                }
            ),
        }
        return Call("POST", "/v1/context", model(Context), json=body, idempotent=True)

    def get(
        self,
        memory_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        version: int | None = None,
        as_of: When = None,
    ) -> Call[MemoryRecord]:
        """The current version, or a given ``version``, or the one believed at ``as_of``."""
        params = drop_none(
            {"user_id": user_id, "agent_id": agent_id, "version": version, "as_of": when(as_of)}
        )
        return Call("GET", f"/v1/memories/{segment(memory_id)}", model(MemoryRecord), params)

    def history(self, memory_id: str, *, user_id: str | None = None) -> Call[list[Event]]:
        """Every operation on the memory, oldest first."""
        path = f"/v1/memories/{segment(memory_id)}/history"
        return Call("GET", path, list_of(EVENTS), drop_none({"user_id": user_id}))

    def versions(self, memory_id: str) -> Call[list[MemoryRecord]]:
        """Every version of a memory, oldest first."""
        return Call("GET", f"/v1/memories/{segment(memory_id)}/versions", list_of(RECORDS))

    def surrounding(self, memory_id: str, window: int = 2) -> Call[list[Episode]]:
        """The turns around the one a memory came from."""
        path = f"/v1/memories/{segment(memory_id)}/surrounding"
        return Call("GET", path, list_of(EPISODES), {"window": window})

    def stats(self, *, user_id: str | None = None) -> Call[dict[str, Any]]:
        """Counts per kind and status, entities, the extraction queue, and LLM use.

        Over HTTP, without the database's location and size (the operator's, not a tenant's).
        """
        return Call("GET", "/v1/stats", lambda r: r.json(), drop_none({"user_id": user_id}))

    def facts(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        valid_at: When = None,
        as_of: When = None,
        current: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> Call[list[MemoryRecord]]:
        """Extracted facts, newest first: all of them, or those true at ``valid_at``."""
        params = drop_none(
            {
                "user_id": user_id,
                "agent_id": agent_id,
                "valid_at": when(valid_at),
                "as_of": when(as_of),
                "current": current or None,
                "limit": limit,
                "offset": offset,
            }
        )
        return Call("GET", "/v1/facts", list_of(RECORDS), params)

    def entities(
        self, *, user_id: str | None = None, name: str | None = None
    ) -> Call[list[Entity]]:
        """The user's knowledge-graph entities; ``name`` finds one by any alias."""
        params = drop_none({"user_id": user_id, "name": name})
        return Call("GET", "/v1/entities", list_of(ENTITIES), params)

    def related(
        self, entity_id: str, *, user_id: str | None = None, limit: int = 50
    ) -> Call[list[MemoryRecord]]:
        """Current memories that mention an entity, newest first."""
        params = drop_none({"user_id": user_id, "limit": limit})
        path = f"/v1/entities/{segment(entity_id)}/related"
        return Call("GET", path, list_of(RECORDS), params)

    # -- lifecycle --------------------------------------------------------------
    def maintain(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        archive_below: float | None = None,
    ) -> Call[MaintenanceReport]:
        """Move memories between layers and archive the faded ones."""
        body = drop_none({"user_id": user_id, "agent_id": agent_id, "archive_below": archive_below})
        return Call("POST", "/v1/maintain", maintenance, json=body)

    def pin(
        self, memory_id: str, pinned: bool = True, *, user_id: str | None = None
    ) -> Call[MemoryRecord]:
        """A pinned memory never fades; ``pinned=False`` lets it age again."""
        body = {"pinned": pinned, **drop_none({"user_id": user_id})}
        path = f"/v1/memories/{segment(memory_id)}/pin"
        return Call("POST", path, model(MemoryRecord), json=body)

    def summarize(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> Call[list[MemoryRecord]]:
        """Summarize the sessions that changed, then the running summary and profile."""
        body = drop_none({"user_id": user_id, "agent_id": agent_id, "session_id": session_id})
        return Call("POST", "/v1/summarize", list_of(RECORDS), json=body)

    def profile(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        refresh: bool = False,
    ) -> Call[MemoryRecord]:
        """The user's profile: stable facts and recent changes, each cited."""
        params = {"refresh": refresh, **drop_none({"user_id": user_id, "agent_id": agent_id})}
        return Call("GET", "/v1/profile", model(MemoryRecord), params)

    # -- portability ----------------------------------------------------------
    def export(self, destination: str | Path | IO[str]) -> Call[dict[str, int]]:
        """Write every record of the key's tenant as JSONL; returns counts per type."""

        def write(response: httpx.Response) -> dict[str, int]:
            trailer = json.loads(response.text.rstrip("\n").rpartition("\n")[2] or "{}")
            if trailer.get("type") != "trailer":
                raise StoreError("the export was cut short (no trailer); nothing was written")
            if isinstance(destination, str | Path):
                # Replaced only when whole, as Memory.export does: a failure keeps the old file.
                partial = Path(destination).with_name(f".{Path(destination).name}.partial")
                partial.write_text(response.text, encoding="utf-8")
                partial.replace(destination)
            else:
                destination.write(response.text)
            counts: dict[str, int] = trailer["counts"]
            return counts

        return Call("GET", "/v1/export", write)

    def import_(
        self, source: str | Path | IO[str], *, unverified: bool = False
    ) -> Call[dict[str, int]]:
        """Load a JSONL export into the key's tenant, all or nothing (see ``Memory.import_``)."""
        if isinstance(source, str | Path):
            try:
                text = Path(source).read_text(encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(f"cannot open {source}: {exc.strerror}") from exc
        else:
            text = source.read()
        return Call(
            "POST",
            "/v1/import",
            lambda r: {k: int(v) for k, v in r.json().items()},
            {"unverified": True} if unverified else {},
            content=text.encode("utf-8"),
            headers={"Content-Type": "application/x-ndjson"},
        )

    # Last in the class: after ``def list`` the name means this method, not the builtin.
    def list(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        kinds: str | Iterable[str] | None = None,
        status: str | Iterable[str] = "active",
        metadata: Mapping[str, Any] | None = None,
        limit: int = 50,
        offset: int = 0,
        layers: str | Iterable[str] | None = None,
        after: When = None,
        before: When = None,
    ) -> Call[Page]:
        """Newest first, one page at a time; ``after`` / ``before`` bound the event time."""
        params = drop_none(
            {
                "layer": kinds_list(layers),
                "user_id": user_id,
                "agent_id": agent_id,
                "session_id": session_id,
                "kind": kinds_list(kinds),
                "status": kinds_list(status),
                "metadata": json.dumps(dict(metadata)) if metadata is not None else None,
                "limit": limit,
                "offset": offset,
                "after": when(after),
                "before": when(before),
            }
        )
        return Call("GET", "/v1/memories", page, params)
