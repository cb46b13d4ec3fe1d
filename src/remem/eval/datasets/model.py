"""The neutral shape every loader produces: `Conversation` -> `Session` -> `Turn`, plus
`Question` with gold ids and HaluMem's gold `MemoryPoint`s."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Turn:
    """One message.  `id` is the unit that gold ids refer to."""

    id: str
    session_id: str
    role: str
    speaker: str | None
    text: str
    timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class MemoryPoint:
    """A gold memory point (HaluMem) that a session is expected to produce.

    `source` is HaluMem's ``memory_source`` ("system", "primary", "secondary",
    "interference", ...); the official extraction metrics skip "interference" points
    for recall and weight by `importance`.  `is_update` points carry the superseded
    facts in `original_memories`.
    """

    index: int
    session_id: str
    content: str
    type: str
    source: str | None
    is_update: bool
    original_memories: tuple[str, ...]
    timestamp: datetime | None
    importance: float | None


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    date: datetime | None
    turns: tuple[Turn, ...]
    summary: str | None = None
    memory_points: tuple[MemoryPoint, ...] = ()


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    answer: str
    category: str
    question_date: datetime | None
    gold_turn_ids: tuple[str, ...]
    gold_session_ids: tuple[str, ...]
    abstention: bool


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    sessions: tuple[Session, ...]
    questions: tuple[Question, ...]
    issues: tuple[str, ...] = ()
    """Non-fatal data problems found while loading (also logged as warnings)."""

    def turns(self) -> Iterator[Turn]:
        """All turns in order."""
        for session in self.sessions:
            yield from session.turns

    def session_of(self) -> dict[str, str]:
        """Map turn id -> session id."""
        return {turn.id: turn.session_id for turn in self.turns()}

    def memory_points(self) -> tuple[MemoryPoint, ...]:
        """All gold memory points in session order (HaluMem; empty elsewhere)."""
        return tuple(mp for s in self.sessions for mp in s.memory_points)
