"""Re-embedding: every vector of the store computed again by another model, staged beside
the current ones, then switched to in one transaction.

Search reads the current vectors throughout; the new ones wait in staging (migration
7), which survives a crash, so a re-embedding stopped half-way continues where it
stopped. Which text gives each vector (a memory's text, an entity's name) is the
store's to say, since only it knows which rows have one; what embeds it is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from remem.stores.records import Reembedding, Unembedded


class ReembedStore(Protocol):
    def reembedding(self) -> Reembedding:
        """The embedder the vectors are of, the target of a re-embedding, and its progress
        (over every tenant: a store holds one embedding space)."""
        ...

    def begin_reembed(self, model_id: str, dimension: int) -> None:
        """Record the target; vectors staged for another target are dropped, those staged
        for this one kept (a re-run resumes)."""
        ...

    def unstaged(self, limit: int, after: Unembedded | None = None) -> list[Unembedded]:
        """Up to ``limit`` rows with a current vector and none staged, in key order
        (memories, then entities), past ``after`` (the last row of the previous page)."""
        ...

    def stage_vectors(self, rows: Sequence[tuple[Unembedded, np.ndarray]]) -> None:
        """Keep new vectors beside the current ones (inside ``transaction()``)."""
        ...

    def switch_embedder(self, embed: Callable[[Sequence[str]], np.ndarray]) -> int:
        """In one transaction: stage, with ``embed``, the rows written since their page was
        staged; put every staged vector in place of the current one; bind the store to the
        target. Writers wait meanwhile; readers see the old vectors until the commit.
        Returns how many rows were embedded here."""
        ...
