"""What the conformance suite (``test_*.py`` here) builds its cases from: records, filters,
writes, and a dump as plain data.

Every test taking ``backend`` runs once on SQLite and once on PostgreSQL (marker
``postgres``); see ``conftest.py``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from remem import Memory
from remem.model import Episode, Event, MemoryRecord, Scope
from remem.stores import MemoryFilter, Store

if TYPE_CHECKING:
    from conftest import Backend


T0 = datetime(2026, 1, 1, tzinfo=UTC)
DIM = 8
U = Scope(tenant="t1", user_id="u1", session_id="s1")

CONVERSATION = [
    {"role": "user", "speaker": "Ana", "content": "I moved to Lisbon last March."},
    {"role": "assistant", "content": "Nice! How are you finding Portugal so far?"},
    {"role": "user", "speaker": "Ana", "content": "I adopted a golden retriever puppy named Max."},
    {"role": "assistant", "content": "Max sounds adorable. Dogs need lots of walks!"},
    {"role": "user", "speaker": "Ana", "content": "My sister Rita is a cardiologist in Porto."},
]
STAMPS = ["2026-05-02T10:00:00Z", "2026-05-02T10:00:05Z", "2026-05-02T10:01:00Z"]
STAMPS += ["2026-05-02T10:01:05Z", "2026-05-02T10:02:00Z"]
CONVERSATION = [{**m, "timestamp": t} for m, t in zip(CONVERSATION, STAMPS, strict=True)]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def vec(*xs: float) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(xs)] = xs
    return v / np.linalg.norm(v)


def episode(eid: str, seq: int, scope: Scope = U, content: str | None = None) -> Episode:
    return Episode(
        id=eid,
        scope=scope,
        seq=seq,
        role="user",
        content=content or f"turn {seq}",
        occurred_at=at(seq),
        recorded_at=at(seq),
        metadata={"n": seq},
    )


def record(mid: str, text: str, scope: Scope = U, **kw: Any) -> MemoryRecord:
    return MemoryRecord(id=mid, scope=scope, kind=kw.pop("kind", "fact"), text=text,
                        recorded_at=kw.pop("recorded_at", T0), **kw)  # fmt: skip


def event(mid: str, version: int | None = 1, scope: Scope = U, op: str = "add") -> Event:
    return Event(
        id=f"ev_{mid}_{op}_{version}",
        at=T0,
        op=op,  # type: ignore[arg-type]
        memory_id=mid,
        version=version,
        scope=scope,
        payload={"id": mid},
    )


def flt(scope: Scope = U, **kw: Any) -> MemoryFilter:
    return MemoryFilter(scope=scope, **kw)


def ids(hits: Sequence[Any]) -> list[str]:
    return [h[0].id if isinstance(h, tuple) else h.id for h in hits]


def bound(backend: Backend) -> Store:
    store = backend.store()
    store.bind_embedder("test-8d", DIM)
    return store


def write(store: Store, *rows: tuple[MemoryRecord, np.ndarray | None]) -> None:
    with store.transaction():
        store.insert_memories(list(rows))
        store.append_events([event(m.id, m.version, m.scope) for m, _ in rows])


def normalised(items: Sequence[tuple[str, Any]]) -> list[Any]:
    """A dump as plain data, without what legitimately differs between stores (event seq)."""
    out: list[Any] = []
    for kind, item in items:
        if kind in ("memory", "entity"):
            record, vector, *keys = item
            vector = None if vector is None else vector.tolist()
            out.append((kind, record.model_dump(mode="json"), vector, *keys))
        elif kind == "event":
            out.append((kind, item.model_dump(mode="json", exclude={"seq"})))
        else:
            out.append((kind, item.model_dump(mode="json")))
    return out


def export_lines(memory: Memory) -> list[dict[str, Any]]:
    out = io.StringIO()
    memory.export(out)
    # the header has a timestamp; the trailer's checksum covers bytes (seq, key order)
    lines = [json.loads(x) for x in out.getvalue().splitlines()[1:-1]]
    for line in lines:
        line.pop("seq", None)
    return lines


def filter_rows(store: Store) -> dict[str, MemoryRecord]:
    """Rows covering every filter dimension; the current time is far after all of them."""
    other_user = Scope(tenant="t1", user_id="u2", agent_id="a1", session_id="s9")
    other_tenant = Scope(tenant="t2", user_id="u1", session_id="s1")
    rows = {
        "plain": record("plain", "alpha fact", valid_from=at(10)),
        "episode": record("episode", "alpha turn", kind="episode", valid_from=at(20)),
        "agent": record("agent", "alpha agent", scope=other_user, valid_from=at(30)),
        "archived": record("archived", "alpha archived", status="archived", valid_from=at(40)),
        "timeless": record("timeless", "alpha timeless"),
        "tenant2": record("tenant2", "alpha elsewhere", scope=other_tenant, valid_from=at(10)),
        "old": record("changed", "alpha before", recorded_at=at(1), valid_from=at(50)),
        "deleted": record("deleted", "alpha deleted", recorded_at=at(1)),
    }
    write(store, *[(m, vec(1, i)) for i, m in enumerate(rows.values())])
    with store.transaction():
        store.end_version("changed", 1, "superseded", at(100), "t1")
        store.end_version("deleted", 1, "deleted", at(100), "t1")
    rows["new"] = record(
        "changed", "alpha after", version=2, recorded_at=at(100), valid_from=at(50)
    )
    write(store, (rows["new"], vec(1, 9)))
    return rows
