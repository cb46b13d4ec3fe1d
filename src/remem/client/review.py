"""What the review methods (docs/trust.md) send over HTTP: the quarantine and the lessons."""

from __future__ import annotations

from remem.client.wire import FLAGGED, Call, drop_none, list_of, model, segment
from remem.model import Flagged, MemoryRecord


class ReviewCalls:
    """``Memory.quarantined``, ``lessons``, ``release`` and ``forget_poisoned`` as calls."""

    def quarantined(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Call[list[Flagged]]:
        """Memories held in quarantine, newest first, each with why and since when."""
        return _flagged("/v1/quarantine", user_id, agent_id, limit, offset)

    def lessons(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Call[list[Flagged]]:
        """Memories confirmed as poisoned, newest first, with the reason given."""
        return _flagged("/v1/lessons", user_id, agent_id, limit, offset)

    def release(
        self,
        memory_id: str,
        *,
        reason: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> Call[MemoryRecord]:
        """Let a quarantined memory into search and context."""
        return _decision(memory_id, "release", reason, user_id, agent_id)

    def forget_poisoned(
        self,
        memory_id: str,
        *,
        reason: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
    ) -> Call[MemoryRecord]:
        """Confirm a memory as poisoned: never served again, kept as a lesson."""
        return _decision(memory_id, "forget", reason, user_id, agent_id)


def _flagged(
    path: str, user_id: str | None, agent_id: str | None, limit: int, offset: int
) -> Call[list[Flagged]]:
    params = drop_none({"user_id": user_id, "agent_id": agent_id, "limit": limit, "offset": offset})
    return Call("GET", path, list_of(FLAGGED), params)


def _decision(
    memory_id: str, verb: str, reason: str | None, user_id: str | None, agent_id: str | None
) -> Call[MemoryRecord]:
    body = drop_none({"reason": reason, "user_id": user_id, "agent_id": agent_id})
    path = f"/v1/quarantine/{segment(memory_id)}/{verb}"
    return Call("POST", path, model(MemoryRecord), json=body)
