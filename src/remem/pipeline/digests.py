"""Derive and store a user's digests: session summaries, the running summary, the profile.

Reads what is stored, drafts with ``remem.pipeline.abstractive`` when an LLM is given and
``remem.pipeline.summaries`` (extractive) otherwise or when the LLM fails (the failure is
kept in the record's ``metadata.llm_error``), and writes with ``remem.pipeline.derived``
(a new version only when a digest changed).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from remem.errors import ProviderError
from remem.model import MemoryRecord, ProfileItem, Scope
from remem.pipeline import abstractive, derived, summaries
from remem.providers.embedder import Embedder
from remem.retention import learned_at
from remem.stores.base import MemoryFilter, Store, list_all

SESSION_KEY = {"summary": "session"}
RUNNING_KEY = {"summary": "running"}
T = TypeVar("T")
log = logging.getLogger("remem.summaries")


def _drafted(
    llm: Any, with_llm: Callable[[], T], offline: Callable[[], T]
) -> tuple[T, dict[str, Any]]:
    """The LLM's draft, or the extractive one (and why) when there is no LLM or it failed."""
    if llm is None:
        return offline(), {}
    try:
        return with_llm(), {"llm": llm.model_id}
    except ProviderError as exc:
        log.warning("LLM summary failed, kept an extractive one: %s", exc)
        return offline(), {"llm_error": str(exc)[:500]}


def _episodes(store: Store, scope: Scope) -> list[MemoryRecord]:
    return list_all(
        store, MemoryFilter(scope=scope, kinds=("episode",), statuses=("active", "archived"))
    )


def summarize_sessions(
    store: Store, embedder: Embedder, scope: Scope, now: datetime, llm: Any = None
) -> list[MemoryRecord]:
    """(Re)summarize every session in ``scope`` whose number of turns changed since its summary.

    A turn edited in place (same count) keeps the old summary until the session grows.
    """
    by_session: dict[Scope, list[MemoryRecord]] = defaultdict(list)
    for m in _episodes(store, scope):
        if m.scope.session_id is not None:
            by_session[m.scope].append(m)
    written = []
    for session, turns in by_session.items():
        old = derived.find(store, session, "summary", SESSION_KEY)
        if old is not None and old.metadata.get("turns") == len(turns):
            continue
        draft, how = _drafted(
            llm,
            partial(abstractive.session_summary, llm, turns),
            partial(summaries.session_summary, turns),
        )
        if draft is None:
            continue
        record, changed = derived.upsert(
            store,
            embedder,
            scope=session,
            kind="summary",
            text=draft.text,
            sources=draft.sources,
            key=SESSION_KEY,
            metadata={"method": draft.method, "turns": len(turns), **how},
            now=now,
            valid_from=min(learned_at(t) for t in turns),
            reason=f"summary of session {session.session_id}",
        )
        if changed:
            written.append(record)
    return written


def _user_scope(scope: Scope) -> Scope:
    return scope.model_copy(update={"session_id": None})


def update_running_summary(
    store: Store, embedder: Embedder, scope: Scope, now: datetime, llm: Any = None
) -> MemoryRecord | None:
    """Rewrite the user's running summary across their session summaries; None if unchanged."""
    user = _user_scope(scope)
    sessions = list_all(
        store,
        MemoryFilter(
            scope=user, kinds=("summary",), metadata=SESSION_KEY, statuses=("active", "archived")
        ),
    )
    old = derived.find(store, user, "summary", RUNNING_KEY)
    if old is not None and old.metadata.get("sessions_seen") == _fingerprint(sessions):
        return None  # no session summary changed since
    draft, how = _drafted(
        llm,
        lambda: abstractive.running_summary(llm, sessions),
        lambda: summaries.running_summary(sessions),
    )
    if draft is None:
        return None
    record, changed = derived.upsert(
        store,
        embedder,
        scope=user,
        kind="summary",
        text=draft.text,
        sources=draft.sources,
        key=RUNNING_KEY,
        metadata={
            "method": draft.method,
            "sessions": len(sessions),
            "sessions_seen": _fingerprint(sessions),
            **how,
        },
        now=now,
        valid_from=min((m.valid_from or m.recorded_at for m in sessions), default=None),
        reason="running summary",
    )
    return record if changed else None


def _fingerprint(records: Sequence[MemoryRecord]) -> list[str]:
    return sorted(f"{m.id}@{m.version}" for m in records)


def derive_insights(
    store: Store, embedder: Embedder, scope: Scope, now: datetime, llm: Any
) -> list[MemoryRecord]:
    """Insights across the user's session summaries (LLM only), in a bounded set of slots."""
    user = _user_scope(scope)
    sessions = list_all(
        store,
        MemoryFilter(scope=user, kinds=("summary",), metadata=SESSION_KEY, statuses=("active",)),
    )
    try:
        found = abstractive.insights(llm, sessions)
    except ProviderError as exc:
        log.warning("LLM insights failed: %s", exc)
        return []
    written = []
    for slot, (text, cited) in enumerate(found):
        record, changed = derived.upsert(
            store,
            embedder,
            scope=user,
            kind="insight",
            text=text,
            sources=cited,
            key={"insight_slot": slot},
            metadata={"method": "abstractive", "llm": llm.model_id},
            now=now,
            valid_from=now,
            reason="insight derived from session summaries",
        )
        if changed:
            written.append(record)
    return written


def _previous_versions(store: Store, facts: Sequence[MemoryRecord]) -> dict[str, MemoryRecord]:
    found = {}
    for f in facts:
        if f.version > 1:
            before = store.get_memory(f.id, f.scope.tenant, version=f.version - 1)
            if before is not None:
                found[f.id] = before
    return found


def refresh_profile(
    store: Store, embedder: Embedder, scope: Scope, now: datetime, llm: Any = None
) -> MemoryRecord:
    """Rebuild the profile of the user in ``scope`` from their facts and statements."""
    user = _user_scope(scope)
    current = ("active", "archived")
    facts = list_all(store, MemoryFilter(scope=user, kinds=("fact",), statuses=current))
    statements = list_all(
        store,
        MemoryFilter(scope=user, kinds=("episode",), metadata={"role": "user"}, statuses=current),
    )
    previous = _previous_versions(store, facts)
    items, how = _drafted(
        llm,
        lambda: abstractive.build_profile(llm, facts, previous, statements, now),
        lambda: summaries.build_profile(facts, previous, statements, now),
    )
    cited = {m.id: m for m in [*facts, *statements]}
    subject = user.user_id or user.agent_id or "this scope"
    record, _ = derived.upsert(
        store,
        embedder,
        scope=user,
        kind="profile",
        text=summaries.render_profile(subject, items),
        sources=[cited[i.memory_id] for i in items if i.memory_id in cited],
        key={},
        metadata={
            "method": "abstractive" if "llm" in how else "extractive",
            "items": [i.as_dict() for i in items],
            **how,
        },
        now=now,
        pinned=True,
        reason="profile refreshed",
    )
    return record


def profile_items(profile: MemoryRecord | None) -> list[ProfileItem]:
    if profile is None:
        return []
    return [ProfileItem.from_dict(x) for x in profile.metadata.get("items", [])]
