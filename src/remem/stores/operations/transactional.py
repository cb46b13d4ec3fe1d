"""What every concern that writes shares: one transaction around a caller's writes."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class Transactional(Protocol):
    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside commit together or not at all; nesting joins the outer one.

        Writes outside a transaction are refused (``StoreError``).
        """
        ...
