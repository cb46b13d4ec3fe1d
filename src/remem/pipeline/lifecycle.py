"""How memories age: Ebbinghaus strength, layers, reinforcement on recall, archiving.

Retention follows MemoryBank's forgetting curve ``R = exp(-dt / (S * scale[layer]))``:

- ``dt`` runs from when the memory was learned (a turn when it was said, anything else
  when it was written) or, once recalled, from its last recall: recall resets the clock;
- ``S``, the stability in days, starts higher for important memories and grows with every
  recall (spaced repetition: a recall when the memory had nearly faded helps the most);
- ``scale`` is the layer's decay rate (TradingGPT's layered memory): working memory (the
  session in progress) fades fastest, long-term memory slowest; pinned memories never fade.

Retention only ranks (``remem.retrieval.priors``) and decides what ``maintain`` archives;
nothing is ever deleted by decay, and a recalled archived memory comes back as active.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from remem.model import Event, MaintenanceReport, MemoryRecord, Scope
from remem.retention import (
    DEFAULT_POLICY,
    LifecyclePolicy,
    learned_at,
    reinforced,
    retention,
)
from remem.stores.base import LifecycleChange, MemoryFilter, Store, list_all


def _deserves_long(memory: MemoryRecord, recalls: int, policy: LifecyclePolicy) -> bool:
    return (
        memory.pinned
        or recalls >= policy.promote_recalls
        or memory.importance >= policy.promote_importance
    )


def _change(memory: MemoryRecord, recalled_at: datetime | None = None) -> LifecycleChange:
    return LifecycleChange(
        id=memory.id,
        version=memory.version,
        layer=memory.layer,
        stability=memory.stability,
        pinned=memory.pinned,
        status=memory.status,
        recalled_at=recalled_at,
    )


def recall(
    store: Store,
    memories: Iterable[MemoryRecord],
    now: datetime,
    policy: LifecyclePolicy = DEFAULT_POLICY,
) -> list[MemoryRecord]:
    """Count one recall of each current memory in one batched write; returns them updated.

    Each gets a stronger ``S`` and a reset clock; short-term ones that earned it move to
    long-term; archived ones are restored (one ``restore`` event each, the only events here).
    """
    seen: dict[tuple[str, str, int], MemoryRecord] = {}
    for m in memories:
        if m.expired_at is None and m.status in ("active", "archived"):
            seen.setdefault((m.scope.tenant, m.id, m.version), m)
    if not seen:
        return []
    updated: list[MemoryRecord] = []
    restored: list[Event] = []
    with store.transaction():
        # Computed from the rows as they are inside the write, not as the caller read them:
        # a pin or another recall that landed since is kept, not overwritten.
        for tenant in {t for t, _, _ in seen}:
            ids = tuple(dict.fromkeys(i for t, i, _ in seen if t == tenant))
            fresh = store.list_memories(
                MemoryFilter(scope=Scope(tenant=tenant), ids=ids, statuses=("active", "archived")),
                limit=len(ids),
                offset=0,
            )
            changes = []
            for m in fresh:
                if (tenant, m.id, m.version) not in seen:
                    continue  # a newer version was written since the read: not what was recalled
                layer = m.layer
                if layer == "short" and _deserves_long(m, m.access_count + 1, policy):
                    layer = "long"
                after = m.model_copy(
                    update={
                        "stability": reinforced(m, now, policy),
                        "layer": layer,
                        "status": "active",
                        "access_count": m.access_count + 1,
                        "last_accessed_at": now,
                    }
                )
                updated.append(after)
                changes.append(_change(after, recalled_at=now))
                if m.status == "archived":
                    restored.append(Event.of("restore", after, "recalled while archived", now))
            store.set_lifecycle(tenant, changes)
        if restored:
            store.append_events(restored)
    return updated


def _current(store: Store, scope: Scope) -> list[MemoryRecord]:
    return list_all(store, MemoryFilter(scope=scope, statuses=("active", "archived")))


def _newest_sessions(rows: Sequence[MemoryRecord]) -> dict[tuple[str | None, str | None], str]:
    """The session most recently spoken in, per user and agent: the one still in progress."""
    newest: dict[tuple[str | None, str | None], tuple[datetime, str]] = {}
    for m in rows:
        if m.scope.session_id is None:
            continue
        key = (m.scope.user_id, m.scope.agent_id)
        when = learned_at(m)
        if key not in newest or when > newest[key][0]:
            newest[key] = (when, m.scope.session_id)
    return {key: session for key, (_, session) in newest.items()}


def _next_state(
    m: MemoryRecord,
    now: datetime,
    newest: dict[tuple[str | None, str | None], str],
    policy: LifecyclePolicy,
    archive_below: float,
) -> MemoryRecord:
    layer = m.layer
    if layer == "working":
        last = max(m.last_accessed_at or learned_at(m), learned_at(m))
        superseded = (
            m.scope.session_id is not None
            and newest.get((m.scope.user_id, m.scope.agent_id)) != m.scope.session_id
        )
        if superseded or now - last >= policy.working_idle:
            layer = "long" if _deserves_long(m, m.access_count, policy) else "short"
    elif layer == "short" and _deserves_long(m, m.access_count, policy):
        layer = "long"
    status = m.status
    moved = m.model_copy(update={"layer": layer})
    if status == "active" and retention(moved, now, policy) < archive_below:
        status = "archived"
    return moved.model_copy(update={"status": status})


def maintain(
    store: Store,
    scope: Scope,
    now: datetime,
    policy: LifecyclePolicy = DEFAULT_POLICY,
    *,
    archive_below: float | None = None,
) -> MaintenanceReport:
    """One pass over the current memories in ``scope``: move layers, archive what faded.

    Runs in one transaction; every archived memory gets an ``archive`` event.
    """
    threshold = policy.archive_below if archive_below is None else archive_below
    with store.transaction():
        rows = _current(store, scope)
        newest = _newest_sessions(rows)
        changed: list[MemoryRecord] = []
        moved: dict[str, int] = {}
        layers: dict[str, int] = {}
        for m in rows:
            after = _next_state(m, now, newest, policy, threshold)
            layers[after.layer] = layers.get(after.layer, 0) + 1
            if after.layer != m.layer:
                step = f"{m.layer}->{after.layer}"
                moved[step] = moved.get(step, 0) + 1
            if after != m:
                changed.append(after)
        archived = [m for m in changed if m.status == "archived"]
        by_tenant: dict[str, list[LifecycleChange]] = {}
        for m in changed:
            by_tenant.setdefault(m.scope.tenant, []).append(_change(m))
        for tenant, changes in by_tenant.items():
            store.set_lifecycle(tenant, changes)
        store.append_events(
            [Event.of("archive", m, f"retention under {threshold:g}", now) for m in archived]
        )
    return MaintenanceReport(
        scanned=len(rows), archived=len(archived), moved=moved, layers=layers, at=now
    )


def pin(store: Store, memory: MemoryRecord, pinned: bool, now: datetime) -> MemoryRecord:
    """Pinned memories never fade and live in the long-term layer; unpinning keeps the layer."""
    after = memory.model_copy(
        update={
            "pinned": pinned,
            "layer": "long" if pinned else memory.layer,
            "status": "active" if pinned else memory.status,
        }
    )
    with store.transaction():
        store.set_lifecycle(memory.scope.tenant, [_change(after)])
        store.append_events([Event.of("pin", after, "pinned" if pinned else "unpinned", now)])
    return after
