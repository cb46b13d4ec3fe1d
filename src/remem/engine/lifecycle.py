"""Lifecycle: strength and layers (maintain, pin, retention), summaries and the profile."""

from __future__ import annotations

from datetime import datetime

from remem._time import to_utc
from remem.engine.background import BackgroundMaintenance
from remem.engine.core import Core
from remem.errors import InvalidInput
from remem.model import MaintenanceReport, MemoryRecord
from remem.pipeline import derived, digests, lifecycle
from remem.retention import retention as held


class Lifecycle(Core):
    def maintain(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        archive_below: float | None = None,
    ) -> MaintenanceReport:
        """Move memories between layers and archive those whose retention faded under the threshold.

        Archived memories stay stored: ``get``, ``list(status="archived")`` and
        ``search(archived=True)`` find them, and a recall restores them.
        """
        if archive_below is not None and not 0.0 <= archive_below <= 1.0:
            raise InvalidInput("archive_below must be between 0 and 1")
        scope = self._scope(user_id, agent_id)
        return lifecycle.maintain(
            self.store, scope, self.clock(), self.policy, archive_below=archive_below
        )

    def pin(
        self, memory_id: str, pinned: bool = True, *, user_id: str | None = None
    ) -> MemoryRecord:
        """A pinned memory never fades and is never archived; ``pinned=False`` lets it age again."""
        scope = self._scope(user_id)
        with self.store.transaction():
            found = self._current(memory_id, scope)
            if found.status in ("quarantined", "poisoned"):
                raise InvalidInput(
                    f"memory {memory_id} is {found.status}: review it first (release)"
                )
            return lifecycle.pin(self.store, found, pinned, self.clock())

    def maintain_in_background(
        self,
        every_s: float = 3600.0,
        *,
        user_id: str | None = None,
        archive_below: float | None = None,
    ) -> BackgroundMaintenance:
        """Start a daemon thread that runs ``maintain`` now and every ``every_s`` seconds.

        Returns the runner; call its ``stop()`` before closing this Memory.
        """
        return BackgroundMaintenance(
            lambda: self.maintain(user_id=user_id, archive_below=archive_below), every_s
        ).start()

    def retention(self, memory: MemoryRecord, at: datetime | str | None = None) -> float:
        """How strongly ``memory`` is held at ``at`` (default now), from 0 to 1."""
        return held(memory, to_utc(at, field="at") or self.clock(), self.policy)

    def summarize(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
    ) -> list[MemoryRecord]:
        """Summarize the sessions that changed, then the user's running summary and profile.

        With an LLM, also derives insights across sessions (each citing its sources).
        Returns the summaries and insights written (unchanged ones are not rewritten).
        """
        scope = self._scope(user_id, agent_id, session_id)
        self._bind()
        now = self.clock()
        llm = self.llm
        written = digests.summarize_sessions(self.store, self.embedder, scope, now, llm)
        if user_id is not None or agent_id is not None:
            running = digests.update_running_summary(self.store, self.embedder, scope, now, llm)
            if running is not None:
                written.append(running)
                if llm is not None:
                    written += digests.derive_insights(self.store, self.embedder, scope, now, llm)
            self.profile(user_id=user_id, agent_id=agent_id, refresh=True)
        return written

    def profile(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        refresh: bool = False,
    ) -> MemoryRecord:
        """The user's profile (kind ``profile``): stable facts and recent changes, each cited.

        Built on first use; ``refresh=True`` rebuilds it now. Updating or deleting a fact
        refreshes an existing profile by itself.
        """
        if user_id is None and agent_id is None:
            raise InvalidInput("a profile belongs to a user or an agent: give user_id or agent_id")
        scope = self._scope(user_id, agent_id)
        if not refresh:
            found = derived.find(self.store, scope, "profile")
            if found is not None:
                return found
        self._bind()
        return digests.refresh_profile(self.store, self.embedder, scope, self.clock(), self.llm)
