"""Plain, immutable records: what remem stores and hands back.

Times are timezone-aware UTC. Event time (``valid_from``/``valid_to``,
``occurred_at``) says when something was true in the world; system time
(``recorded_at``/``expired_at``) says when remem believed it. Keeping both is
what makes ``as_of`` queries and exact history possible.

Provenance and trust (docs/trust.md): every memory records where it came from
(``Origin``) and how far it is believed (``Trust``), both fixed when it is written, from
the turn's role and the ``Writer``'s standing, never from what the text says.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remem._ids import new_id

Kind = Literal["episode", "fact", "summary", "profile", "insight"]
Status = Literal["active", "superseded", "archived", "deleted", "quarantined", "poisoned"]
Layer = Literal["working", "short", "long"]
ProfileSection = Literal["stable", "recent"]
ProfileChange = Literal["fact", "statement", "new", "updated", "ended"]
Op = Literal[
    "add",
    "update",
    "delete",
    "forget",
    "restore",
    "archive",
    "import",
    "pin",
    "invalidate",
    "reinforce",
    "quarantine",
    "release",
    "poisoned",
]

KINDS: tuple[str, ...] = ("episode", "fact", "summary", "profile", "insight")
STATUSES: tuple[str, ...] = (
    "active",
    "superseded",
    "archived",
    "deleted",
    "quarantined",
    "poisoned",
)
LAYERS: tuple[str, ...] = ("working", "short", "long")
ROLES: tuple[str, ...] = ("user", "assistant", "system", "tool")

#: Where a memory came from: a turn of that role, an import, or a derivation from other
#: memories (an extracted fact, a summary, the profile, an insight).
Origin = Literal["user", "assistant", "tool", "system", "import", "derived"]
ORIGINS: tuple[str, ...] = ("user", "assistant", "tool", "system", "import", "derived")
#: How far a memory is believed, lowest first. ``trusted``: the owner's own turns (and
#: system messages from a writer allowed to send them); ``unverified``: what the assistant
#: said, imports; ``untrusted``: tool and web results, anything an external writer sent.
Trust = Literal["untrusted", "unverified", "trusted"]
TRUST_LEVELS: tuple[str, ...] = ("untrusted", "unverified", "trusted")
WriterRole = Literal["owner", "external"]
WRITER_ROLES: tuple[str, ...] = ("owner", "external")


def lowest_trust(levels: Iterable[str]) -> Trust:
    """The lowest of ``levels`` (``trusted`` for none): a derivation is believed no more
    than the least believed of what it cites."""
    found = min(levels, key=TRUST_LEVELS.index, default="trusted")
    return found  # type: ignore[return-value]


def less_trusted(level: str, than: str) -> bool:
    """Whether trust ``level`` is below ``than``."""
    return TRUST_LEVELS.index(level) < TRUST_LEVELS.index(than)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Scope(_Record):
    """Who a record belongs to. ``tenant`` isolates organisations; the rest narrow within it."""

    tenant: str = "default"
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None

    @field_validator("tenant", "user_id", "agent_id", "session_id")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("scope fields must be non-empty strings when given")
        return value

    def contains(self, other: Scope) -> bool:
        """True when ``other`` lies inside this scope (unset fields here match anything)."""
        return self.tenant == other.tenant and all(
            mine is None or mine == theirs
            for mine, theirs in (
                (self.user_id, other.user_id),
                (self.agent_id, other.agent_id),
                (self.session_id, other.session_id),
            )
        )

    def label(self) -> str:
        parts = [f"{k}={v}" for k, v in self.model_dump().items() if v is not None]
        return ", ".join(parts)


class Writer(_Record):
    """Who writes through a ``Memory``, and so what its writes may claim.

    ``owner`` (the default) is the application speaking for its user: user turns it writes
    are the owner's own, trusted. ``external`` is anything else given a way in (a crawler,
    a webhook, another agent): all it writes is untrusted. ``system_turns`` lets the writer
    store ``role: "system"`` turns; off by default, since a system message is read as the
    operator's voice. The service gives each API key its own (``remem keys create``).
    """

    role: WriterRole = "owner"
    system_turns: bool = False


class Episode(_Record):
    """One raw turn exactly as it was said; the ground every derived memory cites."""

    id: str
    scope: Scope
    seq: int = Field(description="position of the turn within its session")
    role: str
    speaker: str | None = None
    content: str
    occurred_at: datetime
    recorded_at: datetime
    source: str = "api"
    metadata: dict[str, Any] = Field(default_factory=dict)
    trust: Trust = Field(
        default="unverified", description="from the role and the writer (remem.guard.policy)"
    )


class MemoryRecord(_Record):
    """One version of a memory. ``id`` is stable across versions; ``version`` counts from 1.

    Lifecycle state (``remem.pipeline.lifecycle``): ``layer`` is working (the session in
    progress), short or long term; ``stability`` is the Ebbinghaus strength in days (None until
    first recalled: then it follows from importance); ``access_count``/``last_accessed_at``
    count recalls; ``pinned`` memories never fade. None of it ever deletes anything.

    ``status`` "quarantined": kept, but out of search and context until reviewed
    (``Memory.release``); "poisoned": confirmed as an attack and kept only as a lesson
    (``Memory.forget_poisoned``), never served again.

    Provenance, fixed when written (docs/trust.md): ``origin`` is the role of the turn it
    holds, or ``derived`` for facts, summaries, the profile and insights (``import``: a
    record from an export that did not say); ``trust`` comes from the origin and the
    writer, and a derived memory takes the lowest trust of what it cites.
    """

    id: str
    version: int = 1
    scope: Scope
    kind: Kind
    text: str
    provenance: tuple[str, ...] = ()
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    recorded_at: datetime
    expired_at: datetime | None = None
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    access_count: int = 0
    last_accessed_at: datetime | None = None
    status: Status = "active"
    metadata: dict[str, Any] = Field(default_factory=dict)
    layer: Layer = "working"
    stability: float | None = Field(default=None, gt=0.0)
    pinned: bool = False
    origin: Origin = "import"
    trust: Trust = "unverified"


class Event(_Record):
    """An append-only entry of the operation log; ``payload`` is the record after the op."""

    id: str
    seq: int | None = None
    at: datetime
    op: Op
    memory_id: str
    version: int | None = None
    scope: Scope
    reason: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, op: str, memory: MemoryRecord, reason: str | None, at: datetime) -> Event:
        """The log entry for ``op`` on ``memory``, whose payload is the record after the op."""
        return cls(
            id=new_id("ev"),
            at=at,
            op=op,  # type: ignore[arg-type]
            memory_id=memory.id,
            version=memory.version,
            scope=memory.scope,
            reason=reason,
            payload=memory.model_dump(mode="json"),
        )


class Flagged(_Record):
    """A memory the guard holds back, why, and since when: in quarantine, or a lesson."""

    memory: MemoryRecord
    reason: str
    at: datetime


class Signal(_Record):
    """How one retriever ranked a hit: its rank (1 = best) and raw score."""

    rank: int
    score: float


class SearchHit(_Record):
    """One retrieved memory, how it was found (``signals``, ``boosts``) and what the guard
    says of it (``flags``: "quarantined", "disputed: ..."; empty when nothing)."""

    memory: MemoryRecord
    score: float
    signals: dict[str, Signal]
    boosts: dict[str, float] = Field(default_factory=dict)
    episode: Episode | None = None
    context: tuple[Episode, ...] = ()
    flags: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.memory.id

    @property
    def text(self) -> str:
        return self.memory.text

    def explain(self) -> str:
        parts = [f"{name} #{s.rank} ({s.score:.3f})" for name, s in self.signals.items()]
        parts += [f"{name} {amount:+.4f}" for name, amount in self.boosts.items()]
        flagged = "".join(f"; flagged {flag}" for flag in self.flags)
        source = f"; {self.memory.trust} ({self.memory.origin})"
        return f"fused {self.score:.4f} = " + " + ".join(parts) + source + flagged


class SearchResults(_Record):
    query: str
    hits: tuple[SearchHit, ...]
    abstained: bool = False
    reason: str | None = None
    time_window: tuple[datetime, datetime] | None = Field(
        default=None, description="event-time window the query named, resolved at asked_at"
    )

    def __iter__(self) -> Iterator[SearchHit]:  # type: ignore[override]
        """The hits, best first (a pydantic model would iterate its fields)."""
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, index: int) -> SearchHit:
        return self.hits[index]


class Entity(_Record):
    """A person, place, thing or idea that memories mention; one node of the knowledge graph.

    ``aliases`` are the normalised names that resolve to it ("ana", "ana silva").
    Entities belong to a user (``scope`` carries tenant and user only).
    """

    id: str
    scope: Scope
    name: str
    type: str = "other"
    aliases: tuple[str, ...] = ()
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)


class EntityLink(_Record):
    """One edge of the graph: memory ``memory_id`` mentions entity ``entity_id``.

    Only exports carry it as a record; ``scope`` names the tenant alone.
    """

    scope: Scope
    memory_id: str
    entity_id: str


class ExtractionJob(_Record):
    """Turns waiting for (or failed at) LLM extraction: the turn is stored, the facts are not yet.

    ``extracted`` keeps the validated extraction answer once the extraction call has
    succeeded, so a retry after a failed consolidation resumes there (no second
    extraction call, no different facts). ``retry_at``: a background worker leaves the
    job alone until then (backoff after a failed attempt). ``status`` "failed" means
    the job gave up: only ``Memory.retry_extraction`` runs it again.
    """

    id: str
    scope: Scope
    episode_ids: tuple[str, ...]
    status: Literal["pending", "failed"] = "pending"
    attempts: int = 0
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    extracted: dict[str, Any] | None = None
    retry_at: datetime | None = None


class FactDecision(_Record):
    """What consolidation did with one extracted fact, and why."""

    action: Literal["ADD", "UPDATE", "INVALIDATE", "NOOP"]
    text: str
    memory_id: str
    reason: str
    target_id: str | None = None


class LLMUsage(_Record):
    """LLM work one operation cost: requests sent, tokens reported, re-sends among them."""

    calls: int = 0
    extraction_calls: int = 0
    consolidation_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Extraction(_Record):
    """The knowledge an add produced: facts with their consolidation decisions, entities, cost.

    ``status`` is "done", "failed" (the turn is stored and queued: see
    ``Memory.retry_extraction``), "queued" (a background worker will extract it:
    ``Memory(extraction="background")``) or "offline" (no LLM: entities only).
    """

    status: Literal["done", "failed", "queued", "offline"]
    decisions: tuple[FactDecision, ...] = ()
    entities: tuple[Entity, ...] = ()
    usage: LLMUsage = Field(default_factory=LLMUsage)
    error: str | None = None
    job_id: str | None = None


class AddResult(_Record):
    episodes: tuple[Episode, ...]
    memories: tuple[MemoryRecord, ...]
    extraction: Extraction | None = None

    @property
    def facts(self) -> tuple[FactDecision, ...]:
        return self.extraction.decisions if self.extraction else ()

    @property
    def usage(self) -> LLMUsage:
        return self.extraction.usage if self.extraction else LLMUsage()


class Page(_Record):
    items: tuple[MemoryRecord, ...]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        nxt = self.offset + len(self.items)
        return nxt if nxt < self.total else None


class ContextLine(_Record):
    """One line of a prompt context and the memory it cites; ``marks`` are what the line
    says of how far it is believed ("unverified", "untrusted", "disputed"; none: the
    owner's own words)."""

    memory_id: str
    section: Literal["profile", "overview", "fact", "summary", "episode"]
    text: str
    tokens: int
    when: datetime | None = None
    marks: tuple[str, ...] = ()


class Context(_Record):
    """A prompt-ready block: profile, facts, summaries and turns, within a token budget.

    ``tokens`` is measured with ``remem.text.tokens.count_tokens`` and never exceeds
    ``budget_tokens``; every line cites the memory it comes from as ``[id]``.
    """

    query: str
    text: str
    tokens: int
    budget_tokens: int
    lines: tuple[ContextLine, ...]

    @property
    def cited(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(line.memory_id for line in self.lines))

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ProfileItem:
    """One line of the profile and the memory it comes from."""

    text: str
    memory_id: str
    section: ProfileSection
    since: datetime
    change: ProfileChange = "fact"
    previous: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "memory_id": self.memory_id,
            "section": self.section,
            "since": self.since.isoformat(),
            "change": self.change,
            "previous": self.previous,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProfileItem:
        return cls(
            text=data["text"],
            memory_id=data["memory_id"],
            section=data["section"],
            since=datetime.fromisoformat(data["since"]),
            change=data.get("change", "fact"),
            previous=data.get("previous"),
        )

    def render(self) -> str:
        day = self.since.date().isoformat()
        if self.change == "ended":
            return f"no longer true since {day}: {self.text}"
        if self.change == "updated":
            was = f" (was: {self.previous})" if self.previous else ""
            return f"changed {day}: {self.text}{was}"
        if self.change == "new":
            return f"new {day}: {self.text}"
        return f"{self.text} (since {day})"


@dataclass(frozen=True)
class MaintenanceReport:
    """What one ``maintain`` pass looked at and changed."""

    scanned: int
    archived: int
    moved: dict[str, int]
    layers: dict[str, int]
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "archived": self.archived,
            "moved": self.moved,
            "layers": self.layers,
            "at": self.at.isoformat(),
        }
