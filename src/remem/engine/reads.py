"""Reads: search, context, get, history, versions, surrounding, stats and list.

What a read returns counts as recalled (``track_recalls``), which strengthens it; a read
``as_of`` a past system time shows the past and counts nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from remem._checks import (
    check_id,
    check_kinds,
    check_layers,
    check_limit,
    check_metadata_filter,
    check_offset,
    check_version,
)
from remem._time import to_utc
from remem.engine.core import Core, as_seen
from remem.errors import InvalidInput, NotFound
from remem.model import STATUSES, Context, Episode, Event, MemoryRecord, Page, SearchResults
from remem.pipeline import derived, digests
from remem.pipeline.knowledge import add_usage
from remem.query import CONTEXT_OPTIONS, SearchQuery, as_query, only
from remem.recipes import SearchRecipe
from remem.retrieval.context import Marks, build_context
from remem.retrieval.llm_rerank import llm_search
from remem.retrieval.search import hybrid_search
from remem.stores import MemoryFilter

#: How many hits a search returns, and how many candidates a context draws on, by default.
SEARCH_LIMIT = 10
CONTEXT_LIMIT = 30
#: What a context is made of.
CONTEXT_KINDS = ("episode", "fact", "insight", "summary")


class Reads(Core):
    def search(
        self,
        query: str | SearchQuery,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        limit: int = SEARCH_LIMIT,
        kinds: str | Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        after: datetime | str | None = None,
        before: datetime | str | None = None,
        as_of: datetime | str | None = None,
        context_window: int = 0,
        recipe: str | SearchRecipe = "hybrid",
        asked_at: datetime | str | None = None,
        layers: str | Iterable[str] | None = None,
        archived: bool = False,
        valid_at: datetime | str | None = None,
        include_quarantined: bool = False,
        min_trust: str | None = None,
    ) -> SearchResults:
        """Ranked memories for ``query``; each hit says which signals found it and cites its turn.

        ``query`` is the text, or a ``remem.SearchQuery`` holding the text and every option
        (then leave the keywords unset; they build the same object).
        ``after``/``before`` bound event time; ``as_of`` shows what was believed at that system time;
        ``valid_at`` keeps what was true at that event time (``valid_from <= t < valid_to``).
        Time phrases in the query ("last March") are resolved against ``asked_at`` (default: now).
        ``archived=True`` also searches archived memories; a recalled one is restored.
        ``include_quarantined=True`` also returns memories held in quarantine, flagged so
        (``SearchHit.flags``); a search leaves them out by default. ``min_trust`` keeps
        memories believed at least that far: "trusted" (the owner's own turns and what
        derives from them alone), "unverified", "untrusted" (docs/trust.md).
        """
        q = as_query(
            query,
            Reads.search.__kwdefaults__,
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            limit=limit,
            kinds=kinds,
            metadata=metadata,
            after=after,
            before=before,
            as_of=as_of,
            context_window=context_window,
            recipe=recipe,
            asked_at=asked_at,
            layers=layers,
            archived=archived,
            valid_at=valid_at,
            include_quarantined=include_quarantined,
            min_trust=min_trust,
        )
        flt = self._filter(q)
        self._bind()
        results = self._ranked(
            q.text,
            flt,
            limit=q.limit or SEARCH_LIMIT,
            recipe=q.recipe,
            context_window=q.context_window,
            asked_at=q.asked_at or self.clock(),
        )
        if flt.as_of is None:
            recalled = self._recall([h.memory for h in results.hits])
            hits = tuple(
                h.model_copy(update={"memory": recalled.get(h.memory.id, h.memory)})
                for h in results.hits
            )
        else:
            hits = tuple(
                h.model_copy(update={"memory": as_seen(h.memory, flt.as_of)}) for h in results.hits
            )
        return results.model_copy(update={"hits": hits})

    def context(
        self,
        query: str | SearchQuery,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        budget_tokens: int = 1000,
        limit: int = CONTEXT_LIMIT,
        recipe: str | SearchRecipe = "hybrid",
        asked_at: datetime | str | None = None,
        after: datetime | str | None = None,
        before: datetime | str | None = None,
        profile: bool = True,
    ) -> Context:
        """A prompt-ready block for ``query``: profile, overview, facts, sessions and turns.

        Never longer than ``budget_tokens`` (``remem.text.tokens.count_tokens``);
        each line cites its memory id and date. Memories cited count as recalled. The
        profile and overview are the stored ones (``summarize``/``profile`` build them):
        assembling a context writes nothing but recall counts. A ``remem.SearchQuery`` may
        stand for the query and its keyword options (whose, ``limit``, ``recipe``,
        ``asked_at``, ``after``, ``before``); a context takes no other option.
        """
        if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int):
            raise InvalidInput("budget_tokens must be an integer")
        if budget_tokens < 16:
            raise InvalidInput("budget_tokens must be at least 16")
        q = as_query(
            query,
            Reads.context.__kwdefaults__,
            user_id=user_id,
            agent_id=agent_id,
            session_id=session_id,
            limit=limit,
            recipe=recipe,
            asked_at=asked_at,
            after=after,
            before=before,
        )
        only(q, CONTEXT_OPTIONS, "context")
        owner = q.user_id is not None or q.agent_id is not None
        person = self._scope(q.user_id, q.agent_id)
        stored = derived.find(self.store, person, "profile") if profile and owner else None
        items = digests.profile_items(stored)
        overview = (
            derived.find(self.store, person, "summary", digests.RUNNING_KEY) if owner else None
        )
        flt = self._filter(q, kinds=CONTEXT_KINDS)
        self._bind()
        results = self._ranked(
            q.text,
            flt,
            limit=q.limit or CONTEXT_LIMIT,
            recipe=q.recipe,
            asked_at=q.asked_at or self.clock(),
        )
        if flt.event_before is not None:  # only what was known before: no later digest
            items = [i for i in items if i.since < flt.event_before]
            if overview is not None and overview.recorded_at >= flt.event_before:
                overview = None
        found = [h.memory for h in results.hits if h.memory.metadata.get("summary") != "running"]
        block = build_context(
            q.text,
            budget_tokens,
            profile=items,
            overview=overview,
            memories=found,
            profile_trust=stored.trust if stored is not None else "trusted",
            marks=Marks(self.guard.enabled, {h.memory.id: h.flags for h in results.hits}),
        )
        by_id = {m.id: m for m in found}
        self._recall([by_id[i] for i in block.cited if i in by_id])
        return block

    def _ranked(
        self,
        text: str,
        flt: MemoryFilter,
        *,
        limit: int,
        recipe: SearchRecipe,
        asked_at: datetime,
        context_window: int = 0,
    ) -> SearchResults:
        """The recipe's ranking: hybrid search, and with ``llm_rerank`` one LLM call more."""
        # the guard's own LLM check (one call more) when it is on
        check = self.llm if self.guard.llm_check else None
        shared: dict[str, Any] = {
            "limit": limit,
            "recipe": recipe,
            "context_window": context_window,
            "asked_at": asked_at,
            "policy": self.policy,
            "guard": self.guard,
        }
        if not recipe.llm_rerank:
            return hybrid_search(self.store, self.embedder, text, flt, llm=check, **shared)
        if self.llm is None:
            raise InvalidInput(
                f"recipe {recipe.name!r} reranks with an LLM and none is configured: "
                "set REMEM_LLM_URL (and REMEM_LLM_MODEL) or pass Memory(llm=...)"
            )
        done = llm_search(self.store, self.embedder, self.llm, text, flt, guard_llm=check, **shared)
        if done.usage is not None:
            with self._usage_lock:
                self.llm_usage = add_usage(self.llm_usage, done.usage)
        return done.results

    def get(
        self,
        memory_id: str,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        version: int | None = None,
        as_of: datetime | str | None = None,
    ) -> MemoryRecord:
        """The current version, or a given ``version``, or the one believed at ``as_of``."""
        scope = self._scope(user_id, agent_id)
        check_id(memory_id, "memory id")
        when = to_utc(as_of, field="as_of")
        version = check_version(version)
        found = self.store.get_memory(memory_id, scope.tenant, version=version, as_of=when)
        if found is None or not scope.contains(found.scope):
            raise NotFound(f"no memory {memory_id}" + (f" version {version}" if version else ""))
        if version is None and when is None:
            return self._recall([found]).get(found.id, found)
        return as_seen(found, when)

    def history(self, memory_id: str, *, user_id: str | None = None) -> list[Event]:
        """Every operation on the memory, oldest first, each with the record as it was after the op."""
        scope = self._scope(user_id)
        events = self.store.events(scope.tenant, check_id(memory_id, "memory id"))
        if not events or not scope.contains(events[-1].scope):
            raise NotFound(f"no history for memory {memory_id}")
        return events

    def versions(self, memory_id: str) -> list[MemoryRecord]:
        """Every version of a memory, oldest first."""
        found = self.store.versions(check_id(memory_id, "memory id"), self.tenant)
        if not found:
            raise NotFound(f"no memory {memory_id}")
        return found

    def surrounding(self, memory_id: str, window: int = 2) -> list[Episode]:
        """The turns around the one a memory came from, for reading a hit in its conversation."""
        memory = self.get(memory_id)
        if not memory.provenance:
            return []
        episodes = self.store.get_episodes([memory.provenance[0]], self.tenant)
        return self.store.neighbours(episodes[0], window) if episodes else []

    def stats(self, *, user_id: str | None = None) -> dict[str, Any]:
        """Counts per kind and status, entities, the extraction queue, and this process's LLM use."""
        found = self.store.stats(self._scope(user_id))
        used = self.llm_usage
        found["llm"] = {
            "model": self.llm.model_id if self.llm else None,
            "calls": used.calls,
            "prompt_tokens": used.prompt_tokens,
            "completion_tokens": used.completion_tokens,
            "retries": used.retries,
        }
        return found

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
        after: datetime | str | None = None,
        before: datetime | str | None = None,
    ) -> Page:
        """Newest first, one page at a time; ``Page.next_offset`` is None on the last page.

        ``after`` / ``before`` keep memories whose event time (``valid_from``) is in
        ``[after, before)``, as ``search`` does.
        """
        statuses = (status,) if isinstance(status, str) else tuple(status)
        for s in statuses:
            if s not in STATUSES:
                raise InvalidInput(f"unknown status {s!r}; expected one of {', '.join(STATUSES)}")
        check_offset(offset)
        current = tuple(
            s for s in statuses if s in ("active", "archived", "quarantined", "poisoned")
        )
        ended = tuple(s for s in statuses if s not in current)
        flt = MemoryFilter(
            scope=self._scope(user_id, agent_id, session_id),
            kinds=check_kinds(kinds),
            statuses=current or ("active",),
            metadata=check_metadata_filter(metadata),
            layers=check_layers(layers),
            event_after=to_utc(after, field="after"),
            event_before=to_utc(before, field="before"),
        )
        if ended:
            raise InvalidInput(
                "list shows current memories; use history(id) for superseded or deleted ones"
            )
        items = self.store.list_memories(flt, limit=check_limit(limit), offset=offset)
        return Page(
            items=tuple(items), total=self.store.count_memories(flt), offset=offset, limit=limit
        )
