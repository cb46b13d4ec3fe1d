"""Candidates for a query: BM25 over the text, cosine over the vectors, both under a filter.

Ranking several signals into one answer is policy (``remem.retrieval``); a store only
answers each signal, exactly or nearly so, within what ``MemoryFilter`` admits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from remem.model import MemoryRecord
from remem.stores.records import MemoryFilter


class SearchStore(Protocol):
    def text_search(
        self, terms: Sequence[str], flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        """BM25 over any of ``terms``; higher score is better."""
        ...

    def vector_search(
        self, vector: np.ndarray, flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        """Cosine similarity; higher is better."""
        ...
